//! PostgreSQL: the warehouse this tool exists for, and a source. tokio-postgres underneath, a
//! connection pool shared by the tasks of a run, TLS with rustls. The `Database` trait is
//! synchronous (script threads); every call bridges into the async client with the run's
//! runtime and gives up when the run is cancelled (the server then rolls back).

mod audit;
mod bind;
mod config;
mod copy_in;
mod copy_out;
mod error;
mod load;
mod numeric;
mod pool;
mod source;
pub mod types;
mod wire;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::{pin_mut, StreamExt};
use tokio_postgres::SimpleQueryMessage;

use super::{sql_params, Database, Io, LoadSession, Params, Rows, Source};
use crate::audit::AuditRecord;
use crate::data::{Column, Schema, Value};
use crate::error::{EtlError, Result};
use crate::load::LoadPlan;
use error::{message, pg_error, sqlstate};
use pool::{block_on, PgPool};
use source::{PgSource, Query, Raw};
use types::PgType;

/// The audit table's schema unless the configuration names another.
pub const DEFAULT_AUDIT_SCHEMA: &str = "etl";

/// What every relation, load and audit call of one connection shares.
pub struct Shared {
    pub name: String,
    pub pool: PgPool,
    pub audit_schema: String,
    audit_ready: AtomicBool,
}

pub struct PgDb {
    shared: Arc<Shared>,
}

impl PgDb {
    /// Parses the URL and sets up the pool; nothing connects until first use.
    pub fn new(name: &str, url: &str, audit_schema: &str) -> Result<PgDb> {
        let settings = config::parse(url)
            .map_err(|e| EtlError::Config(format!("connection '{name}': {e}")))?;
        let pool = PgPool::new(name, settings)?;
        Ok(PgDb {
            shared: Arc::new(Shared {
                name: name.to_string(),
                pool,
                audit_schema: audit_schema.to_string(),
                audit_ready: AtomicBool::new(false),
            }),
        })
    }

    fn err(&self, e: &tokio_postgres::Error) -> EtlError {
        pg_error(&self.shared.name, e)
    }

    /// A statement error with the statement's position: `statement 3 (line 12)`.
    fn err_at(&self, what: &str, e: &tokio_postgres::Error) -> EtlError {
        EtlError::Database {
            connection: self.shared.name.clone(),
            message: format!("{what}: {}", message(e)),
            sqlstate: sqlstate(e),
        }
    }

    async fn ensure_audit(&self, c: &tokio_postgres::Client) -> Result<()> {
        if self.shared.audit_ready.load(Ordering::Relaxed) {
            return Ok(());
        }
        audit::ensure(c, &self.shared.audit_schema)
            .await
            .map_err(|e| {
                self.err_at(
                    &format!(
                        "creating the audit table {}",
                        audit::table(&self.shared.audit_schema)
                    ),
                    &e,
                )
            })?;
        self.shared.audit_ready.store(true, Ordering::Relaxed);
        Ok(())
    }
}

/// 1-based line of a character position in `sql`.
fn line_of(sql: &str, position: u32) -> usize {
    sql.chars()
        .take(position.saturating_sub(1) as usize)
        .filter(|c| *c == '\n')
        .count()
        + 1
}

fn error_line(sql: &str, e: &tokio_postgres::Error) -> Option<usize> {
    match e.as_db_error()?.position()? {
        tokio_postgres::error::ErrorPosition::Original(p) => Some(line_of(sql, *p)),
        tokio_postgres::error::ErrorPosition::Internal { .. } => None,
    }
}

impl Database for PgDb {
    fn name(&self) -> &str {
        &self.shared.name
    }

    fn describe(&self) -> String {
        format!("postgres {}", self.shared.pool.display())
    }

    fn table(&self, table: &str) -> Arc<dyn Source> {
        Arc::new(PgSource::new(
            self.shared.clone(),
            Query::Table(table.to_string()),
        ))
    }

