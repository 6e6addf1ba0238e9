//! `conn.table(..)` and `conn.sql(..)` on MySQL/MariaDB, streamed in bounded batches.
//!
//! Rows come through prepared statements (binary protocol: no number or date parsing on
//! either side) and `exec_iter`, which reads the result from the socket as it is consumed:
//! when the load falls behind, the bounded `BatchStream` stops the reader, TCP stops the
//! server, and memory stays at batch size × pipeline depth. A cursor window is pushed down
//! (tables) or bound to `:since`/`:until` (SQL), never formatted into the text.

use std::sync::{Arc, OnceLock};

use mysql_async::prelude::Queryable;
use mysql_async::Value as My;

use super::parallel;
use super::pool::{my_error_in, MyConn};
use super::reader::Reader;
use super::statement::single_statement;
use super::types::{quote_ident, quote_table, split_name, Kind, MyType};
use super::Shared;
use crate::connectors::{
    sql_params, BatchStream, Io, Params, ReadOptions, Relations, RowEstimate, Source,
    SourceStatement, TableOptions,
};
use crate::data::{Column, Schema};
use crate::error::{EtlError, Result};

/// `conn.table(..)` and `conn.sql(..)` of one connection.
pub struct MyRelations(pub Arc<Shared>);

impl Relations for MyRelations {
    fn table(&self, table: &str, opts: &TableOptions) -> Result<Arc<dyn Source>> {
        Ok(Arc::new(MySource::new(
            self.0.clone(),
            Query::Table {
                name: table.to_string(),
                parallel: opts.parallel.max(1),
            },
        )))
    }

    fn query(&self, sql: &str, params: Params) -> Result<Arc<dyn Source>> {
        Ok(Arc::new(MySource::new(
            self.0.clone(),
            Query::Sql(sql.to_string(), params),
        )))
    }
}

pub enum Query {
    /// A table, read by `parallel` connections over primary-key ranges when above 1.
    Table {
        name: String,
        parallel: usize,
    },
    Sql(String, Params),
}

pub struct MySource {
    pub shared: Arc<Shared>,
    pub query: Query,
    columns: OnceLock<Vec<(String, MyType)>>,
}

impl MySource {
    pub fn new(shared: Arc<Shared>, query: Query) -> MySource {
        MySource {
            shared,
            query,
            columns: OnceLock::new(),
        }
    }

    pub fn err(&self, e: impl std::fmt::Display) -> EtlError {
        EtlError::db(&self.shared.name, format!("{}: {e}", self.describe()))
    }

    pub(super) fn base_sql(&self) -> Result<String> {
        match &self.query {
            Query::Table { name, .. } => Ok(format!(
                "SELECT * FROM {}",
                quote_table(name).map_err(|e| self.err(e))?
            )),
            Query::Sql(sql, _) => {
                let one = single_statement(sql).map_err(|e| self.err(e))?;
                Ok(sql_params::rewrite_mysql(&one).map_err(|e| self.err(e))?.0)
            }
        }
    }

    /// Column names and types from the prepared statement's metadata (no row is read).
    pub fn columns(&self, io: &Io) -> Result<&[(String, MyType)]> {
        if let Some(c) = self.columns.get() {
            return Ok(c);
        }
        let sql = self.base_sql()?;
        let shared = self.shared.clone();
        let what = self.describe();
        let table = match &self.query {
            Query::Table { name, .. } => Some(split_name(name).map_err(|e| self.err(e))?),
            Query::Sql(..) => None,
        };
        let cols = io.block_on(async move {
            let mut conn = shared.pool.get().await?;
            let guard = conn.guard();
            let stmt = guard
                .run(conn.prep(sql.as_str()))
                .await
                .map_err(|e| my_error_in(&shared.name, &what, &e))?;
            let mut cols: Vec<(String, MyType)> = stmt
                .columns()
                .iter()
                .map(|c| {
                    (
                        c.name_str().into_owned(),
                        MyType::of(c, shared.tinyint1_as_bool),
                    )
                })
                .collect();
            guard
                .run(conn.close(stmt))
                .await
                .map_err(|e| my_error_in(&shared.name, &what, &e))?;
            if let Some(parts) = table {
                mark_json_columns(&mut conn, &parts, &mut cols).await;
            }
            Ok(cols)
        })?;
        Ok(self.columns.get_or_init(|| cols))
    }

    pub(super) fn parallel(&self) -> usize {
        match &self.query {
            Query::Table { parallel, .. } => *parallel,
            Query::Sql(..) => 1,
        }
    }
}

