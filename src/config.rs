//! `etl.toml`: named environments with named connections, plus run-time limits.
//! Found by `--config`, `ETL_CONFIG`, or by walking up from the project (then the working
//! directory). `ETL_CONN_<NAME>` (from the environment, else `.env` beside the file) supplies
//! or overrides a connection; passwords come from there and are masked wherever a URL is shown.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

pub use crate::connectors::mask_url;
use crate::dotenv::DotEnv;
use crate::error::{EtlError, Result};
use crate::notify::config::{NotifyOverride, SmtpConfig, SmtpSection};

mod limits;
pub use limits::Limits;

pub const FILE_NAME: &str = "etl.toml";
const DEFAULT_ENV: &str = "dev";
/// The embedded default warehouse: works with no server and no configuration.
const DEFAULT_WAREHOUSE: &str = "sqlite://metadata/warehouse.db";
/// Schema of the audit table in PostgreSQL (DESIGN.md §4).
const DEFAULT_AUDIT_SCHEMA: &str = "etl";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    /// Environment used when neither `--env` nor `ETL_ENV` names one.
    default_env: Option<String>,
    /// Where logs/ and output/ go, relative to the config file.
    metadata_dir: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, EnvSection>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    audit: AuditSection,
    #[serde(default)]
    load: LoadSettings,
    /// `[smtp]`: the mail server for notifications (docs/operations.md#notifications).
    smtp: Option<SmtpSection>,
    /// `[schedule]`: defaults of `etl schedule`.
    #[serde(default)]
    schedule: ScheduleSettings,
    /// `[connections]`: timeouts and keepalive of every connection, unless its URL sets them.
    #[serde(default)]
    connections: ConnectionDefaults,
    #[serde(default)]
    security: SecuritySection,
    /// `[lineage]`: OpenLineage events (docs/operations.md#lineage).
    lineage: Option<crate::lineage::LineageSection>,
}

/// `[security]`: what scripts may reach besides the configured databases
/// (docs/operations.md#trust-model).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecuritySection {
    /// Folders, relative to this file, that every file a script reads or writes must be in.
    /// Unset: scripts are trusted with the whole file system.
    allowed_paths: Option<Vec<String>>,
}

/// `[connections]` (docs/operations.md#timeouts-and-keepalive): the same keys as the URL parameters.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionDefaults {
    statement_timeout: Option<String>,
    read_timeout: Option<String>,
    keepalives: Option<bool>,
    keepalives_idle: Option<String>,
}

impl ConnectionDefaults {
    fn timeouts(&self) -> std::result::Result<crate::connectors::Timeouts, String> {
        let mut t = crate::connectors::Timeouts::default();
        let keepalives = self.keepalives.map(|k| if k { "on" } else { "off" });
        for (key, value) in [
            ("statement_timeout", self.statement_timeout.as_deref()),
            ("read_timeout", self.read_timeout.as_deref()),
            ("keepalives_idle", self.keepalives_idle.as_deref()),
            ("keepalives", keepalives),
        ] {
            if let Some(v) = value {
                t.set(key, v).map_err(|e| format!("[connections] {e}"))?;
            }
        }
        Ok(t)
    }
}

/// `[schedule]`: defaults of `etl schedule` (docs/operations.md#the-scheduler).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSettings {
    /// Time zone of schedules whose project sets none (IANA name; default: the system's).
    pub timezone: Option<String>,
    /// Seconds running loads may take to finish after SIGTERM before they are cancelled.
    pub grace_seconds: Option<f64>,
}

/// `[load]`: how loads treat the warehouse's other users (docs/operations.md#loads).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadSettings {
    /// How long a full load's swap waits for other sessions' locks on the table each time it
    /// tries. Short, because every new reader of the table queues behind a waiting swap.
    pub swap_lock_timeout_seconds: f64,
    /// Tries before the load fails with the old table kept.
    pub swap_attempts: u32,
    /// How long a load waits for another load of the same table (any project) to finish.
    pub table_lock_timeout_seconds: f64,
}

impl Default for LoadSettings {
    fn default() -> Self {
        LoadSettings {
            swap_lock_timeout_seconds: 2.0,
            swap_attempts: 10,
            table_lock_timeout_seconds: 1800.0,
        }
    }
}

