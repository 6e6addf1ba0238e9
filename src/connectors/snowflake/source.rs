//! `conn.table(..)` and `conn.sql(..)` on Snowflake, streamed in bounded batches.
//!
//! A query's first rows arrive inline (base64 Arrow); the rest are result chunks on presigned
//! URLs, fetched `chunk_parallel` at a time ahead of the decoder (spawned downloads, taken in
//! order) and kept gzip'd until their turn, gunzip'd and decoded on a blocking thread and
//! handed over through the bounded `BatchStream`. Memory is the chunks in flight (compressed),
//! one record batch, and batch size × pipeline depth. The cursor window is bound (`?`
//! placeholders), never formatted into the text.

use std::io::Read;
use std::sync::{Arc, OnceLock};

use futures_util::StreamExt;

use super::connect::Shared;
use super::decode::{self, Columns};
use super::session::{self, QueryData};
use super::types::{self, Kind, RowType};
use super::CONNECTOR;
use crate::connectors::{
    query_params, sql_params, BatchSender, BatchStream, Io, Params, ReadOptions, Relations, Source,
    SourceStatement, TableOptions,
};
use crate::data::{Batch, Column, DataType, Schema, Value};
use crate::error::{EtlError, Result};

pub struct SfRelations(pub Arc<Shared>);

impl Relations for SfRelations {
    fn table(&self, table: &str, opts: &TableOptions) -> Result<Arc<dyn Source>> {
        if opts.parallel > 1 {
            return Err(EtlError::Config(format!(
                "connection '{}': parallel reads are not supported on Snowflake (its result chunks are already fetched in parallel; set chunk_parallel= on the URL)",
                self.0.name
            )));
        }
        Ok(Arc::new(SfSource::new(
            self.0.clone(),
            Query::Table(table.to_string()),
        )))
    }

    fn query(&self, sql: &str, params: Params) -> Result<Arc<dyn Source>> {
        Ok(Arc::new(SfSource::new(
            self.0.clone(),
            Query::Sql(sql.to_string(), params),
        )))
    }
}

pub enum Query {
    Table(String),
    Sql(String, Params),
}

pub struct SfSource {
    shared: Arc<Shared>,
    query: Query,
    columns: OnceLock<Vec<(RowType, Kind, DataType, u32)>>,
}

/// An identifier as Snowflake resolves it: a plain name is upper-cased (what an unquoted
/// name means there), anything else is kept as written; both are quoted.
pub fn quote_ident(part: &str) -> String {
    format!("\"{}\"", stored_name(part).replace('"', "\"\""))
}

/// A name as Snowflake stores it: a plain name (letters, digits, `_`, `$`) upper-cased as
/// Snowflake does with unquoted names, any other kept as written.
pub fn stored_name(part: &str) -> String {
    let plain = part
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if plain {
        part.to_ascii_uppercase()
    } else {
        part.to_string()
    }
}

/// `db.schema.table`, `schema.table` or `table`, each part quoted.
pub fn quote_table(name: &str) -> std::result::Result<String, String> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "'{name}' is not a table name (TABLE, SCHEMA.TABLE or DB.SCHEMA.TABLE)"
        ));
    }
    Ok(parts
        .iter()
        .map(|p| quote_ident(p))
        .collect::<Vec<_>>()
        .join("."))
}

impl SfSource {
    fn new(shared: Arc<Shared>, query: Query) -> SfSource {
        SfSource {
            shared,
            query,
            columns: OnceLock::new(),
        }
    }

    fn err(&self, e: impl std::fmt::Display) -> EtlError {
        EtlError::db(&self.shared.name, format!("{}: {e}", self.describe()))
    }

    fn named(&self, opts: &ReadOptions) -> Result<SourceStatement> {
        let mut out = SourceStatement {
            dialect: CONNECTOR.name,
            ..SourceStatement::default()
        };
        match &self.query {
            Query::Table(name) => {
                out.sql = format!(
                    "SELECT * FROM {}",
                    quote_table(name).map_err(|e| self.err(e))?
                );
                if let Some(p) = opts
                    .window
                    .as_ref()
                    .and_then(|w| w.predicate(&quote_ident(&w.column)))
                {
                    out.sql.push_str(&format!(" WHERE {}", p.sql));
                    out.params = p.params;
                }
                if let Some(l) = opts.limit {
                    out.sql.push_str(&format!(" LIMIT {l}"));
                }
            }
            Query::Sql(text, given) => {
                out.sql = super::sql::single_statement(text).map_err(|e| self.err(e))?;
                let (_, names) = sql_params::rewrite_mysql(&out.sql).map_err(|e| self.err(e))?;
                (out.params, out.unbounded) = query_params(&names, given, opts.window.as_ref());
                if let Some(l) = opts.limit {
                    out.sql = format!("SELECT * FROM (\n{}\n) AS etl_q LIMIT {l}", out.sql);
                }
            }
        }
        Ok(out)
    }

