//! Streaming one statement's result into batches. Bounded columns are fetched block-wise into
//! columnar buffers whose rows are chosen so the buffers stay within the byte budget; a
//! result with a long (unbounded) column is fetched row by row with SQLGetData instead.

use odbc_api::buffers::{BufferDesc, ColumnarDynBuffer};
use odbc_api::parameter::InputParameter;
use odbc_api::Cursor;

use super::types::{Fetch, OdbcType};
use crate::connectors::BatchSender;
use crate::data::{Batch, DataType, Value};
use crate::error::{EtlError, Result};

pub struct Read<'a> {
    pub name: &'a str,
    pub what: &'a str,
    pub types: &'a [OdbcType],
    pub names: &'a [String],
    pub batch_rows: usize,
    pub buffer_bytes: usize,
    pub limit: Option<u64>,
}

/// Rows per block so that the column buffers stay within `budget` bytes.
pub fn block_rows(types: &[OdbcType], batch_rows: usize, budget: usize) -> usize {
    let row: usize = types.iter().map(OdbcType::row_bytes).sum::<usize>().max(1);
    (budget / row).clamp(1, batch_rows.max(1))
}

impl Read<'_> {
    fn err(&self, row: u64, col: usize, e: impl std::fmt::Display) -> EtlError {
        EtlError::db(
            self.name,
            format!(
                "{}: row {row}, column '{}': {e}",
                self.what, self.names[col]
            ),
        )
    }

    pub fn run(
        &self,
        conn: &odbc_api::Connection<'_>,
        sql: &str,
        params: &[Box<dyn InputParameter>],
        tx: &BatchSender,
    ) -> Result<()> {
        let cursor = conn
            .execute(sql, params, None)
            .map_err(|e| EtlError::db(self.name, format!("{}: {e}", self.what)))?;
        let Some(cursor) = cursor else {
            return Err(EtlError::db(
                self.name,
                format!("{}: the statement returned no result set", self.what),
            ));
        };
        if self.types.iter().any(OdbcType::is_long) {
            self.row_by_row(cursor, tx)
        } else {
            self.block_wise(cursor, tx)
        }
    }

    fn block_wise(&self, cursor: impl Cursor, tx: &BatchSender) -> Result<()> {
        let rows = block_rows(self.types, self.batch_rows, self.buffer_bytes);
        let descs = self.types.iter().map(|t| match t.fetch {
            Fetch::Binary(n) => BufferDesc::Binary { max_bytes: n },
            Fetch::Text(n) => BufferDesc::WText { max_str_len: n },
            Fetch::LongText | Fetch::LongBinary => unreachable!("long columns are read row by row"),
        });
        let buffer = ColumnarDynBuffer::from_descs(rows, descs);
        let mut block = cursor
            .bind_buffer(buffer)
            .map_err(|e| EtlError::db(self.name, format!("{}: {e}", self.what)))?;
        let width = self.types.len();
        let mut n = 0u64;
        let mut text = String::new();
        loop {
            let fetched = block.fetch().map_err(|e| {
                EtlError::db(self.name, format!("{}: row {}: {e}", self.what, n + 1))
            })?;
            let Some(set) = fetched else { break };
            let mut take = set.num_rows();
            if let Some(l) = self.limit {
                take = take.min(l.saturating_sub(n) as usize);
            }
            let mut batch = Batch::new(width, n + 1, take);
            let cols: Vec<_> = (0..width).map(|c| set.column(c)).collect();
            for (c, col) in cols.iter().enumerate() {
                let cut = match self.types[c].fetch {
                    Fetch::Binary(max) => col
                        .as_binary()
                        .and_then(|b| b.has_truncated_values())
                        .map(|_| max),
                    Fetch::Text(max) => col
                        .as_wide_text()
                        .and_then(|t| t.has_truncated_values())
                        .map(|_| max),
                    _ => None,
                };
                if let Some(max) = cut {
                    return Err(self.err(
                        n + 1,
                        c,
                        format!(
                            "in this block of {} rows: {}",
                            set.num_rows(),
                            truncated(max)
                        ),
                    ));
                }
            }
            for r in 0..take {
                let row = n + r as u64 + 1;
                for (c, col) in cols.iter().enumerate() {
                    let v = match self.types[c].fetch {
                        Fetch::Binary(_) => {
                            let b = col.as_binary().expect("a binary buffer");
                            b.get(r).map_or(Value::Null, |v| Value::Bytes(v.to_vec()))
                        }
                        _ => {
                            let t = col.as_wide_text().expect("a text buffer");
                            match t.get(r) {
                                None => Value::Null,
                                Some(units) => {
                                    text.clear();
                                    utf16(units, &mut text).map_err(|e| self.err(row, c, e))?;
                                    decode(&text, &self.types[c].data_type)
                                        .map_err(|e| self.err(row, c, e))?
                                }
                            }
                        }
                    };
                    batch.push(v);
                }
            }
            n += take as u64;
            if !batch.is_empty() {
                tx.send_blocking(batch)?;
            }
            if self.limit.is_some_and(|l| n >= l) {
                break;
            }
        }
        Ok(())
    }

    fn row_by_row(&self, mut cursor: impl Cursor, tx: &BatchSender) -> Result<()> {
        let width = self.types.len();
        let mut n = 0u64;
        let mut batch = Batch::new(width, 1, self.batch_rows);
        let (mut wide, mut bytes, mut text) = (Vec::new(), Vec::new(), String::new());
        while let Some(mut row) = cursor
            .next_row()
            .map_err(|e| EtlError::db(self.name, format!("{}: row {}: {e}", self.what, n + 1)))?
        {
            if self.limit.is_some_and(|l| n >= l) {
                break;
            }
            n += 1;
            for c in 0..width {
                let col = (c + 1) as u16;
                let v = match self.types[c].fetch {
                    Fetch::Binary(_) | Fetch::LongBinary => {
                        let present = row
                            .get_binary(col, &mut bytes)
                            .map_err(|e| self.err(n, c, e))?;
                        if present {
                            Value::Bytes(std::mem::take(&mut bytes))
                        } else {
                            Value::Null
                        }
                    }
                    _ => {
                        let present = row
                            .get_wide_text(col, &mut wide)
                            .map_err(|e| self.err(n, c, e))?;
                        if present {
                            text.clear();
                            utf16(&wide, &mut text).map_err(|e| self.err(n, c, e))?;
                            decode(&text, &self.types[c].data_type)
                                .map_err(|e| self.err(n, c, e))?
                        } else {
                            Value::Null
                        }
                    }
                };
                batch.push(v);
            }
            if batch.len() >= self.batch_rows {
                let full = std::mem::replace(&mut batch, Batch::new(width, n + 1, self.batch_rows));
                tx.send_blocking(full)?;
            }
        }
        if !batch.is_empty() {
            tx.send_blocking(batch)?;
        }
        Ok(())
    }
}