/// MariaDB's JSON is LONGTEXT with a `json_valid(col)` check: such columns of a table become
/// json (MySQL's own JSON type is told by the metadata). Best effort: no such view, no change.
async fn mark_json_columns(conn: &mut MyConn, parts: &[String], cols: &mut [(String, MyType)]) {
    if !cols.iter().any(|(_, t)| t.kind == Kind::Text) {
        return;
    }
    let (schema, table) = match parts {
        [t] => (None, t.clone()),
        [s, t] => (Some(s.clone()), t.clone()),
        _ => return,
    };
    let guard = conn.guard();
    let found: std::result::Result<Vec<String>, _> = guard
        .run(conn.exec(
            "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?",
            (schema, table),
        ))
        .await;
    let Ok(clauses) = found else { return };
    for (name, t) in cols.iter_mut() {
        let check = format!("json_valid({})", quote_ident(name));
        if t.kind == Kind::Text && clauses.iter().any(|c| c.eq_ignore_ascii_case(&check)) {
            *t = MyType::json();
        }
    }
}

pub fn schema_of(cols: &[(String, MyType)]) -> Schema {
    Schema::new(
        cols.iter()
            .map(|(n, t)| Column::new(n.clone(), t.data_type.clone()))
            .collect(),
    )
}

impl Source for MySource {
    fn describe(&self) -> String {
        match &self.query {
            Query::Table { name, .. } => {
                format!("table {name} on connection '{}'", self.shared.name)
            }
            Query::Sql(..) => format!("query on connection '{}'", self.shared.name),
        }
    }

    fn schema(&self, io: &Io) -> Result<Schema> {
        Ok(schema_of(self.columns(io)?))
    }

    fn open(&self, io: &Io, opts: &ReadOptions) -> Result<BatchStream> {
        let cols = self.columns(io)?.to_vec();
        let reader = Reader {
            shared: self.shared.clone(),
            kinds: cols.iter().map(|(_, t)| t.kind).collect(),
            names: cols.iter().map(|(n, _)| n.clone()).collect(),
            batch_rows: opts.batch_rows.max(1),
            what: self.describe(),
            handle: io.handle.clone(),
            types: cols.iter().map(|(_, t)| t.data_type.clone()).collect(),
            encoded: opts.encoded.clone().filter(|_| !opts.keep_going),
        };
        if self.parallel() > 1 && opts.limit.is_none() {
            if let Query::Table { name, parallel } = &self.query {
                match parallel::plan(self, io, name, &cols, *parallel)? {
                    Some(ranges) => {
                        let stmts = ranges
                            .iter()
                            .map(|r| self.statement(&cols, opts, Some(r)))
                            .collect::<Result<Vec<_>>>()?;
                        return Ok(parallel::open(io, schema_of(&cols), reader, stmts));
                    }
                    None => tracing::warn!(
                        "{}: parallel read needs a single-column integer primary key with rows; reading on one connection",
                        self.describe()
                    ),
                }
            }
        }
        let stmt = self.statement(&cols, opts, None)?;
        let handle = io.handle.clone();
        // Decoding is CPU work: it runs on a blocking thread of its own, so the runtime's
        // workers stay free for socket I/O.
        Ok(BatchStream::spawn_blocking(
            io,
            schema_of(&cols),
            move |tx| tx.block_on(&handle, reader.stream(stmt, tx)),
        ))
    }

    fn encodes(&self) -> bool {
        true
    }

    fn applies_window(&self) -> bool {
        match &self.query {
            Query::Table { .. } => true,
            Query::Sql(sql, _) => sql_params::rewrite_mysql(sql)
                .is_ok_and(|(_, n)| n.iter().any(|n| n == "since" || n == "until")),
        }
    }

    fn statement(&self, _io: &Io, opts: &ReadOptions) -> Result<Option<SourceStatement>> {
        self.named(opts, None).map(Some)
    }

    /// The optimizer's estimate (`EXPLAIN`) of a read of one table; None when the plan
    /// joins several (their row counts do not add up to the result's).
    fn estimate_rows(&self, io: &Io, opts: &ReadOptions) -> Result<Option<RowEstimate>> {
        let cols = self.columns(io)?.to_vec();
        let stmt = self.statement(&cols, opts, None)?;
        let shared = self.shared.clone();
        let what = self.describe();
        io.block_on(async move {
            let mut conn = shared.pool.get().await?;
            let params = if stmt.params.is_empty() {
                mysql_async::Params::Empty
            } else {
                mysql_async::Params::Positional(stmt.params)
            };
            let explain = format!("EXPLAIN {}", stmt.sql);
            let guard = conn.guard();
            let rows: Vec<mysql_async::Row> = guard
                .run(conn.exec(explain.as_str(), params))
                .await
                .map_err(|e| my_error_in(&shared.name, &what, &e))?;
            let [row] = rows.as_slice() else {
                return Ok(None);
            };
            let index = row
                .columns_ref()
                .iter()
                .position(|c| c.name_str() == "rows");
            let estimate = index.and_then(|i| row.as_ref(i)).and_then(|v| match v {
                My::Int(n) => u64::try_from(*n).ok(),
                My::UInt(n) => Some(*n),
                My::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
                _ => None,
            });
            Ok(estimate.map(|rows| RowEstimate {
                rows,
                exact: false,
                basis: "optimizer estimate",
            }))
        })
    }
}
