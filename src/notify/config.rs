//! The `[smtp]` and `notify` settings of `etl.toml`: the mail server (global, with per-field
//! overrides in `[env.NAME.smtp]`) and an environment's override of the projects' `notify`
//! option (`[env.NAME] notify = false` or `[env.NAME.notify] email = [...]`).
//!
//! The SMTP password is never part of the file: `password_env` names the environment
//! variable that holds it, read only when a message is sent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// How the connection to the mail server is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain SMTP (a relay on localhost, a test server).
    None,
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte ("SMTPS", port 465).
    Tls,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::None => "none",
            TlsMode::Starttls => "starttls",
            TlsMode::Tls => "tls",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::None => 25,
            TlsMode::Starttls => 587,
            TlsMode::Tls => 465,
        }
    }
}

/// `[smtp]` (and `[env.NAME.smtp]`) as written: every field optional so an environment can
/// override single fields of the global section.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSection {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub tls: Option<TlsMode>,
    pub user: Option<String>,
    pub from: Option<String>,
    /// Name of the environment variable holding the password (default `ETL_SMTP_PASSWORD`).
    pub password_env: Option<String>,
    /// Seconds for connecting and for each SMTP command.
    pub timeout: Option<f64>,
    /// Further attempts after a failed one (temporary failures only).
    pub retries: Option<u32>,
    /// Seconds before the first retry; doubles for each further one.
    pub retry_delay: Option<f64>,
    /// Total size of the files attached to one message; files over it are listed instead.
    pub attach_max_bytes: Option<u64>,
    /// A PEM file of extra root certificates (an internal CA), relative to etl.toml's folder.
    pub ca_file: Option<String>,
}

impl SmtpSection {
    /// This section with the fields `over` sets replaced.
    pub fn merged(&self, over: &SmtpSection) -> SmtpSection {
        SmtpSection {
            host: over.host.clone().or_else(|| self.host.clone()),
            port: over.port.or(self.port),
            tls: over.tls.or(self.tls),
            user: over.user.clone().or_else(|| self.user.clone()),
            from: over.from.clone().or_else(|| self.from.clone()),
            password_env: over
                .password_env
                .clone()
                .or_else(|| self.password_env.clone()),
            timeout: over.timeout.or(self.timeout),
            retries: over.retries.or(self.retries),
            retry_delay: over.retry_delay.or(self.retry_delay),
            attach_max_bytes: over.attach_max_bytes.or(self.attach_max_bytes),
            ca_file: over.ca_file.clone().or_else(|| self.ca_file.clone()),
        }
    }

    /// The effective settings; None when no host is configured (mail is then not sent).
    /// `base_dir` (etl.toml's folder) anchors a relative `ca_file`.
    pub fn resolve(&self, base_dir: &Path) -> Result<Option<SmtpConfig>, String> {
        let Some(host) = self.host.clone().filter(|h| !h.trim().is_empty()) else {
            return Ok(None);
        };
        let tls = self.tls.unwrap_or_default();
        let seconds = |what: &str, v: Option<f64>, default: f64| -> Result<Duration, String> {
            let v = v.unwrap_or(default);
            if !(0.0..=3600.0).contains(&v) || (what == "timeout" && v == 0.0) {
                return Err(format!(
                    "[smtp] {what} must be a number of seconds between 0 and 3600, not {v}"
                ));
            }
            Ok(Duration::from_secs_f64(v))
        };
        let retries = self.retries.unwrap_or(2);
        if retries > 10 {
            return Err(format!("[smtp] retries must be 0 to 10, not {retries}"));
        }
        let user = self.user.clone().filter(|u| !u.is_empty());
        Ok(Some(SmtpConfig {
            host,
            port: self.port.unwrap_or(tls.default_port()),
            tls,
            from: self
                .from
                .clone()
                .or_else(|| user.clone().filter(|u| u.contains('@'))),
            password_env: self
                .password_env
                .clone()
                .unwrap_or_else(|| DEFAULT_PASSWORD_ENV.to_string()),
            user,
            timeout: seconds("timeout", self.timeout, 10.0)?,
            retries,
            retry_delay: seconds("retry_delay", self.retry_delay, 1.0)?,
            attach_max_bytes: self.attach_max_bytes.unwrap_or(DEFAULT_ATTACH_MAX_BYTES),
            ca_file: self.ca_file.as_ref().map(|f| base_dir.join(f)),
            password_from_dotenv: None,
        }))
    }
}

pub const DEFAULT_PASSWORD_ENV: &str = "ETL_SMTP_PASSWORD";
/// 10 MiB of attachments per message.
pub const DEFAULT_ATTACH_MAX_BYTES: u64 = 10 * 1024 * 1024;