fn truncated(max: usize) -> String {
    format!("the value is longer than the {max} the driver declared for the column; cast it in a sql(...) query to a longer or unbounded type")
}

fn utf16(units: &[u16], out: &mut String) -> std::result::Result<(), String> {
    for c in char::decode_utf16(units.iter().copied()) {
        out.push(c.map_err(|_| "text is not valid UTF-16".to_string())?);
    }
    Ok(())
}

/// A value's text as the driver gives it, parsed by the column's type. Timestamps with an
/// offset are converted to UTC (a driver reports PostgreSQL's timestamptz as a timestamp
/// with the session's offset in the text).
pub fn decode(text: &str, ty: &DataType) -> std::result::Result<Value, String> {
    match ty {
        DataType::Timestamp => match Value::parse(text, ty) {
            Ok(v) => Ok(v),
            Err(e) => match Value::parse(text, &DataType::TimestampTz) {
                Ok(Value::TimestampTz(t)) => Ok(Value::Timestamp(t.naive_utc())),
                _ => Err(e),
            },
        },
        DataType::Bool => match text.trim() {
            // Drivers print bit/boolean as 1/0; some as -1 for true.
            "-1" => Ok(Value::Bool(true)),
            t => Value::parse(t, ty),
        },
        _ => Value::parse(text, ty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_text_becomes_exact_values() {
        let d38 = DataType::Decimal {
            precision: Some(38),
            scale: Some(10),
        };
        assert_eq!(
            decode("1234567890123456789012345678.0123456789", &d38)
                .unwrap()
                .to_text()
                .unwrap(),
            "1234567890123456789012345678.0123456789"
        );
        assert_eq!(
            decode("2024-03-10 12:00:00+02", &DataType::Timestamp).unwrap(),
            Value::Timestamp(
                chrono::NaiveDate::from_ymd_opt(2024, 3, 10)
                    .unwrap()
                    .and_hms_opt(10, 0, 0)
                    .unwrap()
            )
        );
        assert_eq!(decode("1", &DataType::Bool).unwrap(), Value::Bool(true));
        assert_eq!(
            decode("", &DataType::TEXT).unwrap(),
            Value::Text(String::new())
        );
        assert!(decode("12x", &DataType::Int32).is_err());
    }

    #[test]
    fn blocks_stay_within_the_byte_budget() {
        let wide = OdbcType {
            data_type: DataType::TEXT,
            fetch: Fetch::Text(4000),
        };
        assert_eq!(block_rows(std::slice::from_ref(&wide), 2048, 8 << 20), 1047);
        assert_eq!(block_rows(&[wide.clone(), wide], 2048, 10_000), 1);
    }
}
