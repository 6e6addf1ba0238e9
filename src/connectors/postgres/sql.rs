//! Plain SQL on PostgreSQL: `execute`, `run_file` (one transaction) and small queries, read-only
//! ones inside `BEGIN READ ONLY` so the server refuses any write they attempt.

use std::sync::Arc;

use futures_util::{pin_mut, StreamExt};
use tokio_postgres::{Client, SimpleQueryMessage};

use super::error::{message, pg_error, sqlstate};
use super::read::Raw;
use super::types::{quote_ident, PgType};
use super::{bind, wire, Shared};
use crate::connectors::{sql_params, Access, Io, Params, Rows, SqlExec};
use crate::data::{Column, Schema, Value};
use crate::error::{EtlError, Result};

pub struct PgSql(pub Arc<Shared>);

impl PgSql {
    fn err(&self, e: &tokio_postgres::Error) -> EtlError {
        pg_error(&self.0.name, e)
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

impl SqlExec for PgSql {
    fn execute(&self, io: &Io, sql: &str, params: &Params) -> Result<u64> {
        let (text, binds) =
            bind::prepare(sql, params).map_err(|e| EtlError::db(&self.0.name, e))?;
        io.block_on(async {
            let c = self.0.pool.get(&io.handle).await?;
            let n = c
                .execute_raw(text.as_str(), bind::refs(&binds))
                .await
                .map_err(|e| self.err(&e))?;
            c.release();
            Ok(n)
        })
    }

    fn run_script(&self, io: &Io, _file: &str, sql: &str, params: &Params) -> Result<u64> {
        io.block_on(async {
            let c = self.0.pool.get(&io.handle).await?;
            c.batch_execute("BEGIN").await.map_err(|e| self.err(&e))?;
            let changed = run_statements(&c, &self.0.name, sql, params).await?;
            c.batch_execute("COMMIT").await.map_err(|e| self.err(&e))?;
            c.release();
            Ok(changed)
        })
    }

    fn begin(&self, io: &Io) -> Result<Box<dyn crate::connectors::SqlTxn>> {
        Ok(Box::new(super::sql_txn::PgSqlTxn::begin(&self.0, io)?))
    }

    fn query(
        &self,
        io: &Io,
        sql: &str,
        params: &Params,
        max_rows: usize,
        access: Access,
    ) -> Result<Rows> {
        io.block_on(async {
            let c = self.0.pool.get(&io.handle).await?;
            if access == Access::ReadOnly {
                c.batch_execute("BEGIN READ ONLY")
                    .await
                    .map_err(|e| self.err(&e))?;
            }
            let rows = query_rows(&c, &self.0.name, sql, params, max_rows).await?;
            if access == Access::ReadOnly {
                c.batch_execute("COMMIT").await.map_err(|e| self.err(&e))?;
            }
            c.release();
            Ok(rows)
        })
    }
}

/// Runs the statements of a file on `c`, inside whatever transaction the caller opened;
/// returns the rows they changed. Shared by `run_file` and a transaction's `run_script`.
pub(super) async fn run_statements(
    c: &Client,
    connection: &str,
    sql: &str,
    params: &Params,
) -> Result<u64> {
    let err_at = |what: &str, e: &tokio_postgres::Error| EtlError::Database {
        connection: connection.to_string(),
        message: format!("{what}: {}", message(e)),
        sqlstate: sqlstate(e),
    };
    let names = sql_params::param_names(sql).map_err(|e| EtlError::db(connection, e))?;
    let mut changed = 0u64;
    if names.is_empty() {
        // The server parses the file itself: no splitting to get wrong.
        let messages = c
            .simple_query(sql)
            .await
            .map_err(|e| match error_line(sql, &e) {
                Some(line) => err_at(&format!("line {line}"), &e),
                None => pg_error(connection, &e),
            })?;
        for m in messages {
            if let SimpleQueryMessage::CommandComplete(n) = m {
                changed += n;
            }
        }
    } else {
        let statements =
            sql_params::split_statements(sql).map_err(|e| EtlError::db(connection, e))?;
        for (i, stmt) in statements.iter().enumerate() {
            let line = sql[..stmt.as_ptr() as usize - sql.as_ptr() as usize]
                .matches('\n')
                .count()
                + 1;
            let what = format!("statement {} (line {line})", i + 1);
            let (text, binds) = bind::prepare(stmt, params)
                .map_err(|e| EtlError::db(connection, format!("{what}: {e}")))?;
            changed += c
                .execute_raw(text.as_str(), bind::refs(&binds))
                .await
                .map_err(|e| err_at(&what, &e))?;
        }
    }
    Ok(changed)
}

/// Runs a query on `c` and collects at most `max_rows` rows, decoded by our binary codecs
/// (types without one are read as text). Shared by plain queries and a load's transaction.
pub async fn query_rows(
    c: &Client,
    connection: &str,
    sql: &str,
    params: &Params,
    max_rows: usize,
) -> Result<Rows> {
    let err = |e: &tokio_postgres::Error| pg_error(connection, e);
    let (text, binds) = bind::prepare(sql, params).map_err(|e| EtlError::db(connection, e))?;
    let mut stmt = c.prepare(&text).await.map_err(|e| err(&e))?;
    let mut types: Vec<PgType> = stmt
        .columns()
        .iter()
        .map(|col| PgType::from_type(col.type_(), col.type_modifier()))
        .collect();
    if types.iter().any(|t| !t.supported()) {
        let aliases: Vec<String> = (1..=types.len()).map(|i| format!("c{i}")).collect();
        let list: Vec<String> = stmt
            .columns()
            .iter()
            .zip(&types)
            .zip(&aliases)
            .map(|((col, t), a)| {
                let cast = if t.supported() { "" } else { "::text" };
                format!("etl_q.{a}{cast} AS {}", quote_ident(col.name()))
            })
            .collect();
        let wrapped = format!(
            "SELECT {} FROM (\n{text}\n) AS etl_q({})",
            list.join(", "),
            aliases.join(", ")
        );
        stmt = c.prepare(&wrapped).await.map_err(|e| err(&e))?;
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
        .map_err(|e| err(&e))?;
    pin_mut!(stream);
    let mut rows = Vec::new();
    while let Some(row) = stream.next().await {
        let row = row.map_err(|e| err(&e))?;
        if rows.len() == max_rows {
            // The connection is dropped with the rest of the result unread.
            return Err(EtlError::db(
                connection,
                format!("query returned more than {max_rows} rows; stream it with .sql(...) into a load instead"),
            ));
        }
        let mut values = Vec::with_capacity(types.len());
        for (i, t) in types.iter().enumerate() {
            let raw: Raw<'_> = row.try_get(i).map_err(|e| err(&e))?;
            values.push(match raw.0 {
                None => Value::Null,
                Some(b) => wire::decode(b, t).map_err(|e| {
                    EtlError::db(
                        connection,
                        format!("column '{}': {e}", schema.columns[i].name),
                    )
                })?,
            });
        }
        rows.push(values);
    }
    Ok(Rows { schema, rows })
}