    /// `?` placeholders and their values; open window ends bound to the extremes of the
    /// cursor's type.
    fn bound(&self, io: &Io, opts: &ReadOptions) -> Result<(String, Vec<Value>)> {
        let named = self.named(opts)?;
        let (sql, names) = sql_params::rewrite_mysql(&named.sql).map_err(|e| self.err(e))?;
        let mut values = Vec::with_capacity(names.len());
        for name in &names {
            if let Some((_, v)) = named.params.iter().find(|(k, _)| k == name) {
                values.push(v.clone());
            } else if named.unbounded.contains(name) {
                let cursor = opts.window.as_ref().map(|w| w.column.clone());
                let t = match cursor {
                    Some(c) => self
                        .columns(io)?
                        .iter()
                        .find(|col| col.0.name.eq_ignore_ascii_case(&c))
                        .map(|col| col.2.clone()),
                    None => None,
                };
                values.push(extreme(t.as_ref(), name == "until"));
            } else {
                return Err(self.err(sql_params::missing(&format!(":{name}"), &named.params)));
            }
        }
        Ok((sql, values))
    }

    /// The columns, described by the server without running the query.
    fn columns(&self, io: &Io) -> Result<&[(RowType, Kind, DataType, u32)]> {
        if let Some(c) = self.columns.get() {
            return Ok(c);
        }
        let (sql, names) = sql_params::rewrite_mysql(&self.named(&ReadOptions::default())?.sql)
            .map_err(|e| self.err(e))?;
        // Describing binds nothing; every parameter is NULL for the purpose.
        let binds = vec![Value::Null; names.len()];
        let shared = self.shared.clone();
        let data = io
            .block_on(async move {
                let s = shared.session().await?;
                s.query(&sql, &binds, true).await.map_err(|e| shared.err(e))
            })
            .map_err(|e| self.err(strip(e)))?;
        let cols = mapped(&data).map_err(|e| self.err(e))?;
        Ok(self.columns.get_or_init(|| cols))
    }
}

/// The message of a database error without its connection (the source adds it again).
fn strip(e: EtlError) -> String {
    match e {
        EtlError::Database { message, .. } => message,
        other => other.to_string(),
    }
}

fn mapped(data: &QueryData) -> std::result::Result<Vec<(RowType, Kind, DataType, u32)>, String> {
    data.rowtype
        .iter()
        .map(|c| types::map(c).map(|(k, t, s)| (c.clone(), k, t, s)))
        .collect()
}

/// The lowest or highest value of a cursor's type, for a window end left open.
fn extreme(t: Option<&DataType>, high: bool) -> Value {
    use chrono::{NaiveDate, NaiveTime};
    let day = if high {
        NaiveDate::from_ymd_opt(9999, 12, 31)
    } else {
        NaiveDate::from_ymd_opt(1, 1, 1)
    }
    .unwrap_or_default();
    match t {
        Some(DataType::Date) => Value::Date(day),
        Some(DataType::Timestamp) => Value::Timestamp(day.and_time(NaiveTime::MIN)),
        Some(DataType::TimestampTz) => Value::TimestampTz(day.and_time(NaiveTime::MIN).and_utc()),
        Some(DataType::Text { .. }) if !high => Value::Text(String::new()),
        Some(DataType::Float64 | DataType::Float32) => {
            Value::Float64(if high { f64::MAX } else { f64::MIN })
        }
        _ => Value::Int64(if high { i64::MAX } else { i64::MIN }),
    }
}

impl Source for SfSource {
    fn describe(&self) -> String {
        match &self.query {
            Query::Table(name) => format!("table {name} on connection '{}'", self.shared.name),
            Query::Sql(..) => format!("query on connection '{}'", self.shared.name),
        }
    }

    fn schema(&self, io: &Io) -> Result<Schema> {
        Ok(Schema::new(
            self.columns(io)?
                .iter()
                .map(|(c, _, t, _)| Column::new(types::column_name(&c.name), t.clone()))
                .collect(),
        ))
    }

    fn open(&self, io: &Io, opts: &ReadOptions) -> Result<BatchStream> {
        let schema = self.schema(io)?;
        let (sql, binds) = self.bound(io, opts)?;
        let shared = self.shared.clone();
        let what = self.describe();
        let batch_rows = opts.batch_rows.max(1);
        let handle = io.handle.clone();
        Ok(BatchStream::spawn_blocking(io, schema, move |tx| {
            tx.block_on(&handle, async {
                stream(&shared, &sql, &binds, batch_rows, tx, &handle)
                    .await
                    .map_err(|e| match e {
                        EtlError::Cancelled => e,
                        other => EtlError::db(&shared.name, format!("{what}: {}", strip(other))),
                    })
            })
        }))
    }

    fn applies_window(&self) -> bool {
        match &self.query {
            Query::Table(_) => true,
            Query::Sql(sql, _) => sql_params::rewrite_mysql(sql)
                .is_ok_and(|(_, n)| n.iter().any(|n| n == "since" || n == "until")),
        }
    }

    fn statement(&self, _io: &Io, opts: &ReadOptions) -> Result<Option<SourceStatement>> {
        self.named(opts).map(Some)
    }
}

