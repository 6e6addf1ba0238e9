//! MySQL and MariaDB: a source of relations and a place to run SQL (not a load target, not
//! the home of the audit table). mysql_async underneath, pooled, TLS with rustls; the
//! synchronous `Database` calls bridge into it with the run's runtime.

mod config;
mod decode;
mod parallel;
mod pool;
mod source;
mod types;

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::Value as My;

use super::{sql_params, Database, Io, LoadSession, Params, Rows, Source};
use crate::audit::AuditRecord;
use crate::data::{Column, Schema};
use crate::error::{EtlError, Result};
use crate::load::LoadPlan;
pub use config::ZeroDates;
use decode::Decoder;
use pool::{block_on, my_error, my_error_in, MyPool};
use source::{MySource, Query};
use types::MyType;

/// What every relation and statement of one connection shares.
pub struct Shared {
    pub name: String,
    pub pool: MyPool,
    pub tinyint1_as_bool: bool,
    pub zero_dates: ZeroDates,
}

pub struct MyDb {
    shared: Arc<Shared>,
}

impl MyDb {
    /// Parses the URL and sets up the pool; nothing connects until first use.
    pub fn new(name: &str, url: &str) -> Result<MyDb> {
        let s = config::parse(url)
            .map_err(|e| EtlError::Config(format!("connection '{name}': {e}")))?;
        Ok(MyDb {
            shared: Arc::new(Shared {
                name: name.to_string(),
                pool: MyPool {
                    pool: mysql_async::Pool::new(s.opts),
                    name: name.to_string(),
                    display: s.display,
                },
                tinyint1_as_bool: s.tinyint1_as_bool,
                zero_dates: s.zero_dates,
            }),
        })
    }

    /// A table read by `parallel` connections over primary-key ranges.
    pub fn table_parallel(&self, table: &str, parallel: usize) -> Arc<dyn Source> {
        Arc::new(MySource::new(
            self.shared.clone(),
            Query::Table {
                name: table.to_string(),
                parallel: parallel.max(1),
            },
        ))
    }

    fn not_a_target(&self, what: &str) -> EtlError {
        EtlError::db(
            &self.shared.name,
            format!(
                "{what}: MySQL/MariaDB is supported as a source (conn.table, conn.sql) and for running SQL, \
                 not as a load target or the home of the audit table; load into the PostgreSQL (or SQLite) warehouse"
            ),
        )
    }

    /// `:name` parameters as `?` and their values in placeholder order.
    fn bind(&self, sql: &str, params: &Params) -> Result<(String, Vec<My>)> {
        let (text, names) =
            sql_params::rewrite_mysql(sql).map_err(|e| EtlError::db(&self.shared.name, e))?;
        let values = names
            .iter()
            .map(|name| {
                let v = params.iter().find(|(k, _)| k == name).ok_or_else(|| {
                    let given: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
                    format!(
                        "parameter :{name} has no value (given: {})",
                        if given.is_empty() {
                            "none".to_string()
                        } else {
                            given.join(", ")
                        }
                    )
                })?;
                decode::param(&v.1).map_err(|e| format!(":{name}: {e}"))
            })
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(|e| EtlError::db(&self.shared.name, e))?;
        Ok((text, values))
    }
}

/// Runs one statement: prepared (binary protocol) when it has parameters, as text otherwise
/// (some statements cannot be prepared). Returns the rows it changed.
async fn run_one(
    conn: &mut mysql_async::Conn,
    sql: &str,
    values: Vec<My>,
) -> mysql_async::Result<u64> {
    if values.is_empty() {
        conn.query_drop(sql).await?;
    } else {
        conn.exec_drop(sql, mysql_async::Params::Positional(values))
            .await?;
    }
    Ok(conn.affected_rows())
}

impl Database for MyDb {
    fn name(&self) -> &str {
        &self.shared.name
    }

    fn describe(&self) -> String {
        format!("mysql {}", self.shared.pool.display)
    }

    fn table(&self, table: &str) -> Arc<dyn Source> {
        self.table_parallel(table, 1)
    }

    fn table_with_parallel(&self, table: &str, parallel: usize) -> Result<Arc<dyn Source>> {
        Ok(self.table_parallel(table, parallel))
    }

    fn sql(&self, sql: &str, params: Params) -> Arc<dyn Source> {
        Arc::new(MySource::new(
            self.shared.clone(),
            Query::Sql(sql.to_string(), params),
        ))
    }

    fn execute(&self, io: &Io, sql: &str, params: &Params) -> Result<u64> {
        let (text, values) = self.bind(sql, params)?;
        block_on(io, async {
            let mut c = self.shared.pool.get().await?;
            run_one(&mut c, &text, values)
                .await
                .map_err(|e| my_error(&self.shared.name, &e))
        })
    }