/// `[audit]`: where the audit table lives.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditSection {
    /// PostgreSQL schema of `etl_runs` (default `etl`; SQLite has no schemas).
    schema: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvSection {
    #[serde(default)]
    connections: BTreeMap<String, String>,
    /// `[env.NAME.smtp]`: fields that replace those of `[smtp]` in this environment.
    smtp: Option<SmtpSection>,
    /// `notify = false` or `[env.NAME.notify]`: overrides the projects' `notify` option.
    notify: Option<toml::Value>,
    /// `[env.NAME.storage.NAME]`: object-store settings of this environment.
    #[serde(default)]
    storage: BTreeMap<String, crate::connectors::files::StorageSection>,
}

#[derive(Clone, Debug)]
pub struct Config {
    /// The file read, if any.
    pub path: Option<PathBuf>,
    /// Relative paths in the config (sqlite files, metadata) resolve against this folder.
    pub base_dir: PathBuf,
    pub env: String,
    pub metadata_dir: PathBuf,
    pub limits: Limits,
    /// Schema of the audit table in PostgreSQL (`[audit] schema`, default `etl`).
    pub audit_schema: String,
    /// The mail server (`[smtp]` merged with `[env.NAME.smtp]`); None without a host.
    pub smtp: Option<SmtpConfig>,
    /// The environment's override of the projects' `notify` option.
    pub notify: Option<NotifyOverride>,
    /// `[schedule]`: defaults of `etl schedule`.
    pub schedule: ScheduleSettings,
    /// `[load]`: how loads wait for other sessions.
    pub load: LoadSettings,
    /// `[connections]`: timeouts and keepalive unless a connection's URL sets them.
    pub timeouts: crate::connectors::Timeouts,
    /// `[security] allowed_paths`, absolute: the folders script files must be in (None: any).
    pub allowed_paths: Option<Vec<PathBuf>>,
    /// `[lineage]`: where OpenLineage events go (None: nowhere).
    pub lineage: Option<crate::lineage::LineageConfig>,
    /// `[env.NAME.storage.NAME]` of the environment (see `Config::storage_for`).
    pub storage: BTreeMap<String, crate::connectors::files::StorageSection>,
    connections: BTreeMap<String, String>,
    env_names: Vec<String>,
    /// The variables of `.env` beside the configuration (see dotenv.rs).
    dotenv: Arc<DotEnv>,
}

