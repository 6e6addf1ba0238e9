//! The table `etl_migrations`: one record per applied migration, in the audit schema on
//! PostgreSQL and a plain table on SQLite, created on first use.

use std::sync::Arc;

use crate::connectors::postgres::types::quote_ident;
use crate::connectors::{Access, Connection, Dialect, Io, Params, SqlTxn};
use crate::data::Value;
use crate::error::{EtlError, Result};

const TABLE: &str = "etl_migrations";
/// Most records read for one set (far above any real project).
const MAX_RECORDS: usize = 100_000;

/// One applied migration.
#[derive(Clone, Debug)]
pub struct Record {
    pub name: String,
    pub file: String,
    pub checksum: String,
    pub applied_at: String,
    pub duration_ms: i64,
    pub run_id: String,
}

/// Where migrations are applied: a connection that runs SQL in transactions.
pub struct Store {
    pub conn: Arc<Connection>,
    pub dialect: Dialect,
    pub io: Io,
    /// Where PostgreSQL keeps the table (`[audit] schema`).
    schema: Option<String>,
}

impl Store {
    /// The store on `conn`; MySQL/MariaDB is refused: its DDL commits on its own, so a
    /// migration that fails half-way could be neither rolled back nor recorded.
    pub fn new(conn: Arc<Connection>, audit_schema: &str, io: Io) -> Result<Store> {
        let dialect = match conn.dialect() {
            Some(d @ (Dialect::Postgres | Dialect::Sqlite)) => d,
            _ => {
                return Err(EtlError::Config(format!(
                    "connection '{}' is {}: tracked migrations run on PostgreSQL and SQLite \
                     only, because {}'s DDL commits on its own and a failed migration could not \
                     be rolled back; point the project's target at a PostgreSQL or SQLite \
                     connection, or remove its migrations folder",
                    conn.name, conn.connector.name, conn.connector.name
                )))
            }
        };
        Ok(Store {
            schema: (dialect == Dialect::Postgres).then(|| audit_schema.to_string()),
            conn,
            dialect,
            io,
        })
    }

    /// Whether a migration's transaction takes an advisory lock (PostgreSQL); SQLite's
    /// BEGIN IMMEDIATE already holds the database's write lock.
    pub fn schema_lock(&self) -> bool {
        self.dialect == Dialect::Postgres
    }

