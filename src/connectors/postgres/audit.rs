//! `etl_runs` in PostgreSQL (schema `etl` unless configured): proper types, created on first use
//! under an advisory lock so concurrent first runs cannot trip over each other's DDL.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::error::{message, sqlstate};
use super::Shared;
use crate::audit_checks::CheckRecord;
use crate::connectors::{AuditStore, Io};
use crate::data::Value;
use crate::error::{EtlError, Result};

use tokio_postgres::Client;

use super::bind::{refs, Bind, BindValue};
use super::types::{quote_ident, PgType};
use super::wire;
use crate::audit::{max_watermark, AuditRecord, COLUMNS, TABLE};

/// The audit table's qualified, quoted name.
pub fn table(schema: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(TABLE))
}

/// The check results' table, beside the audit table.
pub fn checks_table(schema: &str) -> String {
    format!(
        "{}.{}",
        quote_ident(schema),
        quote_ident(crate::audit_checks::TABLE)
    )
}

fn create_sql(schema: &str) -> String {
    let t = table(schema);
    format!(
        "CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {t} (
    id bigserial PRIMARY KEY,
    run_id text NOT NULL,
    project text NOT NULL,
    task text NOT NULL,
    status text NOT NULL,
    load_type text NOT NULL,
    environment text NOT NULL,
    script_version text NOT NULL,
    target_database text NOT NULL,
    target_table text,
    start_load_date text,
    end_load_date text,
    previous_max_date text,
    data_min_date text,
    data_max_date text,
    number_of_records bigint,
    start_script_execution_time timestamptz,
    end_script_execution_time timestamptz,
    error_message text
);
CREATE INDEX IF NOT EXISTS {idx} ON {t} (project, target_table, status);",
        s = quote_ident(schema),
        idx = quote_ident("etl_runs_watermark"),
    )
}

/// Creates the schema and table when missing. Plain `IF NOT EXISTS` still races on the
/// catalogs, so creation is serialised by a transaction-level advisory lock.
pub async fn ensure(client: &Client, schema: &str) -> Result<(), tokio_postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table(schema)])
        .await?
        .get(0);
    if exists {
        return Ok(());
    }
    client.batch_execute("BEGIN").await?;
    let created = async {
        client
            .execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('etl: audit table setup', 0))",
                &[],
            )
            .await?;
        client.batch_execute(&create_sql(schema)).await?;
        client.batch_execute("COMMIT").await
    }
    .await;
    if created.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    created
}

fn binds(record: &AuditRecord) -> Vec<Bind> {
    record
        .params()
        .into_iter()
        .map(|(name, v)| Bind {
            name,
            value: BindValue::Value(v),
        })
        .collect()
}

pub async fn insert(
    client: &Client,
    schema: &str,
    record: &AuditRecord,
) -> Result<i64, tokio_postgres::Error> {
    let marks: Vec<String> = (1..=COLUMNS.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({}) RETURNING id",
        table(schema),
        COLUMNS.join(", "),
        marks.join(", ")
    );
    let b = binds(record);
    Ok(client.query_one(&sql, &refs(&b)).await?.get(0))
}

pub async fn watermark(
    client: &Client,
    schema: &str,
    project: &str,
    target: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT data_max_date FROM {} WHERE project = $1 AND target_table = $2 AND status = 'success' \
         AND data_max_date IS NOT NULL",
        table(schema)
    );
    let rows = client.query(&sql, &[&project, &target]).await?;
    Ok(max_watermark(
        rows.iter().map(|r| r.get::<_, String>(0)).collect(),
    ))
}

/// Creates `etl_checks` beside the audit table when missing (its own table, so an
/// `etl_runs` made by an earlier version gets it on first use), under the setup lock.
async fn ensure_checks(client: &Client, schema: &str) -> Result<(), tokio_postgres::Error> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&checks_table(schema)],
        )
        .await?
        .get(0);
    if exists {
        return Ok(());
    }
    client.batch_execute("BEGIN").await?;
    let created = async {
        client
            .execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('etl: audit table setup', 0))",
                &[],
            )
            .await?;
        client
            .batch_execute(&crate::audit_checks::create_sql(
                &checks_table(schema),
                "id bigserial PRIMARY KEY",
                "timestamptz",
            ))
            .await?;
        client.batch_execute("COMMIT").await
    }
    .await;
    if created.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    created
}