    fn sql(&self, sql: &str, params: Params) -> Arc<dyn Source> {
        Arc::new(PgSource::new(
            self.shared.clone(),
            Query::Sql(sql.to_string(), params),
        ))
    }

    fn execute(&self, io: &Io, sql: &str, params: &Params) -> Result<u64> {
        let (text, binds) =
            bind::prepare(sql, params).map_err(|e| EtlError::db(&self.shared.name, e))?;
        block_on(io, async {
            let c = self.shared.pool.get(&io.handle).await?;
            let n = c
                .execute_raw(text.as_str(), bind::refs(&binds))
                .await
                .map_err(|e| self.err(&e))?;
            c.release();
            Ok(n)
        })
    }

    fn run_script(&self, io: &Io, sql: &str, params: &Params) -> Result<u64> {
        let names = sql_params::param_names(sql).map_err(|e| EtlError::db(&self.shared.name, e))?;
        block_on(io, async {
            let c = self.shared.pool.get(&io.handle).await?;
            c.batch_execute("BEGIN").await.map_err(|e| self.err(&e))?;
            let mut changed = 0u64;
            if names.is_empty() {
                // The server parses the file itself: no splitting to get wrong.
                let messages =
                    c.simple_query(sql)
                        .await
                        .map_err(|e| match error_line(sql, &e) {
                            Some(line) => self.err_at(&format!("line {line}"), &e),
                            None => self.err(&e),
                        })?;
                for m in messages {
                    if let SimpleQueryMessage::CommandComplete(n) = m {
                        changed += n;
                    }
                }
            } else {
                let statements = sql_params::split_statements(sql)
                    .map_err(|e| EtlError::db(&self.shared.name, e))?;
                for (i, stmt) in statements.iter().enumerate() {
                    let line = sql[..stmt.as_ptr() as usize - sql.as_ptr() as usize]
                        .matches('\n')
                        .count()
                        + 1;
                    let what = format!("statement {} (line {line})", i + 1);
                    let (text, binds) = bind::prepare(stmt, params)
                        .map_err(|e| EtlError::db(&self.shared.name, format!("{what}: {e}")))?;
                    changed += c
                        .execute_raw(text.as_str(), bind::refs(&binds))
                        .await
                        .map_err(|e| self.err_at(&what, &e))?;
                }
            }
            c.batch_execute("COMMIT").await.map_err(|e| self.err(&e))?;
            c.release();
            Ok(changed)
        })
    }

    fn query(&self, io: &Io, sql: &str, params: &Params, max_rows: usize) -> Result<Rows> {
        let (text, binds) =
            bind::prepare(sql, params).map_err(|e| EtlError::db(&self.shared.name, e))?;
        block_on(io, async {
            let c = self.shared.pool.get(&io.handle).await?;
            let mut stmt = c.prepare(&text).await.map_err(|e| self.err(&e))?;
            let mut types: Vec<PgType> = stmt
                .columns()
                .iter()
                .map(|col| PgType::from_type(col.type_(), col.type_modifier()))
                .collect();
            if types.iter().any(|t| !t.supported()) {
                // Types without a binary codec here are read as their text.
                let aliases: Vec<String> = (1..=types.len()).map(|i| format!("c{i}")).collect();
                let list: Vec<String> = stmt
                    .columns()
                    .iter()
                    .zip(&types)
                    .zip(&aliases)
                    .map(|((col, t), a)| {
                        let cast = if t.supported() { "" } else { "::text" };
                        format!("etl_q.{a}{cast} AS {}", types::quote_ident(col.name()))
                    })
                    .collect();
                let wrapped = format!(
                    "SELECT {} FROM (\n{text}\n) AS etl_q({})",
                    list.join(", "),
                    aliases.join(", ")
                );
                stmt = c.prepare(&wrapped).await.map_err(|e| self.err(&e))?;
                types = stmt
                    .columns()
                    .iter()
                    .map(|col| PgType::from_type(col.type_(), col.type_modifier()))
                    .collect();
            }
            let schema = Schema::new(
                stmt.columns()
                    .iter()
                    .zip(&types)
                    .map(|(col, t)| Column::new(col.name(), t.data_type.clone()))
                    .collect(),
            );
            let stream = c
                .query_raw(&stmt, bind::refs(&binds))
                .await
                .map_err(|e| self.err(&e))?;
            pin_mut!(stream);
            let mut rows = Vec::new();
            while let Some(row) = stream.next().await {
                let row = row.map_err(|e| self.err(&e))?;
                if rows.len() == max_rows {
                    // The connection is dropped with the rest of the result unread.
                    return Err(EtlError::db(
                        &self.shared.name,
                        format!("query returned more than {max_rows} rows; stream it with .sql(...) into a load instead"),
                    ));
                }
                let mut values = Vec::with_capacity(types.len());
                for (i, t) in types.iter().enumerate() {
                    let raw: Raw<'_> = row.try_get(i).map_err(|e| self.err(&e))?;
                    values.push(match raw.0 {
                        None => Value::Null,
                        Some(b) => wire::decode(b, t).map_err(|e| {
                            EtlError::db(
                                &self.shared.name,
                                format!("column '{}': {e}", schema.columns[i].name),
                            )
                        })?,
                    });
                }
                rows.push(values);
            }
            drop(stmt);
            c.release();
            Ok(Rows { schema, rows })
        })
    }