/// The mail server, resolved. Holds no secret: the password is read from `password_env`
/// when a message is sent.
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// Login name; without it no authentication is attempted.
    pub user: Option<String>,
    /// The sender; defaults to `user` when that is an address.
    pub from: Option<String>,
    pub password_env: String,
    pub timeout: Duration,
    pub retries: u32,
    pub retry_delay: Duration,
    pub attach_max_bytes: u64,
    /// Extra trusted root certificates (PEM) besides the built-in Mozilla roots.
    pub ca_file: Option<PathBuf>,
    /// `password_env` as `.env` gives it (the environment wins when it has the variable).
    pub password_from_dotenv: Option<crate::dotenv::Secret>,
}

impl SmtpConfig {
    /// `host:port (tls mode)` for messages; never the password.
    pub fn describe(&self) -> String {
        format!("{}:{} ({})", self.host, self.port, self.tls.as_str())
    }
}

/// An environment's override of the projects' `notify` option.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotifyOverride {
    /// `notify = false` / `true`, or `enabled = ...` in the table.
    pub enabled: Option<bool>,
    /// Replaces the project's recipients.
    pub email: Option<Vec<String>>,
    /// Replaces the project's `on` list.
    pub on: Option<Vec<String>>,
    /// Replaces the project's `attach`.
    pub attach: Option<bool>,
}

impl NotifyOverride {
    /// Reads `notify = <bool>` or a `[env.NAME.notify]` table; `what` names it in errors.
    pub fn from_toml(value: &toml::Value, what: &str) -> Result<NotifyOverride, String> {
        match value {
            toml::Value::Boolean(b) => Ok(NotifyOverride {
                enabled: Some(*b),
                ..NotifyOverride::default()
            }),
            toml::Value::Table(t) => {
                let mut o = NotifyOverride::default();
                for (key, v) in t {
                    match key.as_str() {
                        "enabled" => o.enabled = Some(bool_of(v, what, key)?),
                        "attach" => o.attach = Some(bool_of(v, what, key)?),
                        "email" => o.email = Some(strings_of(v, what, key)?),
                        "on" => {
                            let on = strings_of(v, what, key)?;
                            for s in &on {
                                super::settings::Outcome::parse(s)
                                    .map_err(|e| format!("{what}: on: {e}"))?;
                            }
                            o.on = Some(on);
                        }
                        other => {
                            return Err(format!(
                                "{what}: unknown key '{other}' (valid keys: enabled, email, on, attach)"
                            ))
                        }
                    }
                }
                Ok(o)
            }
            other => Err(format!(
                "{what} must be true, false or a table with email/on/attach/enabled, not {}",
                other.type_str()
            )),
        }
    }
}

fn bool_of(v: &toml::Value, what: &str, key: &str) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| format!("{what}: {key} must be true or false"))
}

fn strings_of(v: &toml::Value, what: &str, key: &str) -> Result<Vec<String>, String> {
    match v {
        toml::Value::String(s) => Ok(vec![s.clone()]),
        toml::Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{what}: {key} must be a list of strings"))
            })
            .collect(),
        _ => Err(format!("{what}: {key} must be a list of strings")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_fields_override_the_global_section() {
        let global: SmtpSection =
            toml::from_str("host = \"mail\"\ntls = \"tls\"\nuser = \"etl@x.org\"").unwrap();
        let dev: SmtpSection = toml::from_str("host = \"localhost\"\ntls = \"none\"").unwrap();
        let c = global
            .merged(&dev)
            .resolve(Path::new("/etc/etl"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.tls),
            ("localhost", 25, TlsMode::None)
        );
        assert_eq!(c.from.as_deref(), Some("etl@x.org"));
        assert_eq!(c.password_env, DEFAULT_PASSWORD_ENV);
        assert!(SmtpSection::default()
            .resolve(Path::new("."))
            .unwrap()
            .is_none());
        let bad: SmtpSection = toml::from_str("host = \"m\"\ntimeout = 0").unwrap();
        assert!(bad.resolve(Path::new(".")).unwrap_err().contains("timeout"));
        let ca: SmtpSection = toml::from_str("host = \"m\"\nca_file = \"ca.pem\"").unwrap();
        let ca = ca.resolve(Path::new("/etc/etl")).unwrap().unwrap();
        assert_eq!(ca.ca_file, Some(PathBuf::from("/etc/etl/ca.pem")));
        assert!(toml::from_str::<SmtpSection>("tls = \"ssl\"").is_err());
    }

    #[test]
    fn notify_override_is_a_switch_or_a_table() {
        let off = NotifyOverride::from_toml(&toml::Value::Boolean(false), "n").unwrap();
        assert_eq!(off.enabled, Some(false));
        let t: toml::Value = toml::from_str("email = \"a@b.c\"\non = [\"success\"]").unwrap();
        let o = NotifyOverride::from_toml(&t, "n").unwrap();
        assert_eq!(o.email, Some(vec!["a@b.c".to_string()]));
        let t: toml::Value = toml::from_str("on = [\"sometimes\"]").unwrap();
        assert!(NotifyOverride::from_toml(&t, "n").is_err());
        let t: toml::Value = toml::from_str("mail = []").unwrap();
        assert!(NotifyOverride::from_toml(&t, "n")
            .unwrap_err()
            .contains("unknown key 'mail'"));
    }
}