    fn run_script(&self, io: &Io, sql: &str, params: &Params) -> Result<u64> {
        let statements = sql_params::split_statements_mysql(sql)
            .map_err(|e| EtlError::db(&self.shared.name, e))?;
        let mut prepared = Vec::with_capacity(statements.len());
        for (i, stmt) in statements.iter().enumerate() {
            let line = sql[..stmt.as_ptr() as usize - sql.as_ptr() as usize]
                .matches('\n')
                .count()
                + 1;
            let what = format!("statement {} (line {line})", i + 1);
            let (text, values) = self.bind(stmt, params).map_err(|e| match e {
                EtlError::Database { message, .. } => {
                    EtlError::db(&self.shared.name, format!("{what}: {message}"))
                }
                other => other,
            })?;
            prepared.push((what, text, values));
        }
        block_on(io, async {
            let mut c = self.shared.pool.get().await?;
            // DDL commits implicitly in MySQL; data changes are one transaction.
            c.query_drop("START TRANSACTION")
                .await
                .map_err(|e| my_error(&self.shared.name, &e))?;
            let mut changed = 0;
            for (what, text, values) in prepared {
                match run_one(&mut c, &text, values).await {
                    Ok(n) => changed += n,
                    Err(e) => {
                        let _ = c.query_drop("ROLLBACK").await;
                        return Err(my_error_in(&self.shared.name, &what, &e));
                    }
                }
            }
            c.query_drop("COMMIT")
                .await
                .map_err(|e| my_error(&self.shared.name, &e))?;
            Ok(changed)
        })
    }

    fn query(&self, io: &Io, sql: &str, params: &Params, max_rows: usize) -> Result<Rows> {
        let (text, values) = self.bind(sql, params)?;
        let name = self.shared.name.clone();
        block_on(io, async {
            let mut c = self.shared.pool.get().await?;
            let id = c.id();
            let params = if values.is_empty() {
                mysql_async::Params::Empty
            } else {
                mysql_async::Params::Positional(values)
            };
            let mut result = c
                .exec_iter(text.as_str(), params)
                .await
                .map_err(|e| my_error(&name, &e))?;
            let types: Vec<MyType> = result
                .columns_ref()
                .iter()
                .map(|col| MyType::of(col, self.shared.tinyint1_as_bool))
                .collect();
            let schema = Schema::new(
                result
                    .columns_ref()
                    .iter()
                    .zip(&types)
                    .map(|(col, t)| Column::new(col.name_str(), t.data_type.clone()))
                    .collect(),
            );
            let mut dec = Decoder::new(
                types.iter().map(|t| t.kind).collect(),
                self.shared.zero_dates,
            );
            let mut rows = Vec::new();
            while let Some(row) = result.next().await.map_err(|e| my_error(&name, &e))? {
                if rows.len() == max_rows {
                    drop(result);
                    self.shared.pool.kill_query(&io.handle, id);
                    return Err(EtlError::db(
                        &name,
                        format!("query returned more than {max_rows} rows; stream it with .sql(...) into a load instead"),
                    ));
                }
                let mut values = Vec::with_capacity(types.len());
                for (i, v) in row.unwrap_raw().into_iter().enumerate() {
                    values.push(dec.decode(i, v.unwrap_or(My::NULL)).map_err(|e| {
                        EtlError::db(&name, format!("column '{}': {e}", schema.columns[i].name))
                    })?);
                }
                rows.push(values);
            }
            Ok(Rows { schema, rows })
        })
    }

    fn begin_load(&self, _io: &Io, plan: &LoadPlan) -> Result<Box<dyn LoadSession>> {
        Err(self.not_a_target(&format!("load into {}", plan.table)))
    }

    fn audit_ensure(&self, _io: &Io) -> Result<()> {
        Err(self.not_a_target("audit table"))
    }

    fn audit_insert(&self, _io: &Io, _record: &AuditRecord) -> Result<i64> {
        Err(self.not_a_target("audit record"))
    }

    fn audit_update(&self, _io: &Io, _id: i64, _record: &AuditRecord) -> Result<()> {
        Err(self.not_a_target("audit record"))
    }

    fn audit_watermark(&self, _io: &Io, _project: &str, _table: &str) -> Result<Option<String>> {
        Err(self.not_a_target("audit watermark"))
    }

    fn audit_history(
        &self,
        _io: &Io,
        _project: Option<&str>,
        _limit: usize,
    ) -> Result<Vec<AuditRecord>> {
        Err(self.not_a_target("audit history"))
    }

    fn audit_get(&self, _io: &Io, _id: i64) -> Result<Option<AuditRecord>> {
        Err(self.not_a_target("audit record"))
    }
}
