//! Plain SQL on SQL Server: `execute`, `run_file` (one explicit transaction) and small
//! queries. SQL Server has no read-only transaction: a read-only query runs inside a
//! transaction that is always rolled back, so a write it attempts is undone, not refused.

use std::sync::Arc;

use futures_util::TryStreamExt;
use tiberius::{ColumnData, Query};

use super::connect::{Client, Param, Shared};
use super::decode::{param, Decoder};
use super::source::at_params;
use crate::connectors::{sql_params, Access, Io, Params, Rows, SqlExec};
use crate::data::{Column, Schema};
use crate::error::{EtlError, Result};

pub struct MsSql(pub Arc<Shared>);

impl MsSql {
    fn bind(&self, sql: &str, params: &Params) -> Result<(String, Vec<ColumnData<'static>>)> {
        let (text, names) = at_params(sql).map_err(|e| EtlError::db(&self.0.name, e))?;
        let mut values = Vec::with_capacity(names.len());
        for name in &names {
            let v = params.iter().find(|(k, _)| k == name).ok_or_else(|| {
                EtlError::db(
                    &self.0.name,
                    sql_params::missing(&format!(":{name}"), params),
                )
            })?;
            values.push(
                param(&v.1).map_err(|e| EtlError::db(&self.0.name, format!(":{name}: {e}")))?,
            );
        }
        Ok((text, values))
    }
}

fn query_of(sql: &str, values: Vec<ColumnData<'static>>) -> Query<'static> {
    let mut q = Query::new(sql.to_string());
    for v in values {
        q.bind(Param(v));
    }
    q
}

async fn run_one(
    shared: &Shared,
    client: &mut Client,
    what: &str,
    sql: &str,
    values: Vec<ColumnData<'static>>,
) -> Result<u64> {
    let r = shared
        .guard(what, query_of(sql, values).execute(client))
        .await?;
    Ok(r.total())
}

impl SqlExec for MsSql {
    fn execute(&self, io: &Io, sql: &str, params: &Params) -> Result<u64> {
        let (text, values) = self.bind(sql, params)?;
        io.block_on(async {
            let mut c = self.0.connect().await?;
            run_one(&self.0, &mut c, "statement", &text, values).await
        })
    }

    fn run_script(&self, io: &Io, file: &str, sql: &str, params: &Params) -> Result<u64> {
        let statements =
            sql_params::split_statements(sql).map_err(|e| EtlError::db(&self.0.name, e))?;
        let mut prepared = Vec::with_capacity(statements.len());
        for (i, stmt) in statements.iter().enumerate() {
            let line = sql[..stmt.as_ptr() as usize - sql.as_ptr() as usize]
                .matches('\n')
                .count()
                + 1;
            let what = format!("{file}: statement {} (line {line})", i + 1);
            let (text, values) = self.bind(stmt, params)?;
            prepared.push((what, text, values));
        }
        io.block_on(async {
            let mut c = self.0.connect().await?;
            self.0
                .guard("BEGIN TRANSACTION", c.simple_query("BEGIN TRANSACTION"))
                .await?
                .into_results()
                .await
                .map_err(|e| self.0.tds_err("BEGIN TRANSACTION", e))?;
            let mut changed = 0;
            for (what, text, values) in prepared {
                match run_one(&self.0, &mut c, &what, &text, values).await {
                    Ok(n) => changed += n,
                    // Dropping the connection rolls the transaction back.
                    Err(e) => return Err(e),
                }
            }
            run_one(&self.0, &mut c, "COMMIT", "COMMIT TRANSACTION", Vec::new()).await?;
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
        let name = self.0.name.clone();
        io.block_on(async {
            let shared = &self.0;
            let mut c = shared.connect().await?;
            let cols = shared.describe(&mut c, "query", &text, &values).await?;
            let schema = Schema::new(
                cols.iter()
                    .map(|(n, t)| Column::new(n.clone(), t.data_type.clone()))
                    .collect(),
            );
            if access == Access::ReadOnly {
                run_one(shared, &mut c, "BEGIN TRANSACTION", "BEGIN TRANSACTION", Vec::new())
                    .await?;
            }
            let mut dec = Decoder::new(
                cols.iter().map(|(_, t)| t.kind).collect(),
                shared.settings.sub_micros,
            );
            let mut rows = Vec::new();
            {
                let stream = shared.guard("query", query_of(&text, values).query(&mut c)).await?;
                let mut stream = stream.into_row_stream();
                while let Some(row) = shared.guard("query", stream.try_next()).await? {
                    if rows.len() == max_rows {
                        // The connection is dropped with the rest unread (and any
                        // read-only transaction with it).
                        return Err(EtlError::db(
                            &name,
                            format!("query returned more than {max_rows} rows; stream it with .sql(...) into a load instead"),
                        ));
                    }
                    let mut out = Vec::with_capacity(cols.len());
                    for (i, v) in row.into_iter().enumerate() {
                        out.push(dec.decode(i, v).map_err(|e| {
                            EtlError::db(&name, format!("column '{}': {e}", cols[i].0))
                        })?);
                    }
                    rows.push(out);
                }
            }
            if access == Access::ReadOnly {
                // Undone, not refused: SQL Server has no read-only transaction.
                run_one(shared, &mut c, "ROLLBACK", "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION", Vec::new())
                    .await?;
            }
            Ok(Rows { schema, rows })
        })
    }
}
