//! What the script API reaches: configuration, the project's folder, the async runtime, the
//! definitions collected while the script's top level runs, and the run's open connections.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use crate::config::{Config, Limits};
use crate::connectors::{registry, Connection, Io};
use crate::error::{EtlError, Result};
use crate::runmode::RunMode;

use super::factory::Definitions;
use super::paths::Fence;
use super::record::Recorder;

/// Open connections by name, as their connectors made them (before a run mode wraps them).
/// `etl watch` hands one map from each compiled project to the next, so connections and
/// pools stay open across reloads.
pub type SharedConnections = Arc<Mutex<HashMap<String, Connection>>>;

/// What a host does beyond a plain run; the default is a plain run (`etl exec`).
#[derive(Default)]
pub struct HostOptions {
    /// Connections opened by an earlier host of the same configuration.
    pub connections: Option<SharedConnections>,
    /// Dry run, sample run or plan: what the connections scripts get cannot do.
    pub mode: RunMode,
    /// Records the files each task reads and the loads it makes (`etl watch`).
    pub recorder: Option<Arc<Recorder>>,
    /// `etl check --offline`: introspection (`conn.tables()`) connects to nothing and finds
    /// nothing, and the host notes which connections the task list depends on.
    pub offline: bool,
}

/// `Check` evaluates the script without touching any database; `Run` executes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Check,
    Run,
}

/// Script texts by source name, for rendering error snippets, and which file each
/// `import` resolved to.
#[derive(Default)]
pub struct Sources {
    texts: RwLock<HashMap<String, Arc<str>>>,
    modules: RwLock<HashMap<String, String>>,
}

impl Sources {
    pub fn add(&self, name: &str, text: &str) {
        self.texts
            .write()
            .expect("sources lock")
            .insert(name.to_string(), Arc::from(text));
    }

    pub fn text(&self, name: &str) -> Option<Arc<str>> {
        self.texts.read().expect("sources lock").get(name).cloned()
    }

    pub fn register_module(&self, import: &str, source: &str) {
        self.modules
            .write()
            .expect("sources lock")
            .insert(import.to_string(), source.to_string());
    }

    pub fn resolve_module(&self, import: &str) -> Option<String> {
        self.modules
            .read()
            .expect("sources lock")
            .get(import)
            .cloned()
    }