/// Runs the statement and streams its rows: inline part first, then the chunks in order.
async fn stream(
    shared: &Arc<Shared>,
    sql: &str,
    binds: &[Value],
    batch_rows: usize,
    tx: &BatchSender,
    handle: &tokio::runtime::Handle,
) -> Result<()> {
    let session = shared.session().await?;
    let mut data = session
        .query(sql, binds, false)
        .await
        .map_err(|e| shared.err(e))?;
    // The inline part leaves the response as soon as it is decoded: the chunk downloads keep
    // `data` (their headers) until the last one, and it may be megabytes of base64.
    let inline = session::inline_arrow(&data).map_err(|e| shared.err(e))?;
    data.rowset_base64 = None;
    let data = Arc::new(data);
    let cols = mapped(&data).map_err(|e| shared.err(e))?;
    let columns = Columns {
        names: cols.iter().map(|c| c.0.name.clone()).collect(),
        kinds: cols.iter().map(|c| c.1).collect(),
        scales: cols.iter().map(|c| c.3).collect(),
    };
    let mut out = Batch::new(cols.len(), 1, batch_rows);
    decode_ipc(&columns, inline, &mut out, batch_rows, tx).await?;
    // Downloads run as their own tasks, `chunk_parallel` ahead of the decoder, taken in order.
    let mut chunks = futures_util::stream::iter(data.chunks.clone())
        .map(|chunk| {
            let session = session.clone();
            let data = data.clone();
            handle.spawn(async move { session.chunk(&data, &chunk).await })
        })
        .buffered(shared.settings.chunk_parallel);
    while let Some(joined) = chunks.next().await {
        let bytes = joined
            .map_err(|e| shared.err(format!("a chunk download stopped: {e}")))?
            .map_err(|e| shared.err(e))?;
        decode_ipc(&columns, bytes, &mut out, batch_rows, tx).await?;
    }
    if !out.is_empty() {
        tx.send(out).await?;
    }
    Ok(())
}

/// Gunzip'd bytes handed to the Arrow decoder at a time.
const PIECE: usize = 64 * 1024;

/// Decodes one Arrow IPC stream (a gzip'd chunk is gunzip'd as it is decoded), sending
/// every full batch.
async fn decode_ipc(
    columns: &Columns,
    bytes: Vec<u8>,
    out: &mut Batch,
    batch_rows: usize,
    tx: &BatchSender,
) -> Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let mut decoder = arrow_ipc::reader::StreamDecoder::new();
    if session::is_gzip(&bytes) {
        // Never the whole stream gunzip'd at once: the decoder gathers one message at a
        // time, so a chunk costs its compressed size plus the record batch being read.
        let mut gz = flate2::read::GzDecoder::new(&bytes[..]);
        loop {
            let mut piece = Vec::with_capacity(PIECE);
            (&mut gz)
                .take(PIECE as u64)
                .read_to_end(&mut piece)
                .map_err(|e| EtlError::Other(format!("a result chunk is not valid gzip: {e}")))?;
            if piece.is_empty() {
                break;
            }
            let buffer = arrow_buffer::Buffer::from_vec(piece);
            decode_buffer(&mut decoder, buffer, columns, out, batch_rows, tx).await?;
        }
    } else {
        // Decoded in place: the record batches point into the chunk's own bytes instead of
        // copies of them, so a chunk costs its size once while it is decoded.
        let buffer = arrow_buffer::Buffer::from_vec(bytes);
        decode_buffer(&mut decoder, buffer, columns, out, batch_rows, tx).await?;
    }
    decoder
        .finish()
        .map_err(|e| EtlError::Other(format!("the Arrow IPC result ends early: {e}")))?;
    Ok(())
}

/// Feeds `buffer` to the decoder, appending the rows of every record batch it completes.
async fn decode_buffer(
    decoder: &mut arrow_ipc::reader::StreamDecoder,
    mut buffer: arrow_buffer::Buffer,
    columns: &Columns,
    out: &mut Batch,
    batch_rows: usize,
    tx: &BatchSender,
) -> Result<()> {
    while !buffer.is_empty() {
        let Some(rb) = decoder
            .decode(&mut buffer)
            .map_err(|e| EtlError::Other(format!("the result is not Arrow IPC: {e}")))?
        else {
            continue;
        };
        let mut at = 0;
        while at < rb.num_rows() {
            let to = rb.num_rows().min(at + batch_rows - out.len());
            let row = out.first_row + out.len() as u64;
            decode::append(columns, &rb, at, to, out)
                .map_err(|e| EtlError::Other(format!("row {row} or after: {e}")))?;
            at = to;
            if out.len() >= batch_rows {
                let next = Batch::new(out.width(), out.first_row + out.len() as u64, batch_rows);
                tx.send(std::mem::replace(out, next)).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_resolve_as_snowflake_does_and_others_keep_their_case() {
        assert_eq!(quote_table("raw.orders").unwrap(), "\"RAW\".\"ORDERS\"");
        assert_eq!(quote_ident("Mixed Case"), "\"Mixed Case\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert!(quote_table("a..b").is_err());
    }
}
