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
        Some(_) if matches!(ty, DataType::Decimal { .. }) => {
            Value::parse(&plain_decimal(text).unwrap_or_else(|| text.to_string()), ty)
        }
        Some(_) => Value::parse(text, ty),
    }
}

/// `1.5E7` (how the API writes large doubles and currencies) as `15000000`, digit for digit:
/// the exponent moves the point, no float in between. None when `text` has no exponent.
fn plain_decimal(text: &str) -> Option<String> {
    let (mantissa, exp) = text.split_once(['e', 'E'])?;
    let exp: i64 = exp.parse().ok()?;
    let (sign, m) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (int, frac) = m.split_once('.').unwrap_or((m, ""));
    let digits = format!("{int}{frac}");
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) || exp.abs() > 400 {
        return None;
    }
    let point = int.len() as i64 + exp;
    let out = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        format!(
            "{}.{}",
            &digits[..point as usize],
            &digits[point as usize..]
        )
    };
    Some(format!("{sign}{out}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_move_the_point_without_floats() {
        assert_eq!(plain_decimal("1.5E7").unwrap(), "15000000");
        assert_eq!(plain_decimal("-1.25e-3").unwrap(), "-0.00125");
        assert_eq!(
            plain_decimal("1.23456789012345678E2").unwrap(),
            "123.456789012345678"
        );
        assert_eq!(plain_decimal("12.50"), None);
        let ty = DataType::Decimal {
            precision: Some(18),
            scale: Some(2),
        };
        let raw = serde_json::value::RawValue::from_string("1.5E7".into()).unwrap();
        assert_eq!(
            from_json(&raw, &ty).unwrap().to_text().unwrap(),
            "15000000.00"
        );
        let t = from_text("2024-01-31T10:00:00.000+0000", &DataType::TimestampTz).unwrap();
        assert_eq!(
            t,
            from_text("2024-01-31T10:00:00.000Z", &DataType::TimestampTz).unwrap()
        );
    }
}
