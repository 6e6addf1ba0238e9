//! `conn.table(..)` and `conn.sql(..)` on PostgreSQL, streamed in bounded batches.
//!
//! Without parameters the rows come through `COPY (query) TO STDOUT (FORMAT binary)`: the server
//! streams without per-row protocol round trips and the client decodes raw bytes. With
//! parameters (a cursor window, `:name` values) COPY cannot bind, so the extended protocol
//! streams the rows (tokio-postgres applies back-pressure, so memory stays bounded). Either way
//! values are decoded by the same binary codecs. Columns of types without a binary codec
//! (inet, money, ...) are read as text.

use std::sync::{Arc, OnceLock};

use tokio_postgres::types::Type;

use super::bind;
use super::copy_out::CopyFramer;
use super::error::pg_error_in;
use super::read::{stream_copy, stream_copy_encoded, stream_rows, Raw};
use super::statement::single_statement;
use super::types::{PgType, TableName};
use super::Shared;
use crate::connectors::{
    sql_params, BatchStream, Encoding, Io, Params, ReadOptions, Relations, RowEstimate, Source,
    SourceStatement, TableOptions,
};
use crate::data::{Column, Schema};
use crate::error::{EtlError, Result};

/// `conn.table(..)` and `conn.sql(..)` of one connection.
pub struct PgRelations(pub Arc<Shared>);

impl Relations for PgRelations {
    fn table(&self, table: &str, opts: &TableOptions) -> Result<Arc<dyn Source>> {
        if opts.parallel > 1 {
            return Err(EtlError::db(
                &self.0.name,
                format!("table {table}: parallel reads (parallel: {}) are supported on MySQL/MariaDB sources only", opts.parallel),
            ));
        }
        Ok(Arc::new(PgSource::new(
            self.0.clone(),
            Query::Table(table.to_string()),
        )))
    }

    fn query(&self, sql: &str, params: Params) -> Result<Arc<dyn Source>> {
        Ok(Arc::new(PgSource::new(
            self.0.clone(),
            Query::Sql(sql.to_string(), params),
        )))
    }
}

pub enum Query {
    Table(String),
    Sql(String, Params),
}

pub struct PgSource {
    pub shared: Arc<Shared>,
    pub query: Query,
    /// Column names and types, described once per relation.
    columns: OnceLock<Vec<(String, PgType)>>,
    /// Whether a `table(..)` source is an ordinary table (not a view or partitioned table).
    pub(super) plain_table: OnceLock<bool>,
}

impl PgSource {
    pub fn new(shared: Arc<Shared>, query: Query) -> PgSource {
        PgSource {
            shared,
            query,
            columns: OnceLock::new(),
            plain_table: OnceLock::new(),
        }
    }

    pub(super) fn base_sql(&self) -> Result<String> {
        match &self.query {
            Query::Table(t) => Ok(format!(
                "SELECT * FROM {}",
                TableName::parse(t).map_err(|e| self.err(e))?.quoted()
            )),
            Query::Sql(sql, _) => single_statement(sql).map_err(|e| self.err(e)),
        }
    }

    pub(super) fn err(&self, e: impl std::fmt::Display) -> EtlError {
        EtlError::db(&self.shared.name, format!("{}: {e}", self.describe()))
    }

    fn columns(&self, io: &Io) -> Result<&[(String, PgType)]> {
        if let Some(c) = self.columns.get() {
            return Ok(c);
        }
        let sql = self.base_sql()?;
        // Describing needs only the statement's shape, not the parameters' values.
        let sql = sql_params::rewrite(&sql).map_err(|e| self.err(e))?.sql;
        let shared = self.shared.clone();
        let what = self.describe();
        let handle = io.handle.clone();
        let table = match &self.query {
            Query::Table(t) => Some(TableName::parse(t).map_err(|e| self.err(e))?.quoted()),
            Query::Sql(..) => None,
        };
        let (cols, plain) = io.block_on(async move {
            let conn = shared.pool.get(&handle).await?;
            let plain = match &table {
                Some(t) => conn
                    .query_one("SELECT coalesce((SELECT relkind = 'r' FROM pg_class WHERE oid = to_regclass($1)), false)", &[t])
                    .await
                    .map_err(|e| pg_error_in(&shared.name, &what, &e))?
                    .get(0),
                None => false,
            };
            let stmt = conn
                .prepare(&sql)
                .await
                .map_err(|e| pg_error_in(&shared.name, &what, &e))?;
            let cols: Vec<(String, PgType)> = stmt
                .columns()
                .iter()
                .map(|c| {
                    (
                        c.name().to_string(),
                        PgType::from_type(c.type_(), c.type_modifier()),
                    )
                })
                .collect();
            drop(stmt);
            conn.release();
            Ok((cols, plain))
        })?;
        let _ = self.plain_table.set(plain);
        Ok(self.columns.get_or_init(|| cols))
    }
}

/// The portable schema of described columns (unsupported ones arrive as text).
fn schema_of(cols: &[(String, PgType)]) -> Schema {
    Schema::new(
        cols.iter()
            .map(|(n, t)| Column::new(n.clone(), t.data_type.clone()))
            .collect(),
    )
}

