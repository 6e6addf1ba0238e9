//! Values as Salesforce sends them (JSON from the REST API, CSV text from the Bulk API) made
//! into typed values, and rows gathered into bounded batches: the exact read window, the row
//! limit and the batch size are applied here once for both readers.

use serde_json::value::RawValue;

use crate::connectors::{BatchSender, CursorWindow};
use crate::data::{Batch, DataType, Value};
use crate::error::{EtlError, Result};

/// Text as a value of `ty`. Salesforce writes datetimes as `2024-01-31T10:00:00.000+0000`
/// (REST) or `...000Z` (Bulk) and times as `10:00:00.000Z`; both are UTC.
pub fn from_text(text: &str, ty: &DataType) -> std::result::Result<Value, String> {
    match ty {
        DataType::Time => Value::parse(text.trim_end_matches('Z'), ty),
        DataType::Json => Ok(Value::Json(
            serde_json::to_string(text).map_err(|e| e.to_string())?,
        )),
        _ => Value::parse(text, ty),
    }
}

/// A JSON value (kept as its text, so 12.50 stays exact) as a value of `ty`.
pub fn from_json(raw: &RawValue, ty: &DataType) -> std::result::Result<Value, String> {
    let text = raw.get().trim();
    match text.as_bytes().first() {
        None | Some(b'n') => Ok(Value::Null),
        Some(b'"') => {
            let s: String = serde_json::from_str(text).map_err(|e| e.to_string())?;
            from_text(&s, ty)
        }
        Some(b'{' | b'[') if *ty == DataType::Json => Ok(Value::Json(text.to_string())),
        Some(b'{' | b'[') => Err(format!("an object where a {ty} was expected")),
        Some(_) if *ty == DataType::Json => Ok(Value::Json(text.to_string())),
        Some(_) => Value::parse(text, ty),
    }
}

/// Rows into batches of `batch_rows`, sent as they fill.
pub struct Emitter<'a> {
    tx: &'a BatchSender,
    width: usize,
    batch_rows: usize,
    limit: Option<u64>,
    /// The window and the position of its column: rows outside it are left out (the query
    /// asked for whole seconds around it).
    window: Option<(usize, CursorWindow)>,
    batch: Batch,
    pub rows: u64,
}

impl<'a> Emitter<'a> {
    pub fn new(
        tx: &'a BatchSender,
        width: usize,
        batch_rows: usize,
        limit: Option<u64>,
        window: Option<(usize, CursorWindow)>,
    ) -> Emitter<'a> {
        let batch_rows = batch_rows.max(1);
        Emitter {
            tx,
            width,
            batch_rows,
            limit,
            window,
            batch: Batch::new(width, 1, batch_rows),
            rows: 0,
        }
    }

    /// Whether more rows are wanted.
    pub fn wants_more(&self) -> bool {
        self.limit.is_none_or(|l| self.rows < l)
    }

    /// Adds a row; false when the limit is reached.
    pub async fn push(&mut self, row: Vec<Value>) -> Result<bool> {
        if let Some((i, w)) = &self.window {
            let keep = match &row[*i] {
                Value::Null => w.until.is_none(),
                v => w.contains(v),
            };
            if !keep {
                return Ok(true);
            }
        }
        self.batch.push_row(row);
        self.rows += 1;
        if self.batch.len() >= self.batch_rows {
            self.flush().await?;
        }
        Ok(self.wants_more())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let next = Batch::new(self.width, self.rows + 1, self.batch_rows);
        let full = std::mem::replace(&mut self.batch, next);
        self.tx.send(full).await
    }

    pub async fn finish(mut self) -> Result<u64> {
        self.flush().await?;
        Ok(self.rows)
    }
}

/// A value that is not its column's type: which column, which record, what to do.
pub fn bad_value(source: &str, column: &str, record: u64, why: String) -> EtlError {
    EtlError::Other(format!(
        "{source}: record {record}, column {column}: {why} (the field's type in describe does not match what the API sent)"
    ))
}
