//! Streaming one MySQL/MariaDB statement into batches (binary protocol, `exec_iter`), on a
//! pooled connection; a read stopped early kills its query instead of draining it.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::Value as My;

use super::decode::Decoder;
use super::pool::{my_error_in, MyConn};
use super::statement::Statement;
use super::types::Kind;
use super::Shared;
use bytes::BytesMut;

use crate::connectors::{BatchSender, EncodedTarget};
use crate::data::{Batch, CursorSeen, DataType, Encoded, Refused, Value};
use crate::error::{EtlError, Result};

/// What one streaming read needs, cloneable into parallel tasks.
#[derive(Clone)]
pub struct Reader {
    pub shared: Arc<Shared>,
    pub kinds: Vec<Kind>,
    pub names: Vec<String>,
    pub batch_rows: usize,
    pub what: String,
    pub handle: tokio::runtime::Handle,
    /// The columns' types (the target's, when `encoded`).
    pub types: Vec<DataType>,
    /// Rows are written with the target's encoder instead of sent as values.
    pub encoded: Option<EncodedTarget>,
}

impl Reader {
    /// Streams one statement into `tx` on a pooled connection.
    pub async fn stream(&self, stmt: Statement, tx: &BatchSender) -> Result<()> {
        let name = &self.shared.name;
        let mut conn = self.shared.pool.get().await?;
        let id = conn.id();
        let mut finished = false;
        let r = self.read(&mut conn, stmt, tx, &mut finished).await;
        if !finished {
            // Dropped with rows unread, the pool would drain the rest of the result first.
            self.shared.pool.kill_query(&self.handle, id);
        }
        drop(conn);
        r.map_err(|e| match e {
            EtlError::Cancelled => e,
            EtlError::Database { .. } => e,
            other => EtlError::db(name, format!("{}: {other}", self.what)),
        })
    }

    async fn read(
        &self,
        conn: &mut MyConn,
        stmt: Statement,
        tx: &BatchSender,
        finished: &mut bool,
    ) -> Result<()> {
        let name = &self.shared.name;
        let params = if stmt.params.is_empty() {
            mysql_async::Params::Empty
        } else {
            mysql_async::Params::Positional(stmt.params)
        };
        let guard = conn.guard();
        let mut result = guard
            .run(conn.exec_iter(stmt.sql.as_str(), params))
            .await
            .map_err(|e| my_error_in(name, &self.what, &e))?;
        let width = self.kinds.len();
        let mut dec = Decoder::new(self.kinds.clone(), self.shared.zero_dates);
        let mut batch = Batch::new(width, 1, self.batch_rows);
        let mut encoding = self.encoded.as_ref().map(|t| Encoding::new(t, self));
        let mut n = 0u64;
        loop {
            let row = match guard.run(result.next()).await {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(e) => return Err(my_error_in(name, &self.what, &e)),
            };
            n += 1;
            let field_error = |i: usize, e: String| {
                EtlError::db(
                    name,
                    format!("{}: row {n}, column '{}': {e}", self.what, self.names[i]),
                )
            };
            if let Some(enc) = encoding.as_mut() {
                enc.row(row.unwrap_raw(), &mut dec, field_error)?;
                if enc.refused.is_some() || enc.rows >= self.batch_rows {
                    let stop = enc.refused.is_some();
                    tx.send(enc.batch(width, n + 1)).await?;
                    if stop {
                        // The load fails at the refused row: nothing after it is wanted.
                        return Ok(());
                    }
                }
                continue;
            }
            for (i, v) in row.unwrap_raw().into_iter().enumerate() {
                let v = dec
                    .decode(i, v.unwrap_or(My::NULL))
                    .map_err(|e| field_error(i, e))?;
                batch.push(v);
            }
            if batch.len() >= self.batch_rows {
                let full = std::mem::replace(&mut batch, Batch::new(width, n + 1, self.batch_rows));
                tx.send(full).await?;
            }
        }
        *finished = true;
        drop(result);
        if let Some(enc) = encoding.as_mut().filter(|e| e.rows > 0) {
            tx.send(enc.batch(width, n + 1)).await?;
        }
        if !batch.is_empty() {
            tx.send(batch).await?;
        }
        for (i, count) in dec.bad_dates.iter().enumerate() {
            if *count > 0 {
                tracing::warn!(
                    "{}: column '{}': {count} zero or invalid date(s) (such as 0000-00-00) read as NULL (zero_dates=null; add zero_dates=fail to the connection URL to refuse them)",
                    self.what,
                    self.names[i]
                );
            }
        }
        Ok(())
    }
}