    /// The table as SQL names it.
    pub fn table(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote_ident(s), quote_ident(TABLE)),
            None => quote_ident(TABLE),
        }
    }

    /// The advisory lock key of a set, as SQL computes it (tests take the same lock).
    pub fn lock_sql(key_param: &str) -> String {
        format!("SELECT pg_advisory_xact_lock(hashtextextended(:{key_param}, 0))")
    }

    /// The lock key of a set's migrations: `etl_migrations/PROJECT`.
    pub fn lock_key(project: &str) -> String {
        format!("{TABLE}/{project}")
    }

    fn exists(&self) -> Result<bool> {
        let (sql, params): (&str, Params) = match &self.schema {
            Some(s) => (
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = :schema AND table_name = :table",
                vec![
                    ("schema".into(), Value::Text(s.clone())),
                    ("table".into(), Value::Text(TABLE.into())),
                ],
            ),
            None => (
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :table",
                vec![("table".into(), Value::Text(TABLE.into()))],
            ),
        };
        let rows = match self
            .conn
            .sql()?
            .query(&self.io, sql, &params, 1, Access::ReadOnly)
        {
            Ok(rows) => rows,
            // A SQLite file nothing has written yet has no table either (read-only connections
            // never create the file).
            Err(e)
                if self.dialect == Dialect::Sqlite && e.to_string().contains("does not exist") =>
            {
                return Ok(false)
            }
            Err(e) => return Err(e),
        };
        Ok(rows
            .rows
            .first()
            .and_then(|r| r.first())
            .is_some_and(|v| !matches!(v, Value::Int64(0) | Value::Null)))
    }

    /// Creates the table when missing, under a lock of its own so two first runs do not race.
    pub fn ensure(&self) -> Result<()> {
        if self.exists()? {
            return Ok(());
        }
        let mut txn = self.conn.sql()?.begin(&self.io)?;
        let ddl = match &self.schema {
            Some(s) => {
                txn.execute(
                    &Store::lock_sql("key"),
                    &vec![("key".into(), Value::Text(TABLE.into()))],
                )?;
                format!(
                    "CREATE SCHEMA IF NOT EXISTS {};\n\
                     CREATE TABLE IF NOT EXISTS {} (project text NOT NULL, name text NOT NULL, \
                     file text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL, \
                     duration_ms bigint NOT NULL, run_id text NOT NULL, PRIMARY KEY (project, name))",
                    quote_ident(s),
                    self.table()
                )
            }
            None => format!(
                "CREATE TABLE IF NOT EXISTS {} (project TEXT NOT NULL, name TEXT NOT NULL, \
                 file TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL, \
                 duration_ms INTEGER NOT NULL, run_id TEXT NOT NULL, PRIMARY KEY (project, name))",
                self.table()
            ),
        };
        txn.run_script(TABLE, &ddl, &Params::new())?;
        txn.commit()
    }

    fn select_sql(&self) -> String {
        let applied = match self.dialect {
            Dialect::Postgres => "to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
            _ => "applied_at",
        };
        format!(
            "SELECT name, file, checksum, {applied}, duration_ms, run_id FROM {} \
             WHERE project = :project",
            self.table()
        )
    }

    /// The records of `project` (none when the table does not exist yet), read-only.
    pub fn records(&self, project: &str) -> Result<Vec<Record>> {
        if !self.exists()? {
            return Ok(Vec::new());
        }
        let params = vec![("project".into(), Value::Text(project.into()))];
        let rows = self.conn.sql()?.query(
            &self.io,
            &format!("{} ORDER BY name", self.select_sql()),
            &params,
            MAX_RECORDS,
            Access::ReadOnly,
        )?;
        Ok(rows.rows.iter().map(|r| record(r)).collect())
    }

    /// The record of one migration, read inside `txn` (after its lock).
    pub fn record_in(
        &self,
        txn: &mut dyn SqlTxn,
        project: &str,
        name: &str,
    ) -> Result<Option<Record>> {
        let params = vec![
            ("project".into(), Value::Text(project.into())),
            ("name".into(), Value::Text(name.into())),
        ];
        let rows = txn.query(
            &format!("{} AND name = :name", self.select_sql()),
            &params,
            1,
        )?;
        Ok(rows.rows.first().map(|r| record(r)))
    }

    /// Writes the record of an applied migration inside its transaction.
    pub fn insert_in(&self, txn: &mut dyn SqlTxn, project: &str, r: &Record) -> Result<()> {
        let now = chrono::Utc::now();
        let applied_at = match self.dialect {
            Dialect::Postgres => Value::TimestampTz(now),
            _ => Value::Text(now.format("%Y-%m-%d %H:%M:%S").to_string()),
        };
        let params = vec![
            ("project".into(), Value::Text(project.into())),
            ("name".into(), Value::Text(r.name.clone())),
            ("file".into(), Value::Text(r.file.clone())),
            ("checksum".into(), Value::Text(r.checksum.clone())),
            ("applied_at".into(), applied_at),
            ("duration_ms".into(), Value::Int64(r.duration_ms)),
            ("run_id".into(), Value::Text(r.run_id.clone())),
        ];
        txn.execute(
            &format!(
                "INSERT INTO {} (project, name, file, checksum, applied_at, duration_ms, run_id) \
                 VALUES (:project, :name, :file, :checksum, :applied_at, :duration_ms, :run_id)",
                self.table()
            ),
            &params,
        )?;
        Ok(())
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Text(s) => s.clone(),
        Value::Int64(n) => n.to_string(),
        Value::Int32(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

fn record(r: &[Value]) -> Record {
    Record {
        name: text(&r[0]),
        file: text(&r[1]),
        checksum: text(&r[2]),
        applied_at: text(&r[3]),
        duration_ms: text(&r[4]).parse().unwrap_or(0),
        run_id: text(&r[5]),
    }
}
