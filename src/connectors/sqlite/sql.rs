//! SQLite as a source of relations and a place to run SQL.

use std::sync::Arc;

use fallible_iterator::FallibleIterator;

use super::db::{bind, SqliteDb};
use super::source::{Query, SqliteSource};
use super::types;
use crate::connectors::{Access, Io, Params, Relations, Rows, Source, SqlExec, TableOptions};
use crate::data::{Column, Schema, Value};
use crate::error::{EtlError, Result};

pub struct SqliteRelations(pub SqliteDb);

impl SqliteRelations {
    fn source(&self, query: Query) -> Arc<dyn Source> {
        Arc::new(SqliteSource {
            db: self.0.clone(),
            query,
            schema: Default::default(),
        })
    }
}

impl Relations for SqliteRelations {
    fn table(&self, table: &str, opts: &TableOptions) -> Result<Arc<dyn Source>> {
        if opts.parallel > 1 {
            return Err(self.0.err(format!(
                "table {table}: parallel reads (parallel: {}) are supported on MySQL/MariaDB sources only",
                opts.parallel
            )));
        }
        Ok(self.source(Query::Table(table.to_string())))
    }

    fn query(&self, sql: &str, params: Params) -> Result<Arc<dyn Source>> {
        Ok(self.source(Query::Sql(sql.to_string(), params)))
    }
}

pub struct SqliteSql(pub SqliteDb);

impl SqlExec for SqliteSql {
    fn execute(&self, _io: &Io, sql: &str, params: &Params) -> Result<u64> {
        let conn = self.0.connect()?;
        let mut stmt = conn.prepare(sql).map_err(|e| self.0.err(e))?;
        bind(&mut stmt, params).map_err(|e| self.0.err(e))?;
        Ok(stmt.raw_execute().map_err(|e| self.0.err(e))? as u64)
    }

    fn run_script(&self, io: &Io, _file: &str, sql: &str, params: &Params) -> Result<u64> {
        let mut conn = self.0.connect()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.0.err(e))?;
        let changed = run_statements(&tx, &self.0, io, sql, params)?;
        tx.commit().map_err(|e| self.0.err(e))?;
        Ok(changed)
    }

    fn begin(&self, io: &Io) -> Result<Box<dyn crate::connectors::SqlTxn>> {
        Ok(Box::new(super::sql_txn::SqliteSqlTxn::begin(&self.0, io)?))
    }

    fn query(
        &self,
        _io: &Io,
        sql: &str,
        params: &Params,
        max_rows: usize,
        access: Access,
    ) -> Result<Rows> {
        let conn = match access {
            Access::ReadWrite => self.0.connect()?,
            Access::ReadOnly => self.0.connect_read_only()?,
        };
        query_rows(&conn, &self.0, sql, params, max_rows)
    }
}

/// Runs the statements of a file on `conn`, inside whatever transaction the caller opened;
/// returns the rows they changed. Shared by `run_file` and a transaction's `run_script`.
pub(super) fn run_statements(
    conn: &rusqlite::Connection,
    db: &SqliteDb,
    io: &Io,
    sql: &str,
    params: &Params,
) -> Result<u64> {
    let mut changed = 0u64;
    let mut batch = rusqlite::Batch::new(conn, sql);
    let mut n = 0;
    while let Some(mut stmt) = batch
        .next()
        .map_err(|e| db.err(format!("statement {}: {e}", n + 1)))?
    {
        n += 1;
        if io.cancel.is_cancelled() {
            return Err(EtlError::Cancelled);
        }
        bind(&mut stmt, params).map_err(|e| db.err(format!("statement {n}: {e}")))?;
        changed += stmt
            .raw_execute()
            .map_err(|e| db.err(format!("statement {n}: {e}")))? as u64;
    }
    Ok(changed)
}

/// Runs a query on `conn` and collects at most `max_rows` rows; columns without a declared
/// type take the type of their first stored value. Shared by plain queries and a load's
/// transaction.
pub(super) fn query_rows(
    conn: &rusqlite::Connection,
    db: &SqliteDb,
    sql: &str,
    params: &Params,
    max_rows: usize,
) -> Result<Rows> {
    let mut stmt = conn.prepare(sql).map_err(|e| db.err(e))?;
    bind(&mut stmt, params).map_err(|e| db.err(e))?;
    let declared: Vec<(String, Option<crate::data::DataType>)> = types::declared_columns(&stmt);
    let mut raw = stmt.raw_query();
    let mut out: Vec<Vec<Value>> = Vec::new();
    let mut guessed: Vec<Option<crate::data::DataType>> =
        declared.iter().map(|(_, t)| t.clone()).collect();
    while let Some(row) = raw.next().map_err(|e| db.err(e))? {
        if out.len() == max_rows {
            return Err(db.err(format!("query returned more than {max_rows} rows; stream it with .sql(...) into a load instead")));
        }
        let mut values = Vec::with_capacity(declared.len());
        for (i, slot) in guessed.iter_mut().enumerate() {
            let v = row.get_ref(i).map_err(|e| db.err(e))?;
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
                    .map_err(|e| db.err(format!("column '{}': {e}", declared[i].0)))?,
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
