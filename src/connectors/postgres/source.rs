//! `conn.table(..)` and `conn.sql(..)` on PostgreSQL, streamed in bounded batches.
//!
//! Without parameters the rows come through `COPY (query) TO STDOUT (FORMAT binary)`: the server
//! streams without per-row protocol round trips and the client decodes raw bytes. With
//! parameters (a cursor window, `:name` values) COPY cannot bind, so the extended protocol
//! streams the rows (tokio-postgres applies back-pressure, so memory stays bounded). Either way
//! values are decoded by the same binary codecs. Columns of types without a binary codec
//! (inet, money, ...) are read as text.

use std::sync::{Arc, OnceLock};

use futures_util::{pin_mut, StreamExt};
use tokio_postgres::types::{FromSql, Type};

use super::bind::{self, Bind, BindValue};
use super::copy_out::CopyDecoder;
use super::error::pg_error_in;
use super::types::{quote_ident, PgType, TableName};
use super::{wire, Shared};
use crate::connectors::{
    sql_params, BatchSender, BatchStream, Io, Params, ReadOptions, Relations, RowEstimate, Source,
    SourceStatement, TableOptions,
};
use crate::data::{Batch, Column, Schema};
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
    plain_table: OnceLock<bool>,
}

/// Any value's raw bytes (NULL as None), to decode with our own codecs.
pub struct Raw<'a>(pub Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw)))
    }

    fn from_sql_null(
        _: &Type,
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// The SQL of a read with named parameters: `COPY ... TO STDOUT` when nothing is bound.
struct Statement {
    sql: String,
    params: Params,
    /// `:since` / `:until` without a value: bound to the extremes of the cursor's type.
    unbounded: Vec<String>,
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

    fn base_sql(&self) -> Result<String> {
        match &self.query {
            Query::Table(t) => Ok(format!(
                "SELECT * FROM {}",
                TableName::parse(t).map_err(|e| self.err(e))?.quoted()
            )),
            Query::Sql(sql, _) => single_statement(sql).map_err(|e| self.err(e)),
        }
    }

    fn err(&self, e: impl std::fmt::Display) -> EtlError {
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

    /// The statement for a read: the window pushed down for tables, `:since`/`:until` bound
    /// for SQL (open ends as the extremes of their type), unsupported types cast to text. The
    /// text keeps named parameters; `bind` turns it into what the server gets.
    fn statement(&self, cols: &[(String, PgType)], opts: &ReadOptions) -> Result<Statement> {
        let cast_needed = cols.iter().any(|(_, t)| !t.supported());
        match &self.query {
            Query::Table(t) => {
                let table = TableName::parse(t).map_err(|e| self.err(e))?;
                let list = if cast_needed {
                    cols.iter()
                        .map(|(n, t)| select_item(&quote_ident(n), n, t))
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    "*".to_string()
                };
                let mut sql = format!("SELECT {list} FROM {}", table.quoted());
                let mut params = Params::new();
                if let Some(p) = opts
                    .window
                    .as_ref()
                    .and_then(|w| w.predicate(&quote_ident(&w.column)))
                {
                    sql.push_str(&format!(" WHERE {}", p.sql));
                    params = p.params;
                }
                let plain = self.plain_table.get().copied().unwrap_or(false);
                if plain && !cast_needed && params.is_empty() {
                    // Cheaper for the server than `COPY (SELECT ...)`.
                    sql = format!("COPY {} TO STDOUT (FORMAT binary)", table.quoted());
                }
                Ok(Statement {
                    sql,
                    params,
                    unbounded: Vec::new(),
                })
            }
            Query::Sql(text, given) => {
                let mut sql = single_statement(text).map_err(|e| self.err(e))?;
                let names = sql_params::param_names(&sql).map_err(|e| self.err(e))?;
                let mut params = given.clone();
                let mut unbounded = Vec::new();
                let window = opts.window.as_ref();
                for name in ["since", "until"] {
                    if !names.iter().any(|n| n == name) || given.iter().any(|(k, _)| k == name) {
                        continue;
                    }
                    let value = match name {
                        "since" => window.and_then(|w| w.since.clone()),
                        _ => window.and_then(|w| w.until.clone()),
                    };
                    match value {
                        Some(v) => params.push((name.to_string(), v)),
                        None => unbounded.push(name.to_string()),
                    }
                }
                if cast_needed {
                    let aliases: Vec<String> = (1..=cols.len()).map(|i| format!("c{i}")).collect();
                    let list: Vec<String> = cols
                        .iter()
                        .zip(&aliases)
                        .map(|((n, t), a)| select_item(&format!("etl_q.{a}"), n, t))
                        .collect();
                    sql = format!(
                        "SELECT {} FROM (\n{sql}\n) AS etl_q({})",
                        list.join(", "),
                        aliases.join(", ")
                    );
                }
                if params.is_empty() && unbounded.is_empty() {
                    sql = format!("COPY (\n{sql}\n) TO STDOUT (FORMAT binary)");
                }
                Ok(Statement {
                    sql,
                    params,
                    unbounded,
                })
            }
        }
    }
}

impl Statement {
    /// Whether the server streams it with COPY (no parameters to bind).
    fn is_copy(&self) -> bool {
        self.sql.starts_with("COPY ")
    }

    /// The text for the server (`$n`) and the values, open window ends as the extremes of
    /// whatever type the server infers.
    fn bind(&self) -> std::result::Result<(String, Vec<Bind>), String> {
        let mut params = self.params.clone();
        for name in &self.unbounded {
            params.push((name.clone(), crate::data::Value::Null));
        }
        let (sql, mut binds) = bind::prepare(&self.sql, &params)?;
        for b in binds.iter_mut() {
            if self.unbounded.contains(&b.name) {
                b.value = if b.name == "since" {
                    BindValue::Lowest
                } else {
                    BindValue::Highest
                };
            }
        }
        Ok((sql, binds))
    }
}

/// A column in a select list, read as text when its type has no binary codec here.
fn select_item(expr: &str, name: &str, t: &PgType) -> String {
    if t.supported() {
        format!("{expr} AS {}", quote_ident(name))
    } else {
        format!("{expr}::text AS {}", quote_ident(name))
    }
}

/// The one statement of a `sql(...)` source, without a trailing `;` (it is wrapped in COPY).
fn single_statement(sql: &str) -> std::result::Result<String, String> {
    let parts = sql_params::split_statements(sql)?;
    match parts.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err("the query is empty".into()),
        _ => Err(format!(
            "a query source is one statement; this text has {}",
            parts.len()
        )),
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
                let rt = handle.clone();
                rt.block_on(async move {
                    let conn = shared.pool.get(&handle).await?;
                    let done = if stmt.is_copy() {
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

/// Streams `COPY (sql) TO STDOUT (FORMAT binary)`; true when the stream was read to its end.
#[allow(clippy::too_many_arguments)]
async fn stream_copy(
    conn: &tokio_postgres::Client,
    copy: &str,
    types: Vec<PgType>,
    names: Vec<String>,
    opts: &ReadOptions,
    tx: &BatchSender,
    connection: &str,
    what: &str,
) -> Result<bool> {
    let width = types.len();
    let stream = conn
        .copy_out(copy)
        .await
        .map_err(|e| pg_error_in(connection, what, &e))?;
    pin_mut!(stream);
    let mut decoder = CopyDecoder::new(types, names);
    let mut batch = Batch::new(width, 1, opts.batch_rows);
    let mut sent = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| pg_error_in(connection, what, &e))?;
        decoder
            .feed(&chunk, &mut batch, opts.limit)
            .map_err(|e| EtlError::db(connection, format!("{what}: {e}")))?;
        if batch.len() >= opts.batch_rows {
            sent += batch.len() as u64;
            let full = std::mem::replace(&mut batch, Batch::new(width, sent + 1, opts.batch_rows));
            tx.send(full).await?;
        }
        if decoder.finished() && opts.limit.is_some_and(|l| decoder.rows >= l) {
            if !batch.is_empty() {
                tx.send(batch).await?;
            }
            return Ok(false);
        }
    }
    decoder
        .end()
        .map_err(|e| EtlError::db(connection, format!("{what}: {e}")))?;
    if !batch.is_empty() {
        tx.send(batch).await?;
    }
    Ok(true)
}

/// Streams a parameterised query with the extended protocol; true when read to its end.
#[allow(clippy::too_many_arguments)]
async fn stream_rows(
    conn: &tokio_postgres::Client,
    stmt: &(String, Vec<Bind>),
    types: Vec<PgType>,
    names: Vec<String>,
    opts: &ReadOptions,
    tx: &BatchSender,
    connection: &str,
    what: &str,
) -> Result<bool> {
    let width = types.len();
    let prepared = conn
        .prepare(&stmt.0)
        .await
        .map_err(|e| pg_error_in(connection, what, &e))?;
    let rows = conn
        .query_raw(&prepared, bind::refs(&stmt.1))
        .await
        .map_err(|e| pg_error_in(connection, what, &e))?;
    pin_mut!(rows);
    let mut batch = Batch::new(width, 1, opts.batch_rows);
    let mut n = 0u64;
    while let Some(row) = rows.next().await {
        let row = row.map_err(|e| pg_error_in(connection, what, &e))?;
        if opts.limit.is_some_and(|l| n >= l) {
            if !batch.is_empty() {
                tx.send(batch).await?;
            }
            return Ok(false);
        }
        n += 1;
        for (i, t) in types.iter().enumerate() {
            let raw: Raw<'_> = row
                .try_get(i)
                .map_err(|e| EtlError::db(connection, format!("{what}: row {n}: {e}")))?;
            match raw.0 {
                None => batch.push(crate::data::Value::Null),
                Some(b) => batch.push(wire::decode(b, t).map_err(|e| {
                    EtlError::db(
                        connection,
                        format!("{what}: row {n}, column '{}': {e}", names[i]),
                    )
                })?),
            }
        }
        if batch.len() >= opts.batch_rows {
            let full = std::mem::replace(&mut batch, Batch::new(width, n + 1, opts.batch_rows));
            tx.send(full).await?;
        }
    }
    if !batch.is_empty() {
        tx.send(batch).await?;
    }
    Ok(true)
}
