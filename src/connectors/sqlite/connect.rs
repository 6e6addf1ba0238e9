//! The SQLite connector's entry in the registry: `sqlite://PATH`.

use std::sync::Arc;

use super::audit::SqliteAudit;
use super::db::SqliteDb;
use super::sql::{SqliteRelations, SqliteSql};
use super::target::SqliteTarget;
use crate::connectors::registry::{Connector, OpenOptions, Roles};
use crate::connectors::Connection;
use crate::error::Result;

pub static CONNECTOR: Connector = Connector {
    name: "SQLite",
    schemes: &["sqlite"],
    example: "sqlite://PATH",
    roles: Roles {
        source: true,
        sql: true,
        target: true,
        audit: true,
    },
    open,
};

fn open(name: &str, url: &str, _opts: &OpenOptions) -> Result<Connection> {
    let db = SqliteDb::new(name, url)?;
    let mut conn = Connection::new(name, &CONNECTOR, format!("sqlite {}", db.path().display()));
    conn.relations = Some(Arc::new(SqliteRelations(db.clone())));
    let sql: Arc<dyn crate::connectors::SqlExec> = Arc::new(SqliteSql(db.clone()));
    conn.catalog = Some(Arc::new(crate::connectors::catalog::SqlCatalog {
        connection: name.to_string(),
        sql: sql.clone(),
        statements: &crate::connectors::catalog::SQLITE,
    }));
    conn.sql = Some(sql);
    conn.target = Some(Arc::new(SqliteTarget(db.clone())));
    conn.audit = Some(Arc::new(SqliteAudit::new(db)));
    Ok(conn)
}