    fn begin_load(&self, io: &Io, plan: &LoadPlan) -> Result<Box<dyn LoadSession>> {
        Ok(Box::new(load::PgLoad::begin(&self.shared, io, plan)?))
    }

    fn audit_ensure(&self, io: &Io) -> Result<()> {
        block_on(io, async {
            let c = self.shared.pool.get(&io.handle).await?;
            self.ensure_audit(&c).await?;
            c.release();
            Ok(())
        })
    }

    fn audit_insert(&self, io: &Io, record: &AuditRecord) -> Result<i64> {
        block_on(io, async {
            let c = self.shared.pool.get(&io.handle).await?;
            self.ensure_audit(&c).await?;
            let id = audit::insert(&c, &self.shared.audit_schema, record)
                .await
                .map_err(|e| self.err_at("audit record", &e))?;
            c.release();
            Ok(id)
        })
    }

    fn audit_update(&self, io: &Io, id: i64, record: &AuditRecord) -> Result<()> {
        block_on(io, async {
            let c = self.shared.pool.get(&io.handle).await?;
            self.ensure_audit(&c).await?;
            audit::update(&c, &self.shared.audit_schema, id, record)
                .await
                .map_err(|e| self.err_at("audit record", &e))?;
            c.release();
            Ok(())
        })
    }

    fn audit_watermark(&self, io: &Io, project: &str, table: &str) -> Result<Option<String>> {
        block_on(io, async {
            let c = self.shared.pool.get(&io.handle).await?;
            self.ensure_audit(&c).await?;
            let w = audit::watermark(&c, &self.shared.audit_schema, project, table)
                .await
                .map_err(|e| self.err_at("audit watermark", &e))?;
            c.release();
            Ok(w)
        })
    }

    fn audit_history(
        &self,
        io: &Io,
        project: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>> {
        block_on(io, async {
            let c = self.shared.pool.get(&io.handle).await?;
            self.ensure_audit(&c).await?;
            let h = audit::history(&c, &self.shared.audit_schema, project, None, limit)
                .await
                .map_err(|e| self.err_at("audit history", &e))?;
            c.release();
            Ok(h)
        })
    }

    fn audit_get(&self, io: &Io, id: i64) -> Result<Option<AuditRecord>> {
        block_on(io, async {
            let c = self.shared.pool.get(&io.handle).await?;
            self.ensure_audit(&c).await?;
            let mut h = audit::history(&c, &self.shared.audit_schema, None, Some(id), 1)
                .await
                .map_err(|e| self.err_at("audit record", &e))?;
            c.release();
            Ok(h.pop())
        })
    }
}