impl Config {
    /// Loads the configuration for a project script. `explicit` is `--config` or `ETL_CONFIG`;
    /// `env` is `--env` (then `ETL_ENV`, then the file's `default_env`, then "dev").
    pub fn load(
        explicit: Option<&Path>,
        project_dir: Option<&Path>,
        env: Option<&str>,
    ) -> Result<Config> {
        let from_var = std::env::var_os("ETL_CONFIG").map(PathBuf::from);
        let path = match explicit.map(Path::to_path_buf).or(from_var) {
            Some(p) if p.is_file() => Some(p),
            Some(p) => {
                return Err(EtlError::Config(format!(
                    "config file {} does not exist",
                    p.display()
                )))
            }
            None => find_upwards(project_dir)
                .or_else(|| find_upwards(std::env::current_dir().ok().as_deref())),
        };
        let base_dir = match &path {
            Some(p) => absolute(p.parent().unwrap_or(Path::new("."))),
            None => absolute(Path::new(".")),
        };
        // Read into the configuration, not the environment (see dotenv.rs).
        let dotenv = DotEnv::read(&base_dir).map_err(EtlError::Config)?;
        for w in &dotenv.warnings {
            tracing::warn!("{w}");
        }
        let dotenv = Arc::new(dotenv.dotenv);

        let file: FileConfig = match &path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| EtlError::io(p, e))?;
                toml::from_str(&text)
                    .map_err(|e| EtlError::Config(format!("{}: {e}", p.display())))?
            }
            None => FileConfig::default(),
        };
        let env_name = env
            .map(str::to_string)
            .or_else(|| std::env::var("ETL_ENV").ok().filter(|s| !s.is_empty()))
            .or_else(|| {
                dotenv
                    .get("ETL_ENV")
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            })
            .or(file.default_env.clone())
            .unwrap_or_else(|| DEFAULT_ENV.to_string());
        let env_names: Vec<String> = file.env.keys().cloned().collect();
        if !file.env.is_empty() && !file.env.contains_key(&env_name) {
            return Err(EtlError::Config(format!(
                "environment '{env_name}' is not defined in {} (defined: {})",
                path.as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                env_names.join(", ")
            )));
        }
        let connections = file
            .env
            .get(&env_name)
            .map(|e| e.connections.clone())
            .unwrap_or_default();
        let (mut smtp, notify) = notify_settings(&file, &env_name, &base_dir)
            .map_err(|e| EtlError::Config(format!("{}: {e}", display(&path))))?;
        if let Some(smtp) = &mut smtp {
            smtp.password_from_dotenv = dotenv.secret(&smtp.password_env);
        }
        let metadata_dir = base_dir.join(file.metadata_dir.as_deref().unwrap_or("metadata"));
        file.limits
            .check()
            .map_err(|e| EtlError::Config(format!("{}: [limits] {e}", display(&path))))?;
        let audit_schema = match file.audit.schema {
            Some(s) if s.trim().is_empty() || s.len() > 63 => {
                return Err(EtlError::Config(format!(
                    "{}: [audit] schema must be a name of 1 to 63 bytes, not '{s}'",
                    path.as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                )))
            }
            Some(s) => s,
            None => DEFAULT_AUDIT_SCHEMA.to_string(),
        };
        let timeouts = file
            .connections
            .timeouts()
            .map_err(|e| EtlError::Config(format!("{}: {e}", display(&path))))?;
        let allowed_paths = file
            .security
            .allowed_paths
            .map(|dirs| dirs.iter().map(|d| base_dir.join(d)).collect());
        let lineage = file
            .lineage
            .map(|l| l.resolve(&base_dir))
            .transpose()
            .map_err(|e| EtlError::Config(format!("{}: {e}", display(&path))))?;
        let storage = file
            .env
            .get(&env_name)
            .map(|e| e.storage.clone())
            .unwrap_or_default();
        Ok(Config {
            storage,
            lineage,
            path,
            base_dir,
            env: env_name,
            metadata_dir,
            limits: file.limits,
            audit_schema,
            smtp,
            notify,
            schedule: file.schedule,
            load: file.load,
            timeouts,
            allowed_paths,
            connections,
            env_names,
            dotenv,
        })
    }

    /// The object-store settings for `url` (`[env.NAME.storage.NAME]`), credentials read from
    /// the variables they name.
    pub fn storage_for(
        &self,
        url: &str,
    ) -> std::result::Result<Option<crate::connectors::files::Storage>, String> {
        crate::connectors::files::storage_for(&self.storage, url, |name| self.var(name))
    }

    /// A variable of the environment, else of `.env` (the environment wins; an empty value
    /// counts as unset).
    pub fn var(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| {
                self.dotenv
                    .get(name)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            })
    }

    /// What connectors take from this file beyond a connection's URL.
    pub fn open_options(&self) -> crate::connectors::OpenOptions {
        let seconds = |v: f64, default: f64, max: f64| {
            std::time::Duration::from_secs_f64(if v.is_finite() {
                v.clamp(0.001, max)
            } else {
                default
            })
        };
        crate::connectors::OpenOptions {
            audit_schema: self.audit_schema.clone(),
            swap_lock_timeout: seconds(self.load.swap_lock_timeout_seconds, 2.0, 3600.0),
            swap_attempts: self.load.swap_attempts.max(1),
            timeouts: self.timeouts,
            table_lock_timeout: seconds(self.load.table_lock_timeout_seconds, 1800.0, 86400.0),
            env: self.dotenv.clone(),
        }
    }

    /// The URL of a named connection: `ETL_CONN_<NAME>` first, then the environment's entry,
    /// then the embedded default for "warehouse" when no etl.toml exists. Relative sqlite paths are made absolute.
    pub fn connection_url(&self, name: &str) -> Result<String> {
        let var = format!("ETL_CONN_{}", name.to_ascii_uppercase());
        let url = self
            .var(&var)
            .or_else(|| self.connections.get(name).cloned())
            // Only without any etl.toml: with one, a missing warehouse in `--env prod` must be
            // an error, not a quiet load into a local file.
            .or_else(|| {
                (name == "warehouse" && self.path.is_none()).then(|| DEFAULT_WAREHOUSE.to_string())
            })
            .ok_or_else(|| {
                let known: Vec<&str> = self.connections.keys().map(String::as_str).collect();
                EtlError::Config(format!(
                    "no connection named '{name}' in environment '{}' (known: {}); add it under \
                     [env.{}.connections] in {} or set {var}",
                    self.env,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    },
                    self.env,
                    self.path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| FILE_NAME.to_string()),
                ))
            })?;
        Ok(self.resolve_sqlite_path(&url))
    }

    pub fn connection_names(&self) -> Vec<String> {
        self.connections.keys().cloned().collect()
    }

    pub fn env_names(&self) -> &[String] {
        &self.env_names
    }

    fn resolve_sqlite_path(&self, url: &str) -> String {
        match url.strip_prefix("sqlite://") {
            Some(rest) if !rest.starts_with('/') && rest != ":memory:" => {
                format!("sqlite://{}", self.base_dir.join(rest).display())
            }
            _ => url.to_string(),
        }
    }
}

