//! `etl_runs` in SQLite (or `SCRATCH__etl_runs` for sample runs).

use std::sync::Arc;

use rusqlite::{params_from_iter, Connection};

use super::db::{bind, SqliteDb};
use super::types::quote_ident;
use crate::audit::{max_watermark, AuditRecord, Field, COLUMNS, TABLE};
use crate::audit_checks::CheckRecord;
use crate::connectors::{AuditStore, Io};
use crate::data::Value;
use crate::error::Result;

/// The audit table of one SQLite file.
pub struct SqliteAudit {
    db: SqliteDb,
    /// The table's name: `etl_runs`, or a scratch copy's.
    table: String,
}

impl SqliteAudit {
    pub fn new(db: SqliteDb) -> SqliteAudit {
        SqliteAudit {
            db,
            table: TABLE.to_string(),
        }
    }

    /// A connection with the tables in place.
    fn ready(&self) -> Result<Connection> {
        let conn = self.db.connect()?;
        let checks = crate::audit_checks::create_sql(
            &self.checks_quoted(),
            "id INTEGER PRIMARY KEY AUTOINCREMENT",
            "TIMESTAMPTZ",
        );
        conn.execute_batch(&format!("{};\n{checks};", create_sql(&self.table)))
            .map_err(|e| self.db.err(e))?;
        Ok(conn)
    }

    fn quoted(&self) -> String {
        quote_ident(&self.table)
    }

    /// `etl_files`, or a sample run's scratch copy beside its scratch `etl_runs`.
    fn files_name(&self) -> String {
        match self.table.strip_suffix(TABLE) {
            Some(prefix) => format!("{prefix}{}", crate::audit_files::TABLE),
            None => format!("{}_files", self.table),
        }
    }

    fn files_quoted(&self) -> String {
        quote_ident(&self.files_name())
    }

    /// `etl_checks`, or a sample run's scratch copy beside its scratch `etl_runs`.
    fn checks_quoted(&self) -> String {
        let name = match self.table.strip_suffix(TABLE) {
            Some(prefix) => format!("{prefix}{}", crate::audit_checks::TABLE),
            None => format!("{}_checks", self.table),
        };
        quote_ident(&name)
    }
}

impl AuditStore for SqliteAudit {
    fn ensure(&self, _io: &Io) -> Result<()> {
        self.ready().map(|_| ())
    }

    fn exists(&self, _io: &Io) -> Result<bool> {
        if !self.db.exists() {
            return Ok(false);
        }
        let conn = self.db.connect_read_only()?;
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [&self.table],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| self.db.err(e))
    }

    fn insert(&self, _io: &Io, record: &AuditRecord) -> Result<i64> {
        let conn = self.ready()?;
        insert(&conn, &self.quoted(), record).map_err(|e| self.db.err(e))
    }

    fn update(&self, _io: &Io, id: i64, record: &AuditRecord) -> Result<()> {
        let conn = self.ready()?;
        let (sql, params) = self.update_statement(id, record);
        let mut stmt = conn.prepare(&sql).map_err(|e| self.db.err(e))?;
        bind(&mut stmt, &params).map_err(|e| self.db.err(e))?;
        stmt.raw_execute().map_err(|e| self.db.err(e))?;
        Ok(())
    }

    fn quoted_table(&self) -> String {
        self.quoted()
    }

    fn watermark(&self, _io: &Io, project: &str, table: &str) -> Result<Option<String>> {
        let conn = self.ready()?;
        watermark(&conn, &self.quoted(), project, table).map_err(|e| self.db.err(e))
    }

    fn history(&self, _io: &Io, project: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>> {
        let conn = self.ready()?;
        history(&conn, &self.quoted(), project, None, limit).map_err(|e| self.db.err(e))
    }

    fn get(&self, _io: &Io, id: i64) -> Result<Option<AuditRecord>> {
        let conn = self.ready()?;
        Ok(history(&conn, &self.quoted(), None, Some(id), 1)
            .map_err(|e| self.db.err(e))?
            .pop())
    }

    fn record_checks(&self, _io: &Io, records: &[CheckRecord]) -> Result<()> {
        let mut conn = self.ready()?;
        let tx = conn.transaction().map_err(|e| self.db.err(e))?;
        let sql = crate::audit_checks::insert_sql(&self.checks_quoted());
        for r in records {
            let mut stmt = tx.prepare_cached(&sql).map_err(|e| self.db.err(e))?;
            bind(&mut stmt, &r.params()).map_err(|e| self.db.err(e))?;
            stmt.raw_execute().map_err(|e| self.db.err(e))?;
        }
        tx.commit().map_err(|e| self.db.err(e))
    }

    fn check_history(
        &self,
        _io: &Io,
        project: Option<&str>,
        limit: usize,
    ) -> Result<Vec<CheckRecord>> {
        let conn = self.ready()?;
        let sql = crate::audit_checks::history_sql(&self.checks_quoted());
        let params = vec![
            (
                "project".to_string(),
                project.map_or(Value::Null, |p| Value::Text(p.to_string())),
            ),
            (
                "limit".to_string(),
                Value::Int64(limit.min(i64::MAX as usize) as i64),
            ),
        ];
        let rows = super::sql::query_rows(&conn, &self.db, &sql, &params, limit.max(1))?;
        Ok(rows.rows.iter().map(|r| CheckRecord::from_row(r)).collect())
    }

    fn relocated(&self, scratch: &str) -> Arc<dyn AuditStore> {
        Arc::new(SqliteAudit {
            db: self.db.clone(),
            table: format!("{scratch}__{TABLE}"),
        })
    }

    fn files_table(&self) -> Option<String> {
        Some(self.files_quoted())
    }

    fn files_create_statements(&self) -> Vec<String> {
        vec![crate::audit_files::create_sql(&self.files_quoted())]
    }

    fn loaded_files(
        &self,
        _io: &Io,
        project: &str,
        table: &str,
    ) -> Result<Option<Vec<crate::audit_files::FileStamp>>> {
        if !self.db.exists() {
            return Ok(None);
        }
        let conn = self.db.connect_read_only()?;
        let exists = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [self.files_name()],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| self.db.err(e))?;
        if exists == 0 {
            return Ok(None);
        }
        let sql = crate::audit_files::select_sql(&self.files_quoted());
        let mut stmt = conn.prepare(&sql).map_err(|e| self.db.err(e))?;
        let params = vec![
            ("project".to_string(), Value::Text(project.to_string())),
            ("table".to_string(), Value::Text(table.to_string())),
        ];
        bind(&mut stmt, &params).map_err(|e| self.db.err(e))?;
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.db.err(e))? {
            out.push(crate::audit_files::FileStamp {
                file: row.get(0).map_err(|e| self.db.err(e))?,
                size: row.get(1).map_err(|e| self.db.err(e))?,
                etag: row.get(2).map_err(|e| self.db.err(e))?,
                modified: row.get(3).map_err(|e| self.db.err(e))?,
            });
        }
        Ok(Some(out))
    }
}

