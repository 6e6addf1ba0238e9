//! The registry of database connectors: a URL scheme picks the implementation.

use std::sync::Arc;

use super::{mysql::MyDb, postgres::PgDb, sqlite::SqliteDb, Database};
use crate::config::{mask_url, Config};
use crate::error::{EtlError, Result};

/// Settings from `etl.toml` that connectors need beyond the URL.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// Where PostgreSQL keeps `etl_runs` (`[audit] schema`).
    pub audit_schema: String,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            audit_schema: super::postgres::DEFAULT_AUDIT_SCHEMA.to_string(),
        }
    }
}

impl OpenOptions {
    pub fn from_config(config: &Config) -> OpenOptions {
        OpenOptions {
            audit_schema: config.audit_schema.clone(),
        }
    }
}

/// Opens a connection with default options (the audit table in schema `etl`).
pub fn open(name: &str, url: &str) -> Result<Arc<dyn Database>> {
    open_with(name, url, &OpenOptions::default())
}

pub fn open_with(name: &str, url: &str, opts: &OpenOptions) -> Result<Arc<dyn Database>> {
    let scheme = url.split("://").next().unwrap_or_default();
    match scheme {
        "sqlite" => Ok(Arc::new(SqliteDb::new(name, url)?)),
        "postgres" | "postgresql" => Ok(Arc::new(PgDb::new(name, url, &opts.audit_schema)?)),
        "mysql" | "mariadb" => Ok(Arc::new(MyDb::new(name, url)?)),
        _ => Err(EtlError::Config(format!(
            "connection '{name}': unsupported URL '{}' (expected sqlite://PATH, postgres://..., mysql://...)",
            mask_url(url)
        ))),
    }
}
