//! Streaming a PostgreSQL read into batches: binary COPY when nothing is bound, the extended
//! protocol (with back-pressure) when parameters are; both decode with the same codecs.

use futures_util::{pin_mut, StreamExt};
use tokio_postgres::types::{FromSql, Type};

use super::bind::{self, Bind};
use super::copy_out::{CopyDecoder, CopyFramer, Framed};
use super::error::pg_error_in;
use super::types::{PgType, Wire};
use super::wire;
use crate::connectors::encoded::EncodedRows;
use crate::connectors::{BatchSender, ReadOptions};
use crate::data::{Batch, DataType, Encoded};
use crate::error::{EtlError, Result};

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

/// Streams `COPY (sql) TO STDOUT (FORMAT binary)`; true when the stream was read to its end.
#[allow(clippy::too_many_arguments)]
pub(super) async fn stream_copy(
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
        if decoder.finished() && opts.limit.is_some_and(|l| decoder.rows() >= l) {
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

/// Streams `COPY (sql) TO STDOUT (FORMAT binary)` rows undecoded (`Batch::encoded`) for a
/// target taking the same format and types; true when the stream was read to its end.
pub(super) async fn stream_copy_encoded(
    conn: &tokio_postgres::Client,
    copy: &str,
    mut framer: CopyFramer,
    opts: &ReadOptions,
    tx: &BatchSender,
    connection: &str,
    what: &str,
) -> Result<bool> {
    let stream = conn
        .copy_out(copy)
        .await
        .map_err(|e| pg_error_in(connection, what, &e))?;
    pin_mut!(stream);
    let width = framer.width();
    let mut framed = Framed::default();
    let mut sent = 0u64;
    let send = |framed: &mut Framed, sent: &mut u64| {
        let f = std::mem::take(framed);
        let batch = Batch::from_encoded(
            width,
            *sent + 1,
            Encoded {
                bytes: f.bytes.freeze(),
                rows: f.rows,
                refused: f.refused,
                cursor: f.cursor,
            },
        );
        *sent += f.rows as u64;
        batch
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| pg_error_in(connection, what, &e))?;
        framer
            .feed(&chunk, &mut framed, opts.limit)
            .map_err(|e| EtlError::db(connection, format!("{what}: {e}")))?;
        if framed.rows >= opts.batch_rows {
            tx.send(send(&mut framed, &mut sent)).await?;
        }
        if framer.finished() && opts.limit.is_some_and(|l| framer.rows() >= l) {
            if framed.rows > 0 {
                tx.send(send(&mut framed, &mut sent)).await?;
            }
            return Ok(false);
        }
    }
    framer
        .end()
        .map_err(|e| EtlError::db(connection, format!("{what}: {e}")))?;
    if framed.rows > 0 {
        tx.send(send(&mut framed, &mut sent)).await?;
    }
    Ok(true)
}

/// Streams a parameterised query with the extended protocol; true when read to its end. With
/// `opts.encoded` the rows are written with the target's encoder (text as it is, other values
/// decoded and checked as for a batch).
#[allow(clippy::too_many_arguments)]
pub(super) async fn stream_rows(
    conn: &tokio_postgres::Client,
    stmt: &(String, Vec<Bind>),
    types: Vec<PgType>,
    names: Vec<String>,
    opts: &ReadOptions,
    tx: &BatchSender,
    connection: &str,
    what: &str,
) -> Result<bool> {
    let mut encoded = opts
        .encoded
        .as_ref()
        .map(|t| EncodedRows::new(t, types.len(), 1));
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
        let field_error = |i: usize, e: String| {
            EtlError::db(
                connection,
                format!("{what}: row {n}, column '{}': {e}", names[i]),
            )
        };
        if let Some(w) = encoded.as_mut() {
            w.start_row();
            for (i, t) in types.iter().enumerate() {
                let raw: Raw<'_> = row
                    .try_get(i)
                    .map_err(|e| EtlError::db(connection, format!("{what}: row {n}: {e}")))?;
                match raw.0 {
                    None => w.null(i),
                    Some(b) if t.wire == Wire::Text && t.data_type == DataType::TEXT => {
                        match std::str::from_utf8(b) {
                            Ok(s) => w.text(i, s),
                            Err(_) => {
                                let e = wire::decode(b, t).err().unwrap_or_default();
                                return Err(field_error(i, e));
                            }
                        }
                    }
                    Some(b) => {
                        let v = wire::decode(b, t).map_err(|e| field_error(i, e))?;
                        w.value(i, v, &t.data_type);
                    }
                }
            }
            if !w.end_row() {
                // The load fails at the refused row: nothing after it is wanted.
                tx.send(w.batch(n + 1)).await?;
                return Ok(false);
            }
            if w.rows() >= opts.batch_rows {
                tx.send(w.batch(n + 1)).await?;
            }
            continue;
        }
        for (i, t) in types.iter().enumerate() {
            let raw: Raw<'_> = row
                .try_get(i)
                .map_err(|e| EtlError::db(connection, format!("{what}: row {n}: {e}")))?;
            match raw.0 {
                None => batch.push(crate::data::Value::Null),
                Some(b) => batch.push(wire::decode(b, t).map_err(|e| field_error(i, e))?),
            }
        }
        if batch.len() >= opts.batch_rows {
            let full = std::mem::replace(&mut batch, Batch::new(width, n + 1, opts.batch_rows));
            tx.send(full).await?;
        }
    }
    if let Some(w) = encoded.as_mut().filter(|w| w.rows() > 0) {
        tx.send(w.batch(n + 1)).await?;
    }
    if !batch.is_empty() {
        tx.send(batch).await?;
    }
    Ok(true)
}