    /// Every registered source name with its text.
    pub fn all(&self) -> Vec<(String, Arc<str>)> {
        let mut out: Vec<(String, Arc<str>)> = self
            .texts
            .read()
            .expect("sources lock")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

pub struct Host {
    /// Whether connections may be opened at all (`etl check` opens none).
    pub phase: Mode,
    pub config: Config,
    /// The project script, absolute.
    pub script: PathBuf,
    pub project_dir: PathBuf,
    pub io: Io,
    pub sources: Arc<Sources>,
    pub(crate) defs: Mutex<Definitions>,
    connections: SharedConnections,
    /// The connections of this host, wrapped for its run mode.
    wrapped: Mutex<HashMap<String, Arc<Connection>>>,
    pub mode: RunMode,
    pub recorder: Option<Arc<Recorder>>,
    /// `[limits]` changed by the project's `limits` option, once `project()` declared it.
    project_limits: OnceLock<Limits>,
    /// `[security] allowed_paths`: the folders script files must be in (None: anywhere).
    pub fence: Option<Fence>,
    /// What `run_backfill()` calls; set only by `etl exec`, so elsewhere it is refused.
    pub backfiller: OnceLock<Arc<dyn Backfiller>>,
    /// `--offline`: see `HostOptions::offline`.
    offline: bool,
    /// Connections introspected while the top level ran, for `etl check` to say so.
    introspected: Mutex<Vec<String>>,
}

/// A backfill of another project, as `run_backfill()` asks for it.
#[derive(Clone, Debug)]
pub struct BackfillRequest {
    /// The project's folder under the same `projects/` as this script.
    pub project: String,
    pub from: String,
    pub to: String,
    pub days: u32,
    pub tasks: Vec<String>,
    pub resume: bool,
    pub keep_going: bool,
    /// The calling run writes nothing (`--dry-run`): the backfill only lists its windows.
    pub dry_run: bool,
}

/// The `etl backfill` command as the script layer sees it: the command lives above the script
/// layer (which must not import commands), so `etl exec` hands its implementation in.
pub trait Backfiller: Send + Sync {
    /// Runs the backfill to its end; `Err` says what failed and what to do.
    fn backfill(&self, request: BackfillRequest) -> Result<(), String>;
}

impl Host {
    pub fn new(mode: Mode, config: Config, script: &Path, io: Io) -> Arc<Host> {
        Host::with_options(mode, config, script, io, HostOptions::default())
    }

    pub fn with_options(
        mode: Mode,
        config: Config,
        script: &Path,
        io: Io,
        options: HostOptions,
    ) -> Arc<Host> {
        let script = std::path::absolute(script).unwrap_or_else(|_| script.to_path_buf());
        let project_dir = script
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let fence = Fence::from_config(&config, &project_dir);
        // Lineage events name what each task read and loaded: the recorder notes it.
        let recorder = options.recorder.or_else(|| {
            config
                .lineage
                .is_some()
                .then(|| Arc::new(Recorder::default()))
        });
        Arc::new(Host {
            fence,
            phase: mode,
            config,
            script,
            project_dir,
            io,
            sources: Arc::new(Sources::default()),
            defs: Mutex::new(Definitions::default()),
            connections: options.connections.unwrap_or_default(),
            wrapped: Mutex::new(HashMap::new()),
            mode: options.mode,
            // Lineage events name what each task read and loaded: the recorder notes it.
            recorder,
            project_limits: OnceLock::new(),
            backfiller: OnceLock::new(),
            offline: options.offline,
            introspected: Mutex::new(Vec::new()),
        })
    }

    /// The limits of the project's tasks: etl.toml's `[limits]`, changed by the project's
    /// `limits` option.
    pub fn limits(&self) -> &Limits {
        self.project_limits.get().unwrap_or(&self.config.limits)
    }

    /// Called once, by `project()`.
    pub(crate) fn set_project_limits(&self, limits: Limits) {
        let _ = self.project_limits.set(limits);
    }

    /// What the script API reaches the async core with: inside a task, an `Io` that stops with
    /// the task's attempt (its `timeout`) as well as with the run; elsewhere the run's.
    pub fn task_io(&self) -> Io {
        match crate::context::current_task().and_then(|t| t.cancel.clone()) {
            Some(cancel) => Io {
                handle: self.io.handle.clone(),
                cancel,
            },
            None => self.io.clone(),
        }
    }

    /// The open connections, to hand to the next host of the same configuration.
    pub fn shared_connections(&self) -> SharedConnections {
        self.connections.clone()
    }

    /// Notes that the current task read `path` (a SQL file, a CSV file, a module), for
    /// `etl watch` to re-run it when that file changes.
    pub fn record_input(&self, path: &Path) {
        if let Some(r) = &self.recorder {
            r.input(path);
        }
    }

    /// The source name of the main script (its path as given on the command line resolves to
    /// this absolute path; errors print it relative to the working directory).
    pub fn script_name(&self) -> String {
        self.script.display().to_string()
    }

    /// A path written in the script, resolved against the project's folder.
    pub fn resolve_path(&self, p: &str) -> PathBuf {
        let path = Path::new(p);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.project_dir.join(path)
        }
    }

    /// A file a script names (`csv_file`, `run_file`, an attachment), resolved against the
    /// project's folder; under `[security] allowed_paths`, as the file system resolves it, and
    /// refused outside the allowed folders.
    pub fn script_file(&self, p: &str) -> std::result::Result<PathBuf, String> {
        let path = self.resolve_path(p);
        match &self.fence {
            None => Ok(path),
            Some(fence) => {
                let output = crate::context::current_task().map(|t| t.run.output_dir.clone());
                fence.check(&path, output.as_deref())
            }
        }
    }

    /// Checks that the connection is configured with a URL some connector opens (without
    /// connecting).
    pub fn check_connection(&self, name: &str) -> Result<()> {
        let url = self.config.connection_url(name)?;
        registry::connector_for(name, &url).map(|_| ())
    }

    /// The connection `name` for introspection (`tables`, `columns`, `primary_key`). Catalog
    /// reads write nothing, so every command may make them, `etl check` and the launcher
    /// exports included: a script whose task list comes from a source's tables then defines
    /// the same tasks under every command. None under `--offline`.
    pub fn catalog_connection(&self, name: &str) -> Result<Option<Arc<Connection>>> {
        if self.phase == Mode::Check {
            {
                let mut seen = self.introspected.lock().expect("introspected lock");
                if !seen.iter().any(|n| n == name) {
                    seen.push(name.to_string());
                }
            }
            if self.offline {
                return Ok(None);
            }
            return self.open_raw(name).map(|c| Some(Arc::new(c)));
        }
        self.connection(name).map(Some)
    }

    /// The connections introspected while the top level ran (`etl check` reports them).
    pub fn introspected(&self) -> Vec<String> {
        self.introspected.lock().expect("introspected lock").clone()
    }

    /// Whether introspection finds nothing (`etl check --offline`).
    pub fn offline(&self) -> bool {
        self.offline
    }

    fn open_raw(&self, name: &str) -> Result<Connection> {
        let mut conns = self.connections.lock().expect("connections lock");
        if let Some(c) = conns.get(name) {
            return Ok(c.clone());
        }
        let url = self.config.connection_url(name)?;
        let c = registry::open(name, &url, &self.config.open_options())?;
        tracing::debug!(connection = name, at = %c.describe, "Opened connection.");
        conns.insert(name.to_string(), c.clone());
        Ok(c)
    }

    /// The run's connection by name, opened on first use and shared by every task, as this
    /// host's run mode lets scripts use it.
    pub fn connection(&self, name: &str) -> Result<Arc<Connection>> {
        if self.phase == Mode::Check {
            return Err(EtlError::Other(format!(
                "connection '{name}' is not opened during `etl check`: database work belongs inside a task"
            )));
        }
        let mut wrapped = self.wrapped.lock().expect("connections lock");
        if let Some(c) = wrapped.get(name) {
            return Ok(c.clone());
        }
        let raw = self.open_raw(name)?;
        let conn = Arc::new(self.mode.connection(raw));
        wrapped.insert(name.to_string(), conn.clone());
        Ok(conn)
    }
}
