//! Plain SQL through ODBC: `execute`, `run_file` (one transaction: autocommit off, commit at
//! the end) and small queries. ODBC has no portable read-only transaction (the access-mode
//! attribute is a hint most drivers ignore), so a read-only query runs in a transaction that
//! is always rolled back: a write it attempts is undone, not refused.

use std::sync::Arc;

use odbc_api::parameter::InputParameter;

use super::connect::{param, Shared};
use super::reader::Read;
use super::source::describe;
use crate::connectors::{sql_params, Access, BatchStream, Io, Params, Rows, SqlExec};
use crate::data::{Column, Schema};
use crate::error::{EtlError, Result};

pub struct OdbcSql(pub Arc<Shared>);

impl OdbcSql {
    fn bind(&self, sql: &str, params: &Params) -> Result<(String, Vec<Box<dyn InputParameter>>)> {
        let (text, names) = sql_params::rewrite_positional(sql, |_| "?".into())
            .map_err(|e| EtlError::db(&self.0.name, e))?;
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

/// Runs one statement; the rows it changed (0 when the driver cannot tell).
fn run_one(
    conn: &odbc_api::Connection<'_>,
    sql: &str,
    params: &[Box<dyn InputParameter>],
) -> std::result::Result<u64, odbc_api::Error> {
    let mut stmt = conn.preallocate()?;
    stmt.execute(sql, params)?;
    Ok(stmt.row_count()?.unwrap_or(0) as u64)
}

impl SqlExec for OdbcSql {
    fn execute(&self, _io: &Io, sql: &str, params: &Params) -> Result<u64> {
        let (text, values) = self.bind(sql, params)?;
        let conn = self.0.connect()?;
        run_one(&conn, &text, &values).map_err(|e| EtlError::db(&self.0.name, e))
    }

    fn run_script(&self, _io: &Io, file: &str, sql: &str, params: &Params) -> Result<u64> {
        let statements =
            sql_params::split_statements(sql).map_err(|e| EtlError::db(&self.0.name, e))?;
        let conn = self.0.connect()?;
        conn.set_autocommit(false)
            .map_err(|e| EtlError::db(&self.0.name, e))?;
        let mut changed = 0;
        for (i, stmt) in statements.iter().enumerate() {
            let line = sql[..stmt.as_ptr() as usize - sql.as_ptr() as usize]
                .matches('\n')
                .count()
                + 1;
            let what = format!("{file}: statement {} (line {line})", i + 1);
            let r = self.bind(stmt, params).and_then(|(text, values)| {
                run_one(&conn, &text, &values).map_err(|e| EtlError::db(&self.0.name, e))
            });
            match r {
                Ok(n) => changed += n,
                Err(e) => {
                    let _ = conn.rollback();
                    return Err(EtlError::db(&self.0.name, format!("{what}: {}", strip(&e))));
                }
            }
        }
        conn.commit().map_err(|e| EtlError::db(&self.0.name, e))?;
        Ok(changed)
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
        let conn = self.0.connect()?;
        if access == Access::ReadOnly {
            conn.set_autocommit(false)
                .map_err(|e| EtlError::db(&name, e))?;
        }
        let cols = {
            let mut prepared = conn.prepare(&text).map_err(|e| EtlError::db(&name, e))?;
            describe(&mut prepared).map_err(|e| EtlError::db(&name, e))?
        };
        let schema = Schema::new(
            cols.iter()
                .map(|(n, t)| Column::new(n.clone(), t.data_type.clone()))
                .collect(),
        );
        let types: Vec<_> = cols.iter().map(|(_, t)| t.clone()).collect();
        let names: Vec<_> = cols.iter().map(|(n, _)| n.clone()).collect();
        // The rows go through the same reader as a stream, collected here (one row more than
        // allowed tells that there are too many).
        let (tx_schema, shared) = (schema.clone(), self.0.clone());
        let mut stream = BatchStream::spawn_blocking(io, tx_schema, move |tx| {
            let read = Read {
                name: &shared.name,
                what: "query",
                types: &types,
                names: &names,
                batch_rows: 1024,
                buffer_bytes: shared.settings.buffer_bytes,
                limit: Some(max_rows as u64 + 1),
            };
            let r = read.run(&conn, &text, &values, tx);
            if access == Access::ReadOnly {
                let _ = conn.rollback();
            }
            r
        });
        let mut rows = Vec::new();
        while let Some(batch) = stream.next_blocking() {
            let batch = batch?;
            for row in batch.rows() {
                rows.push(row.to_vec());
            }
        }
        if rows.len() > max_rows {
            return Err(EtlError::db(
                &name,
                format!("query returned more than {max_rows} rows; stream it with .sql(...) into a load instead"),
            ));
        }
        Ok(Rows { schema, rows })
    }
}

/// The message of a database error without its connection prefix (it is added again).
fn strip(e: &EtlError) -> String {
    match e {
        EtlError::Database { message, .. } => message.clone(),
        other => other.to_string(),
    }
}
