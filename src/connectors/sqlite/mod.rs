//! The embedded warehouse and SQLite sources (rusqlite, bundled). Each operation opens its own
//! connection: cheap for SQLite, and it lets concurrent tasks read while one writes (WAL).

mod audit;
mod load;
mod source;
pub mod types;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fallible_iterator::FallibleIterator;
use rusqlite::Connection;

use super::{Database, Io, LoadSession, Params, Rows, Source};
use crate::audit::AuditRecord;
use crate::data::{Column, Schema, Value};
use crate::error::{EtlError, Result};
use crate::load::LoadPlan;
use source::{Query, SqliteSource};
use types::quote_ident;

pub struct SqliteDb {
    name: String,
    path: PathBuf,
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

    pub(crate) fn err(&self, e: impl std::fmt::Display) -> EtlError {
        EtlError::db(&self.name, e)
    }

    fn source(&self, query: Query) -> Arc<dyn Source> {
        Arc::new(SqliteSource {
            db: SqliteDb {
                name: self.name.clone(),
                path: self.path.clone(),
            },
            query,
            schema: Default::default(),
        })
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
            .ok_or_else(|| {
                let given: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
                format!(
                    "parameter {raw} has no value (given: {})",
                    if given.is_empty() {
                        "none".into()
                    } else {
                        given.join(", ")
                    }
                )
            })?;
        stmt.raw_bind_parameter(i, types::write(value))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

impl Database for SqliteDb {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> String {
        format!("sqlite {}", self.path.display())
    }

    fn table(&self, table: &str) -> Arc<dyn Source> {
        self.source(Query::Table(table.to_string()))
    }

    fn sql(&self, sql: &str, params: Params) -> Arc<dyn Source> {
        self.source(Query::Sql(sql.to_string(), params))
    }

    fn execute(&self, _io: &Io, sql: &str, params: &Params) -> Result<u64> {
        let conn = self.connect()?;
        let mut stmt = conn.prepare(sql).map_err(|e| self.err(e))?;
        bind(&mut stmt, params).map_err(|e| self.err(e))?;
        Ok(stmt.raw_execute().map_err(|e| self.err(e))? as u64)
    }

    fn run_script(&self, io: &Io, sql: &str, params: &Params) -> Result<u64> {
        let mut conn = self.connect()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let mut changed = 0u64;
        {
            let mut batch = rusqlite::Batch::new(&tx, sql);
            let mut n = 0;
            while let Some(mut stmt) = batch
                .next()
                .map_err(|e| self.err(format!("statement {}: {e}", n + 1)))?
            {
                n += 1;
                if io.cancel.is_cancelled() {
                    return Err(EtlError::Cancelled);
                }
                bind(&mut stmt, params).map_err(|e| self.err(format!("statement {n}: {e}")))?;
                changed += stmt
                    .raw_execute()
                    .map_err(|e| self.err(format!("statement {n}: {e}")))?
                    as u64;
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(changed)
    }

    fn query(&self, _io: &Io, sql: &str, params: &Params, max_rows: usize) -> Result<Rows> {
        let conn = self.connect()?;
        let mut stmt = conn.prepare(sql).map_err(|e| self.err(e))?;
        bind(&mut stmt, params).map_err(|e| self.err(e))?;
        let declared: Vec<(String, Option<crate::data::DataType>)> = types::declared_columns(&stmt);
        let mut raw = stmt.raw_query();
        let mut out: Vec<Vec<Value>> = Vec::new();
        let mut guessed: Vec<Option<crate::data::DataType>> =
            declared.iter().map(|(_, t)| t.clone()).collect();
        while let Some(row) = raw.next().map_err(|e| self.err(e))? {
            if out.len() == max_rows {
                return Err(self.err(format!("query returned more than {max_rows} rows; stream it with .sql(...) into a load instead")));
            }
            let mut values = Vec::with_capacity(declared.len());
            for (i, slot) in guessed.iter_mut().enumerate() {
                let v = row.get_ref(i).map_err(|e| self.err(e))?;
                if slot.is_none() {
                    *slot = types::from_storage(v);
                }
                let t = declared[i]
                    .1
                    .clone()
                    .or_else(|| types::from_storage(v))
                    .unwrap_or(crate::data::DataType::TEXT);
                values.push(
                    types::read(v, &t)
                        .map_err(|e| self.err(format!("column '{}': {e}", declared[i].0)))?,
                );
            }
            out.push(values);
        }
        let schema = Schema::new(
            declared
                .into_iter()
                .zip(guessed)
                .map(|((name, _), t)| Column::new(name, t.unwrap_or(crate::data::DataType::TEXT)))
                .collect(),
        );
        Ok(Rows { schema, rows: out })
    }

    fn begin_load(&self, _io: &Io, plan: &LoadPlan) -> Result<Box<dyn LoadSession>> {
        Ok(Box::new(load::SqliteLoad::begin(self, plan)?))
    }

    fn audit_ensure(&self, _io: &Io) -> Result<()> {
        audit::ensure(&self.connect()?).map_err(|e| self.err(e))
    }

    fn audit_insert(&self, _io: &Io, record: &AuditRecord) -> Result<i64> {
        let conn = self.connect()?;
        audit::ensure(&conn).map_err(|e| self.err(e))?;
        audit::insert(&conn, record).map_err(|e| self.err(e))
    }

    fn audit_update(&self, _io: &Io, id: i64, record: &AuditRecord) -> Result<()> {
        let conn = self.connect()?;
        audit::ensure(&conn).map_err(|e| self.err(e))?;
        audit::update(&conn, id, record).map_err(|e| self.err(e))
    }

    fn audit_watermark(&self, _io: &Io, project: &str, table: &str) -> Result<Option<String>> {
        let conn = self.connect()?;
        audit::ensure(&conn).map_err(|e| self.err(e))?;
        audit::watermark(&conn, project, table).map_err(|e| self.err(e))
    }

    fn audit_history(
        &self,
        _io: &Io,
        project: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>> {
        let conn = self.connect()?;
        audit::ensure(&conn).map_err(|e| self.err(e))?;
        audit::history(&conn, project, None, limit).map_err(|e| self.err(e))
    }

    fn audit_get(&self, _io: &Io, id: i64) -> Result<Option<AuditRecord>> {
        let conn = self.connect()?;
        audit::ensure(&conn).map_err(|e| self.err(e))?;
        Ok(audit::history(&conn, None, Some(id), 1)
            .map_err(|e| self.err(e))?
            .pop())
    }
}