/// The mail server and the `notify` override of environment `env`.
fn notify_settings(
    file: &FileConfig,
    env: &str,
    base_dir: &Path,
) -> std::result::Result<(Option<SmtpConfig>, Option<NotifyOverride>), String> {
    let section = file.env.get(env);
    let global = file.smtp.clone().unwrap_or_default();
    let smtp = match section.and_then(|e| e.smtp.as_ref()) {
        Some(over) => global.merged(over),
        None => global,
    };
    let notify = section
        .and_then(|e| e.notify.as_ref())
        .map(|v| NotifyOverride::from_toml(v, &format!("[env.{env}] notify")))
        .transpose()?;
    Ok((smtp.resolve(base_dir)?, notify))
}

fn display(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| FILE_NAME.to_string())
}

fn find_upwards(start: Option<&Path>) -> Option<PathBuf> {
    let start = absolute(start?);
    start
        .ancestors()
        .map(|d| d.join(FILE_NAME))
        .find(|p| p.is_file())
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_environments_and_resolves_sqlite_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            "default_env = \"dev\"\n[env.dev.connections]\nwarehouse = \"sqlite://metadata/w.db\"\n\
             [env.prod.connections]\nwarehouse = \"postgres://etl@dw/warehouse\"\n",
        )
        .unwrap();
        let dev = Config::load(None, Some(dir.path()), Some("dev")).unwrap();
        let url = dev.connection_url("warehouse").unwrap();
        assert!(
            url.starts_with("sqlite:///") && url.ends_with("metadata/w.db"),
            "{url}"
        );
        let prod = Config::load(None, Some(dir.path()), Some("prod")).unwrap();
        assert_eq!(
            prod.connection_url("warehouse").unwrap(),
            "postgres://etl@dw/warehouse"
        );
        let err = prod.connection_url("shop").unwrap_err().to_string();
        assert!(
            err.contains("no connection named 'shop'") && err.contains("ETL_CONN_SHOP"),
            "{err}"
        );
        let err = Config::load(None, Some(dir.path()), Some("qa"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("environment 'qa' is not defined"), "{err}");
    }

    #[test]
    fn connections_section_sets_timeouts_of_every_connection() {
        use std::time::Duration;
        let dir = tempfile::tempdir().unwrap();
        let write = |text: &str| std::fs::write(dir.path().join(FILE_NAME), text).unwrap();
        write("[env.dev.connections]\n");
        let c = Config::load(None, Some(dir.path()), Some("dev")).unwrap();
        assert_eq!(
            c.open_options().timeouts,
            crate::connectors::Timeouts::default()
        );
        write(
            "[connections]\nstatement_timeout = \"2h\"\nread_timeout = \"10min\"\n\
             keepalives_idle = \"30s\"\n[env.dev.connections]\n",
        );
        let t = Config::load(None, Some(dir.path()), Some("dev"))
            .unwrap()
            .open_options()
            .timeouts;
        assert_eq!(t.statement, Some(Duration::from_secs(7200)));
        assert_eq!(t.read, Some(Duration::from_secs(600)));
        assert_eq!(t.keepalive_idle, Some(Duration::from_secs(30)));
        write("[connections]\nkeepalives = false\n");
        let t = Config::load(None, Some(dir.path()), Some("dev"))
            .unwrap()
            .timeouts;
        assert_eq!(t.keepalive_idle, None);
        write("[connections]\nstatement_timeout = \"30\"\n");
        let err = Config::load(None, Some(dir.path()), Some("dev"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("etl.toml")
                && err.contains("[connections] statement_timeout needs a unit"),
            "{err}"
        );
    }
}
