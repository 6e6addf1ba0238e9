//! The SQLite file: its connections and how statements bind named parameters.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use super::types::{self, quote_ident};
use crate::connectors::Params;
use crate::error::{EtlError, Result};

/// One SQLite file. Each operation opens its own connection: cheap for SQLite, and it lets
/// concurrent tasks read while one writes (WAL).
#[derive(Clone)]
pub struct SqliteDb {
    pub(super) name: String,
    pub(super) path: PathBuf,
}

impl SqliteDb {
    pub fn new(name: &str, url: &str) -> Result<SqliteDb> {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        if path.is_empty() {
            return Err(EtlError::Config(format!(
                "connection '{name}': sqlite:// needs a file path"
            )));
        }
        Ok(SqliteDb {
            name: name.to_string(),
            path: PathBuf::from(path),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn connect(&self) -> Result<Connection> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| EtlError::io(dir, e))?;
        }
        let conn = Connection::open(&self.path).map_err(|e| self.err(e))?;
        // Loads hold the write lock for their whole transaction; others wait rather than fail.
        conn.busy_timeout(Duration::from_secs(300))
            .map_err(|e| self.err(e))?;
        self.ensure_wal(&conn)?;
        super::hash::register(&conn).map_err(|e| self.err(e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| self.err(e))?;
        Ok(conn)
    }

    /// Switches a new database file to WAL, once. The switch needs an exclusive lock, and
    /// SQLite answers "database is locked" at once (without the busy handler) when two
    /// connections race for it, so tasks of one process take turns and a busy answer from
    /// another process is retried.
    fn ensure_wal(&self, conn: &Connection) -> Result<()> {
        static SWITCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let mode = |c: &Connection| -> rusqlite::Result<String> {
            c.query_row("PRAGMA journal_mode", [], |r| r.get(0))
        };
        if mode(conn)
            .map_err(|e| self.err(e))?
            .eq_ignore_ascii_case("wal")
        {
            return Ok(());
        }
        let _turn = SWITCH.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            match conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            {
                Ok(m) if m.eq_ignore_ascii_case("wal") => return Ok(()),
                Ok(m) => {
                    return Err(self.err(format!(
                        "cannot switch {} to WAL (journal mode stays {m})",
                        self.path.display()
                    )))
                }
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(self.err(e)),
            }
        }
    }

    /// A connection that cannot write (`PRAGMA query_only`): sources, `etl plan`, read-only
    /// queries. A file that does not exist is an error here, never created.
    pub(crate) fn connect_read_only(&self) -> Result<Connection> {
        if !self.exists() {
            return Err(self.err(format!(
                "the database file {} does not exist (a load creates it)",
                self.path.display()
            )));
        }
        let conn = self.connect()?;
        conn.pragma_update(None, "query_only", true)
            .map_err(|e| self.err(e))?;
        Ok(conn)
    }

    pub(crate) fn exists(&self) -> bool {
        self.path.is_file()
    }

    pub(crate) fn err(&self, e: impl std::fmt::Display) -> EtlError {
        EtlError::db(&self.name, e)
    }
}

/// `schema.table` becomes one SQLite identifier (SQLite's schemas are attached files, which
/// would break the atomicity of a load with its audit record); `main.` and `temp.` stay.
pub fn table_ident(name: &str) -> String {
    match name.split_once('.') {
        Some((schema @ ("main" | "temp"), table)) => {
            format!("{}.{}", quote_ident(schema), quote_ident(table))
        }
        _ => quote_ident(name),
    }
}

/// Binds named parameters (`:name`, `@name`, `$name`) present in the statement; a parameter
/// the statement names but the map lacks is an error listing what was given.
pub(crate) fn bind(
    stmt: &mut rusqlite::Statement<'_>,
    params: &Params,
) -> std::result::Result<(), String> {
    for i in 1..=stmt.parameter_count() {
        let Some(raw) = stmt.parameter_name(i) else {
            return Err(
                "positional '?' parameters are not supported: use named ones (:name)".into(),
            );
        };
        let name = &raw[1..];
        let value = params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .ok_or_else(|| crate::connectors::sql_params::missing(raw, params))?;
        stmt.raw_bind_parameter(i, types::write(value))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
