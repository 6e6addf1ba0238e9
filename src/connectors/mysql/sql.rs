//! Plain SQL on MySQL/MariaDB: `execute`, `run_file` (one transaction for data changes; DDL
//! commits implicitly there) and small queries, read-only ones inside `START TRANSACTION READ
//! ONLY` so the server refuses any write they attempt.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::Value as My;

use super::decode::{self, Decoder};
use super::pool::{my_error, my_error_in, MyConn};
use super::types::MyType;
use super::Shared;
use crate::connectors::{sql_params, Access, Io, Params, Rows, SqlExec};
use crate::data::{Column, Schema};
use crate::error::{EtlError, Result};

pub struct MySql {
    pub shared: Arc<Shared>,
}

impl MySql {
    /// `:name` parameters as `?` and their values in placeholder order.
    fn bind(&self, sql: &str, params: &Params) -> Result<(String, Vec<My>)> {
        let (text, names) =
            sql_params::rewrite_mysql(sql).map_err(|e| EtlError::db(&self.shared.name, e))?;
        let values = names
            .iter()
            .map(|name| {
                let v = params
                    .iter()
                    .find(|(k, _)| k == name)
                    .ok_or_else(|| sql_params::missing(&format!(":{name}"), params))?;
                decode::param(&v.1).map_err(|e| format!(":{name}: {e}"))
            })
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(|e| EtlError::db(&self.shared.name, e))?;
        Ok((text, values))
    }
}

/// Runs one statement: prepared (binary protocol) when it has parameters, as text otherwise
/// (some statements cannot be prepared). Returns the rows it changed.
async fn run_one(conn: &mut MyConn, sql: &str, values: Vec<My>) -> mysql_async::Result<u64> {
    let guard = conn.guard();
    if values.is_empty() {
        guard.run(conn.query_drop(sql)).await?;
    } else {
        guard
            .run(conn.exec_drop(sql, mysql_async::Params::Positional(values)))
            .await?;
    }
    Ok(conn.affected_rows())
}

impl SqlExec for MySql {
    fn execute(&self, io: &Io, sql: &str, params: &Params) -> Result<u64> {
        let (text, values) = self.bind(sql, params)?;
        io.block_on(async {
            let mut c = self.shared.pool.get().await?;
            run_one(&mut c, &text, values)
                .await
                .map_err(|e| my_error(&self.shared.name, &e))
        })
    }

    fn run_script(&self, io: &Io, _file: &str, sql: &str, params: &Params) -> Result<u64> {
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
        io.block_on(async {
            let mut c = self.shared.pool.get().await?;
            let guard = c.guard();
            // DDL commits implicitly in MySQL; data changes are one transaction.
            guard
                .run(c.query_drop("START TRANSACTION"))
                .await
                .map_err(|e| my_error(&self.shared.name, &e))?;
            let mut changed = 0;
            for (what, text, values) in prepared {
                match run_one(&mut c, &text, values).await {
                    Ok(n) => changed += n,
                    Err(e) => {
                        let _ = guard.run(c.query_drop("ROLLBACK")).await;
                        return Err(my_error_in(&self.shared.name, &what, &e));
                    }
                }
            }
            guard
                .run(c.query_drop("COMMIT"))
                .await
                .map_err(|e| my_error(&self.shared.name, &e))?;
            Ok(changed)
        })
    }

    fn query(
        &self,
        io: &Io,
        sql: &str,
        params: &Params,
        max_rows: usize,
        access: Access,
    ) -> Result<Rows> {
        let (text, values) = self.bind(sql, params)?;
        let name = self.shared.name.clone();
        io.block_on(async {
            let mut c = self.shared.pool.get().await?;
            let guard = c.guard();
            if access == Access::ReadOnly {
                // The server refuses any write attempted inside.
                guard
                    .run(c.query_drop("START TRANSACTION READ ONLY"))
                    .await
                    .map_err(|e| my_error(&name, &e))?;
            }
            let id = c.id();
            let params = if values.is_empty() {
                mysql_async::Params::Empty
            } else {
                mysql_async::Params::Positional(values)
            };
            let mut result = guard
                .run(c.exec_iter(text.as_str(), params))
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
            while let Some(row) = guard
                .run(result.next())
                .await
                .map_err(|e| my_error(&name, &e))?
            {
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
            drop(result);
            if access == Access::ReadOnly {
                guard
                    .run(c.query_drop("COMMIT"))
                    .await
                    .map_err(|e| my_error(&name, &e))?;
            }
            Ok(Rows { schema, rows })
        })
    }
}