/// Rows written with the target's encoder (`ReadOptions::encoded`): text straight from the
/// row's bytes, other values decoded as for a batch and checked as the load checks them.
struct Encoding<'a> {
    target: &'a EncodedTarget,
    /// Per column: a text column without a length limit, whose bytes go through as they are.
    plain: Vec<bool>,
    types: &'a [DataType],
    out: BytesMut,
    rows: usize,
    /// 1-based number of the first row in `out`.
    first: u64,
    refused: Option<Refused>,
    cursor: Option<CursorSeen>,
}

impl<'a> Encoding<'a> {
    fn new(target: &'a EncodedTarget, reader: &'a Reader) -> Encoding<'a> {
        Encoding {
            target,
            plain: reader
                .kinds
                .iter()
                .zip(&reader.types)
                .map(|(k, t)| *k == Kind::Text && *t == DataType::TEXT)
                .collect(),
            types: &reader.types,
            out: BytesMut::with_capacity(256 * 1024),
            rows: 0,
            first: 1,
            refused: None,
            cursor: target.cursor.map(|_| CursorSeen::default()),
        }
    }

    /// Encodes one row; a value the source cannot read is `field_error`'s error, one the
    /// target would refuse is `refused`.
    fn row(
        &mut self,
        fields: Vec<Option<My>>,
        dec: &mut Decoder,
        field_error: impl Fn(usize, String) -> EtlError,
    ) -> Result<()> {
        let enc = self.target.encoder.as_ref();
        let start = self.out.len();
        enc.start_row(&mut self.out);
        for (i, v) in fields.into_iter().enumerate() {
            let is_cursor = self.target.cursor == Some(i);
            let value = match v.unwrap_or(My::NULL) {
                My::Bytes(b) if self.plain[i] && !is_cursor => {
                    let put = match std::str::from_utf8(&b) {
                        Ok(s) => enc.text(i, s, &mut self.out),
                        Err(_) => {
                            return Err(field_error(
                                i,
                                dec.decode(i, My::Bytes(b)).err().unwrap_or_default(),
                            ))
                        }
                    };
                    if let Err(reason) = put {
                        self.refuse(start, i, Some(reason));
                        return Ok(());
                    }
                    continue;
                }
                // A zero date may read as NULL.
                v => dec.decode(i, v).map_err(|e| field_error(i, e))?,
            };
            if let Some(seen) = self.cursor.as_mut().filter(|_| is_cursor) {
                seen.see(Some(&value), self.rows);
            }
            let put = match value {
                Value::Null => {
                    if self.target.not_null.contains(&i) {
                        self.refuse(start, i, None);
                        return Ok(());
                    }
                    enc.null(&mut self.out);
                    continue;
                }
                value => {
                    let ty = &self.types[i];
                    let value = if value.needs_coerce(ty) {
                        value.coerce(ty)
                    } else {
                        Ok(value)
                    };
                    value.and_then(|v| enc.value(i, &v, &mut self.out))
                }
            };
            if let Err(reason) = put {
                self.refuse(start, i, Some(reason));
                return Ok(());
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Stops at the row that began at byte `start` of `out`, refused at `column`.
    fn refuse(&mut self, start: usize, column: usize, reason: Option<String>) {
        self.out.truncate(start);
        self.refused = Some(Refused {
            row: self.rows,
            column,
            reason,
        });
    }

    /// The rows so far as a batch; the next starts at row `next`.
    fn batch(&mut self, width: usize, next: u64) -> Batch {
        let batch = Batch::from_encoded(
            width,
            self.first,
            Encoded {
                bytes: self.out.split().freeze(),
                rows: std::mem::take(&mut self.rows),
                refused: self.refused.take(),
                cursor: self.cursor.as_mut().map(std::mem::take),
            },
        );
        self.first = next;
        batch
    }
}

/// Whether a column's type can split a table into key ranges.
pub fn is_integer(t: &DataType) -> bool {
    matches!(t, DataType::Int16 | DataType::Int32 | DataType::Int64)
}