impl Source for PgSource {
    fn describe(&self) -> String {
        match &self.query {
            Query::Table(t) => format!("table {t} on connection '{}'", self.shared.name),
            Query::Sql(..) => format!("query on connection '{}'", self.shared.name),
        }
    }

    fn schema(&self, io: &Io) -> Result<Schema> {
        Ok(schema_of(self.columns(io)?))
    }

    fn open(&self, io: &Io, opts: &ReadOptions) -> Result<BatchStream> {
        let cols = self.columns(io)?.to_vec();
        let stmt = self.statement(&cols, opts)?;
        let bound = stmt.bind().map_err(|e| self.err(e))?;
        let types: Vec<PgType> = cols
            .iter()
            .map(|(_, t)| {
                if t.supported() {
                    t.clone()
                } else {
                    PgType::from_type(&Type::TEXT, -1)
                }
            })
            .collect();
        let names: Vec<String> = cols.iter().map(|(n, _)| n.clone()).collect();
        // Rows the target takes in our own COPY format with the same column types travel
        // undecoded (only COPY reads can: the extended protocol frames rows differently).
        let framer = opts
            .encoded
            .as_ref()
            .filter(|e| {
                e.encoding == Encoding::PgCopyBinary
                    && stmt.is_copy()
                    && e.columns.len() == types.len()
                    && e.columns
                        .iter()
                        .zip(&types)
                        .all(|(c, t)| *c == t.wire.signature())
            })
            .map(|e| {
                CopyFramer::new(
                    types.iter().map(|t| t.wire.clone()).collect(),
                    names.clone(),
                    e.not_null.clone(),
                    e.cursor,
                )
            });
        let shared = self.shared.clone();
        let what = self.describe();
        let opts = opts.clone();
        let handle = io.handle.clone();
        // Decoding is CPU work: it runs on a blocking thread of its own, so the runtime's
        // workers stay free for socket I/O and one thread's allocator arena holds the batches.
        Ok(BatchStream::spawn_blocking(
            io,
            schema_of(&cols),
            move |tx| {
                tx.block_on(&handle.clone(), async move {
                    let conn = shared.pool.get(&handle).await?;
                    let done = if let Some(framer) = framer {
                        stream_copy_encoded(
                            &conn,
                            &stmt.sql,
                            framer,
                            &opts,
                            tx,
                            &shared.name,
                            &what,
                        )
                        .await?
                    } else if stmt.is_copy() {
                        stream_copy(
                            &conn,
                            &stmt.sql,
                            types,
                            names,
                            &opts,
                            tx,
                            &shared.name,
                            &what,
                        )
                        .await?
                    } else {
                        stream_rows(&conn, &bound, types, names, &opts, tx, &shared.name, &what)
                            .await?
                    };
                    // A stream stopped early (limit) still has rows in flight: drop the connection
                    // (its query is cancelled) instead of draining it.
                    if done {
                        conn.release();
                    }
                    Ok(())
                })
            },
        ))
    }

    fn encodes(&self) -> bool {
        true
    }

    fn applies_window(&self) -> bool {
        match &self.query {
            Query::Table(_) => true,
            Query::Sql(sql, _) => sql_params::param_names(sql)
                .is_ok_and(|n| n.iter().any(|n| n == "since" || n == "until")),
        }
    }

    fn statement(&self, io: &Io, opts: &ReadOptions) -> Result<Option<SourceStatement>> {
        let cols = self.columns(io)?.to_vec();
        let s = self.statement(&cols, opts)?;
        Ok(Some(SourceStatement {
            dialect: "PostgreSQL",
            sql: s.sql,
            params: s.params,
            unbounded: s.unbounded,
        }))
    }

    /// The planner's estimate (`EXPLAIN`) of the read's rows: cheap on any table size.
    fn estimate_rows(&self, io: &Io, opts: &ReadOptions) -> Result<Option<RowEstimate>> {
        let cols = self.columns(io)?.to_vec();
        let mut stmt = self.statement(&cols, opts)?;
        if stmt.is_copy() {
            stmt.sql = self.base_sql()?;
        }
        let (sql, binds) = stmt.bind().map_err(|e| self.err(e))?;
        let shared = self.shared.clone();
        let what = self.describe();
        io.block_on(async move {
            let c = shared.pool.get(&io.handle).await?;
            let explain = format!("EXPLAIN (FORMAT JSON) {sql}");
            let row = c
                .query_one(explain.as_str(), &bind::refs(&binds))
                .await
                .map_err(|e| pg_error_in(&shared.name, &what, &e))?;
            c.release();
            // `json` travels as its text in the binary format too.
            let raw: Raw<'_> = row.get(0);
            let json: serde_json::Value =
                serde_json::from_slice(raw.0.unwrap_or_default()).unwrap_or_default();
            Ok(json
                .get(0)
                .and_then(|p| p.get("Plan"))
                .and_then(|p| p.get("Plan Rows"))
                .and_then(serde_json::Value::as_f64)
                .map(|n| RowEstimate {
                    rows: n.max(0.0) as u64,
                    exact: false,
                    basis: "planner estimate",
                }))
        })
    }
}