/// `etl_runs` of one connection, in `schema`.
pub struct PgAudit {
    shared: Arc<Shared>,
    schema: String,
    ready: AtomicBool,
}

impl PgAudit {
    pub fn new(shared: Arc<Shared>, schema: &str) -> PgAudit {
        PgAudit {
            shared,
            schema: schema.to_string(),
            ready: AtomicBool::new(false),
        }
    }

    fn err(&self, what: &str, e: &tokio_postgres::Error) -> EtlError {
        EtlError::Database {
            connection: self.shared.name.clone(),
            message: format!("{what}: {}", message(e)),
            sqlstate: sqlstate(e),
        }
    }

    /// Runs `f` on a pooled connection after making sure the table exists.
    fn with<T>(
        &self,
        io: &Io,
        what: &str,
        f: impl AsyncFnOnce(&Client, &str) -> std::result::Result<T, tokio_postgres::Error>,
    ) -> Result<T> {
        io.block_on(async {
            let c = self.shared.pool.get(&io.handle).await?;
            self.ensure_on(&c).await?;
            let out = f(&c, &self.schema).await.map_err(|e| self.err(what, &e))?;
            c.release();
            Ok(out)
        })
    }

    async fn ensure_on(&self, c: &Client) -> Result<()> {
        if self.ready.load(Ordering::Relaxed) {
            return Ok(());
        }
        ensure(c, &self.schema).await.map_err(|e| {
            self.err(
                &format!("creating the audit table {}", table(&self.schema)),
                &e,
            )
        })?;
        self.ready.store(true, Ordering::Relaxed);
        Ok(())
    }
}

impl AuditStore for PgAudit {
    fn ensure(&self, io: &Io) -> Result<()> {
        self.with(io, "audit table", async |_, _| Ok(()))
    }

    fn exists(&self, io: &Io) -> Result<bool> {
        io.block_on(async {
            let c = self.shared.pool.get(&io.handle).await?;
            let found: bool = c
                .query_one(
                    "SELECT to_regclass($1) IS NOT NULL",
                    &[&table(&self.schema)],
                )
                .await
                .map_err(|e| self.err("checking the audit table", &e))?
                .get(0);
            c.release();
            Ok(found)
        })
    }

    fn insert(&self, io: &Io, record: &AuditRecord) -> Result<i64> {
        self.with(io, "audit record", async |c, s| insert(c, s, record).await)
    }

    fn update(&self, io: &Io, id: i64, record: &AuditRecord) -> Result<()> {
        let (sql, params) = self.update_statement(id, record);
        let (text, binds) =
            super::bind::prepare(&sql, &params).map_err(|e| EtlError::db(&self.shared.name, e))?;
        self.with(io, "audit record", async |c, _| {
            c.execute_raw(text.as_str(), refs(&binds)).await.map(|_| ())
        })
    }

    fn quoted_table(&self) -> String {
        table(&self.schema)
    }

    fn watermark(&self, io: &Io, project: &str, target: &str) -> Result<Option<String>> {
        self.with(io, "audit watermark", async |c, s| {
            watermark(c, s, project, target).await
        })
    }

