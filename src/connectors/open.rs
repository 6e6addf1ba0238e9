//! The registry of database connectors: a URL scheme picks the implementation.

use std::sync::Arc;

use super::{sqlite::SqliteDb, Database};
use crate::config::mask_url;
use crate::error::{EtlError, Result};

pub fn open(name: &str, url: &str) -> Result<Arc<dyn Database>> {
    let scheme = url.split("://").next().unwrap_or_default();
    match scheme {
        "sqlite" => Ok(Arc::new(SqliteDb::new(name, url)?)),
        "postgres" | "postgresql" | "mysql" | "mariadb" => Err(EtlError::Config(format!(
            "connection '{name}' ({}): the {scheme} connector is not part of this build yet; \
             the embedded SQLite warehouse (sqlite://PATH) is",
            mask_url(url)
        ))),
        _ => Err(EtlError::Config(format!(
            "connection '{name}': unsupported URL '{}' (expected sqlite://PATH, postgres://..., mysql://...)",
            mask_url(url)
        ))),
    }
}
