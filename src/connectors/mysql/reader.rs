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
use crate::connectors::encoded::EncodedRows;
use crate::connectors::{BatchSender, EncodedTarget};
use crate::data::{Batch, DataType};
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
        let mut encoded = self.encoded.as_ref().map(|t| EncodedRows::new(t, width, 1));
        // Text columns without a length limit, whose bytes go through as they are.
        let plain: Vec<bool> = self
            .kinds
            .iter()
            .zip(&self.types)
            .map(|(k, t)| *k == Kind::Text && *t == DataType::TEXT)
            .collect();
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
            if let Some(w) = encoded.as_mut() {
                if !encode_row(w, row.unwrap_raw(), self, &plain, &mut dec, field_error)? {
                    // The load fails at the refused row: nothing after it is wanted.
                    tx.send(w.batch(n + 1)).await?;
                    return Ok(());
                }
                if w.rows() >= self.batch_rows {
                    tx.send(w.batch(n + 1)).await?;
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
        if let Some(w) = encoded.as_mut().filter(|w| w.rows() > 0) {
            tx.send(w.batch(n + 1)).await?;
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

/// One row written with the target's encoder (`ReadOptions::encoded`): text straight from the
/// row's bytes, other values decoded as for a batch; false when the target refused it.
fn encode_row(
    w: &mut EncodedRows<'_>,
    fields: Vec<Option<My>>,
    reader: &Reader,
    plain: &[bool],
    dec: &mut Decoder,
    field_error: impl Fn(usize, String) -> EtlError,
) -> Result<bool> {
    w.start_row();
    for (i, v) in fields.into_iter().enumerate() {
        match v.unwrap_or(My::NULL) {
            My::Bytes(b) if plain[i] => match std::str::from_utf8(&b) {
                Ok(s) => w.text(i, s),
                Err(_) => {
                    let e = dec.decode(i, My::Bytes(b)).err().unwrap_or_default();
                    return Err(field_error(i, e));
                }
            },
            // A zero date may read as NULL.
            v => {
                let value = dec.decode(i, v).map_err(|e| field_error(i, e))?;
                w.value(i, value, &reader.types[i]);
            }
        }
    }
    Ok(w.end_row())
}

/// Whether a column's type can split a table into key ranges.
pub fn is_integer(t: &DataType) -> bool {
    matches!(t, DataType::Int16 | DataType::Int32 | DataType::Int64)
}