fn create_sql(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {t} ({COLUMNS_SQL});
CREATE INDEX IF NOT EXISTS {idx} ON {t} (project, target_table, status);",
        t = quote_ident(table),
        idx = quote_ident(&format!("{table}_watermark")),
    )
}

const COLUMNS_SQL: &str = "
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    project TEXT NOT NULL,
    task TEXT NOT NULL,
    status TEXT NOT NULL,
    load_type TEXT NOT NULL,
    environment TEXT NOT NULL,
    script_version TEXT NOT NULL,
    target_database TEXT NOT NULL,
    target_table TEXT,
    start_load_date TEXT,
    end_load_date TEXT,
    previous_max_date TEXT,
    data_min_date TEXT,
    data_max_date TEXT,
    number_of_records BIGINT,
    start_script_execution_time TIMESTAMPTZ,
    end_script_execution_time TIMESTAMPTZ,
    error_message TEXT
";

fn values(record: &AuditRecord) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value as V;
    record
        .fields()
        .into_iter()
        .map(|f| match f {
            Field::Text(Some(s)) => V::Text(s.to_string()),
            Field::Int(Some(i)) => V::Integer(i),
            Field::Time(Some(t)) => V::Text(t.format("%Y-%m-%d %H:%M:%S%.f+00:00").to_string()),
            _ => V::Null,
        })
        .collect()
}

fn insert(conn: &Connection, table: &str, record: &AuditRecord) -> rusqlite::Result<i64> {
    let placeholders = vec!["?"; COLUMNS.len()].join(", ");
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({placeholders})",
        COLUMNS.join(", ")
    );
    conn.execute(&sql, params_from_iter(values(record)))?;
    Ok(conn.last_insert_rowid())
}

fn watermark(
    conn: &Connection,
    audit: &str,
    project: &str,
    table: &str,
) -> rusqlite::Result<Option<String>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT data_max_date FROM {audit} WHERE project = ?1 AND target_table = ?2 \
         AND status = 'success' AND data_max_date IS NOT NULL"
    ))?;
    let all: Vec<String> = stmt
        .query_map([project, table], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(max_watermark(all))
}

/// Records newest first, optionally of one project or the one with `id`.
fn history(
    conn: &Connection,
    table: &str,
    project: Option<&str>,
    id: Option<i64>,
    limit: usize,
) -> rusqlite::Result<Vec<AuditRecord>> {
    let sql = format!(
        "SELECT id, {} FROM {table} WHERE (?1 IS NULL OR project = ?1) AND (?2 IS NULL OR id = ?2) ORDER BY id DESC LIMIT ?3",
        COLUMNS.join(", ")
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params![project, id, limit as i64], |r| {
        let mut rec = AuditRecord {
            id: Some(r.get(0)?),
            ..AuditRecord::default()
        };
        for (i, col) in COLUMNS.iter().enumerate() {
            let v: Option<String> = match r.get_ref(i + 1)? {
                rusqlite::types::ValueRef::Integer(n) => Some(n.to_string()),
                rusqlite::types::ValueRef::Null => None,
                other => {
                    Some(String::from_utf8_lossy(other.as_bytes().unwrap_or_default()).into_owned())
                }
            };
            // Stored by us, so every value parses; a hand-edited row shows what it can.
            let _ = rec.set(col, v);
        }
        Ok(rec)
    })?;
    rows.collect()
}
