//! The PostgreSQL connector's entry in the registry: `postgres://` and `postgresql://` URLs.

use std::sync::Arc;

use super::pool::PgPool;
use super::{audit, config, source, sql, target};
use crate::connectors::registry::{Connector, OpenOptions, Roles};
use crate::connectors::Connection;
use crate::error::{EtlError, Result};

/// The audit table's schema unless the configuration names another.
pub const DEFAULT_AUDIT_SCHEMA: &str = "etl";

pub static CONNECTOR: Connector = Connector {
    name: "PostgreSQL",
    schemes: &["postgres", "postgresql"],
    example: "postgres://USER@HOST:5432/DB",
    roles: Roles {
        source: true,
        sql: true,
        target: true,
        audit: true,
    },
    open,
};

/// What every relation, statement, load and audit call of one connection shares.
pub struct Shared {
    pub name: String,
    pub pool: PgPool,
    /// A full load's swap: how long each try waits for other sessions' locks, and how often
    /// it tries before failing with the old table in place.
    pub swap_lock_timeout: std::time::Duration,
    pub swap_attempts: u32,
    /// How long a load waits for another load of the same table to finish.
    pub table_lock_timeout: std::time::Duration,
}

/// Parses the URL and sets up the pool; nothing connects until first use.
fn open(name: &str, url: &str, opts: &OpenOptions) -> Result<Connection> {
    let settings = config::parse(url, opts.timeouts)
        .map_err(|e| EtlError::Config(format!("connection '{name}': {e}")))?;
    let describe = format!("postgres {}", settings.display);
    let shared = Arc::new(Shared {
        name: name.to_string(),
        pool: PgPool::new(name, settings)?,
        swap_lock_timeout: opts.swap_lock_timeout,
        swap_attempts: opts.swap_attempts.max(1),
        table_lock_timeout: opts.table_lock_timeout,
    });
    let mut conn = Connection::new(name, &CONNECTOR, describe);
    conn.relations = Some(Arc::new(source::PgRelations(shared.clone())));
    let sql: Arc<dyn crate::connectors::SqlExec> = Arc::new(sql::PgSql(shared.clone()));
    conn.catalog = Some(Arc::new(crate::connectors::catalog::SqlCatalog {
        connection: name.to_string(),
        sql: sql.clone(),
        statements: &crate::connectors::catalog::POSTGRES,
    }));
    conn.sql = Some(sql);
    conn.target = Some(Arc::new(target::PgTarget(shared.clone())));
    conn.audit = Some(Arc::new(audit::PgAudit::new(shared, &opts.audit_schema)));
    Ok(conn)
}
