//! The one list of connectors: a URL's scheme picks the connector that opens it. Adding a
//! connector is a folder under `src/connectors/` and one line in `CONNECTORS`
//! (docs/connectors.md).

use super::url::mask_url;
use super::{mysql, postgres, sqlite, Connection};
use crate::error::{EtlError, Result};

/// Settings from `etl.toml` that connectors need beyond the URL.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// Where PostgreSQL keeps `etl_runs` (`[audit] schema`).
    pub audit_schema: String,
    /// How long a full load's swap waits for other sessions' locks on each try (`[load]
    /// swap_lock_timeout_seconds`), and how many tries before the load fails with the old
    /// table kept (`swap_attempts`).
    pub swap_lock_timeout: std::time::Duration,
    pub swap_attempts: u32,
    /// `[connections]`: statement and read timeouts and keepalive, unless a URL sets them.
    pub timeouts: super::Timeouts,
    /// How long a load waits for another load of the same table to finish (`[load]
    /// table_lock_timeout_seconds`).
    pub table_lock_timeout: std::time::Duration,
    /// `.env` beside `etl.toml`: connectors that read secrets from variables named in their
    /// URL (Salesforce) look there after the process environment.
    pub env: std::sync::Arc<crate::dotenv::DotEnv>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            audit_schema: postgres::DEFAULT_AUDIT_SCHEMA.to_string(),
            swap_lock_timeout: std::time::Duration::from_secs(2),
            swap_attempts: 10,
            timeouts: super::Timeouts::default(),
            table_lock_timeout: std::time::Duration::from_secs(1800),
            env: Default::default(),
        }
    }
}

/// One kind of connection.
pub struct Connector {
    /// Its name in messages ("PostgreSQL").
    pub name: &'static str,
    /// URL schemes it opens (`postgres`, `postgresql`).
    pub schemes: &'static [&'static str],
    /// A URL to show when one is wrong.
    pub example: &'static str,
    pub roles: Roles,
    /// Parses the URL and prepares the connection; nothing connects until first use.
    pub open: fn(name: &str, url: &str, opts: &OpenOptions) -> Result<Connection>,
}

/// Which roles a connector has (what `Connection` offers, for messages and docs).
#[derive(Clone, Copy, Debug)]
pub struct Roles {
    pub source: bool,
    pub sql: bool,
    pub target: bool,
    pub audit: bool,
}

impl Roles {
    /// "is a source and runs SQL", "is a source, a load target, ...".
    pub fn describe(&self) -> String {
        let mut can = Vec::new();
        if self.source {
            can.push("is a source");
        }
        if self.sql {
            can.push("runs SQL");
        }
        if self.target {
            can.push("is a load target");
        }
        if self.audit {
            can.push("keeps the audit table");
        }
        match can.split_last() {
            None => "has no roles".into(),
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        }
    }
}

/// Every connector. One line each.
pub static CONNECTORS: &[&Connector] = &[
    &sqlite::CONNECTOR,
    &postgres::CONNECTOR,
    &mysql::CONNECTOR,
    #[cfg(feature = "salesforce")]
    &super::salesforce::CONNECTOR,
    #[cfg(feature = "mssql")]
    &super::mssql::CONNECTOR,
    #[cfg(feature = "odbc")]
    &super::odbc::CONNECTOR,
    #[cfg(feature = "odbc")]
    &super::odbc::ORACLE,
    #[cfg(feature = "snowflake")]
    &super::snowflake::CONNECTOR,
    #[cfg(feature = "bigquery")]
    &super::bigquery::CONNECTOR,
];

/// The connector of a URL, or an error naming the schemes there are.
pub fn connector_for(name: &str, url: &str) -> Result<&'static Connector> {
    let scheme = url
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default();
    CONNECTORS
        .iter()
        .copied()
        .find(|c| c.schemes.contains(&scheme.as_str()))
        .ok_or_else(|| {
            let known: Vec<&str> = CONNECTORS.iter().map(|c| c.example).collect();
            EtlError::Config(format!(
                "connection '{name}': unsupported URL '{}' (expected {})",
                mask_url(url),
                known.join(", ")
            ))
        })
}

/// Opens the connection `name` at `url` with the connector its scheme names.
pub fn open(name: &str, url: &str, opts: &OpenOptions) -> Result<Connection> {
    (connector_for(name, url)?.open)(name, url, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_pick_their_connector_and_unknown_ones_are_refused() {
        assert_eq!(
            connector_for("a", "postgresql://h/db").unwrap().name,
            "PostgreSQL"
        );
        assert_eq!(
            connector_for("a", "MYSQL://h/db").unwrap().name,
            "MySQL/MariaDB"
        );
        assert_eq!(connector_for("a", "sqlite://x.db").unwrap().name, "SQLite");
        let e = connector_for("dw", "db2://u:hunter2@h/db")
            .err()
            .expect("unknown scheme")
            .to_string();
        assert!(
            e.contains("connection 'dw'") && e.contains("postgres://"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn every_scheme_belongs_to_one_connector() {
        let mut seen = std::collections::HashSet::new();
        for c in CONNECTORS {
            for s in c.schemes {
                assert!(seen.insert(*s), "scheme {s} is listed twice");
            }
        }
    }
}