    fn history(&self, io: &Io, project: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>> {
        self.with(io, "audit history", async |c, s| {
            history(c, s, project, None, limit).await
        })
    }

    fn get(&self, io: &Io, id: i64) -> Result<Option<AuditRecord>> {
        let mut found = self.with(io, "audit record", async |c, s| {
            history(c, s, None, Some(id), 1).await
        })?;
        Ok(found.pop())
    }

    fn record_checks(&self, io: &Io, records: &[CheckRecord]) -> Result<()> {
        let sql = crate::audit_checks::insert_sql(&checks_table(&self.schema));
        let statements = records
            .iter()
            .map(|r| super::bind::prepare(&sql, &r.params()))
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(|e| EtlError::db(&self.shared.name, e))?;
        self.with(io, "check records", async |c, s| {
            ensure_checks(c, s).await?;
            for (text, binds) in &statements {
                c.execute_raw(text.as_str(), refs(binds)).await?;
            }
            Ok(())
        })
    }

    fn check_history(
        &self,
        io: &Io,
        project: Option<&str>,
        limit: usize,
    ) -> Result<Vec<CheckRecord>> {
        let sql = crate::audit_checks::history_sql(&checks_table(&self.schema));
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
        let name = self.shared.name.clone();
        let rows = io.block_on(async {
            let c = self.shared.pool.get(&io.handle).await?;
            self.ensure_on(&c).await?;
            ensure_checks(&c, &self.schema)
                .await
                .map_err(|e| self.err("creating etl_checks", &e))?;
            let rows = super::sql::query_rows(&c, &name, &sql, &params, limit.max(1)).await?;
            c.release();
            Ok(rows)
        })?;
        Ok(rows.rows.iter().map(|r| CheckRecord::from_row(r)).collect())
    }

    fn relocated(&self, scratch: &str) -> Arc<dyn AuditStore> {
        Arc::new(PgAudit::new(self.shared.clone(), scratch))
    }

    fn files_table(&self) -> Option<String> {
        Some(files_table(&self.schema))
    }

    fn files_create_statements(&self) -> Vec<String> {
        vec![
            // The same lock as the audit table's setup: two first loads cannot race the DDL.
            "SELECT pg_advisory_xact_lock(hashtextextended('etl: audit table setup', 0))".into(),
            format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(&self.schema)),
            crate::audit_files::create_sql(&files_table(&self.schema)),
        ]
    }

    fn loaded_files(
        &self,
        io: &Io,
        project: &str,
        table: &str,
    ) -> Result<Option<Vec<crate::audit_files::FileStamp>>> {
        let quoted = files_table(&self.schema);
        let sql = crate::audit_files::select_sql(&quoted);
        let params = vec![
            ("project".to_string(), Value::Text(project.to_string())),
            ("table".to_string(), Value::Text(table.to_string())),
        ];
        let name = self.shared.name.clone();
        io.block_on(async {
            let c = self.shared.pool.get(&io.handle).await?;
            let exists: bool = c
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&quoted])
                .await
                .map_err(|e| self.err("looking for etl_files", &e))?
                .get(0);
            if !exists {
                c.release();
                return Ok(None);
            }
            let rows = super::sql::query_rows(&c, &name, &sql, &params, usize::MAX).await?;
            c.release();
            Ok(Some(
                rows.rows
                    .iter()
                    .map(|r| crate::audit_files::from_row(r))
                    .collect(),
            ))
        })
    }
}

/// `etl_files`, beside the audit table.
fn files_table(schema: &str) -> String {
    format!(
        "{}.{}",
        quote_ident(schema),
        quote_ident(crate::audit_files::TABLE)
    )
}

/// The latest records, newest first; `id` picks one record.
pub async fn history(
    client: &Client,
    schema: &str,
    project: Option<&str>,
    id: Option<i64>,
    limit: usize,
) -> Result<Vec<AuditRecord>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT id, {} FROM {} WHERE ($1::text IS NULL OR project = $1) AND ($2::bigint IS NULL OR id = $2) \
         ORDER BY id DESC LIMIT $3",
        COLUMNS.join(", "),
        table(schema)
    );
    let stmt = client.prepare(&sql).await?;
    let types: Vec<PgType> = stmt
        .columns()
        .iter()
        .map(|c| PgType::from_type(c.type_(), c.type_modifier()))
        .collect();
    let rows = client
        .query(&stmt, &[&project, &id, &(limit as i64)])
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut rec = AuditRecord {
            id: Some(row.get(0)),
            ..AuditRecord::default()
        };
        for (i, col) in COLUMNS.iter().enumerate() {
            let raw: super::read::Raw<'_> = row.get(i + 1);
            let text = raw
                .0
                .and_then(|b| wire::decode(b, &types[i + 1]).ok())
                .and_then(|v| v.to_text());
            // Written by us, so every value parses; a hand-edited row shows what it can.
            let _ = rec.set(col, text);
        }
        out.push(rec);
    }
    Ok(out)
}
