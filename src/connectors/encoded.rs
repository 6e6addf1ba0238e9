//! Rows a source writes with its target's `RowEncoder` (`ReadOptions::encoded`), gathered into
//! batches of encoded rows: the same checks a value batch gets on its way (a NULL key, a value
//! the target would refuse) stop the read at their row, and the cursor's values are tracked
//! for the watermark. One writer per reading thread; the sources decide only how a field is
//! read.

use bytes::BytesMut;

use super::EncodedTarget;
use crate::data::{Batch, CursorSeen, DataType, Encoded, Refused, Value};

pub struct EncodedRows<'a> {
    target: &'a EncodedTarget,
    width: usize,
    out: BytesMut,
    rows: usize,
    /// Where the row being written starts in `out`.
    row_start: usize,
    /// 1-based number (in the source) of the first row in `out`.
    first: u64,
    refused: Option<Refused>,
    cursor: Option<CursorSeen>,
}

impl<'a> EncodedRows<'a> {
    /// Rows of `width` columns; the first is the source's row `first`.
    pub fn new(target: &'a EncodedTarget, width: usize, first: u64) -> EncodedRows<'a> {
        EncodedRows {
            target,
            width,
            out: BytesMut::with_capacity(256 * 1024),
            rows: 0,
            row_start: 0,
            first,
            refused: None,
            cursor: target.cursor.map(|_| CursorSeen::default()),
        }
    }

    pub fn start_row(&mut self) {
        self.row_start = self.out.len();
        self.target.encoder.start_row(&mut self.out);
    }

    /// A NULL in column `col`.
    pub fn null(&mut self, col: usize) {
        if self.refused.is_some() {
            return;
        }
        self.see(col, None);
        if self.target.not_null.contains(&col) {
            self.refuse(col, None);
            return;
        }
        self.target.encoder.null(&mut self.out);
    }

    /// A non-NULL text of column `col`, a text column without a length limit.
    pub fn text(&mut self, col: usize, s: &str) {
        if self.refused.is_some() {
            return;
        }
        if self.target.cursor == Some(col) {
            self.see(col, Some(&Value::Text(s.to_string())));
        }
        if let Err(reason) = self.target.encoder.text(col, s, &mut self.out) {
            self.refuse(col, Some(reason));
        }
    }

    /// A value of column `col`, whose type in the target is `ty`: converted and checked as the
    /// load converts a value of a batch (`Value::needs_coerce`), then encoded.
    pub fn value(&mut self, col: usize, v: Value, ty: &DataType) {
        if v.is_null() {
            return self.null(col);
        }
        if self.refused.is_some() {
            return;
        }
        self.see(col, Some(&v));
        let v = if v.needs_coerce(ty) {
            v.coerce(ty)
        } else {
            Ok(v)
        };
        if let Err(reason) = v.and_then(|v| self.target.encoder.value(col, &v, &mut self.out)) {
            self.refuse(col, Some(reason));
        }
    }

    /// Ends the row; false when it was refused (the read stops: send the batch and end).
    pub fn end_row(&mut self) -> bool {
        if self.refused.is_some() {
            self.out.truncate(self.row_start);
            return false;
        }
        self.rows += 1;
        true
    }

    /// Rows written since the last batch.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The rows so far as a batch; the next one starts at the source's row `next`.
    pub fn batch(&mut self, next: u64) -> Batch {
        let batch = Batch::from_encoded(
            self.width,
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

    /// Tracks column `col`'s value when it is the cursor.
    fn see(&mut self, col: usize, v: Option<&Value>) {
        if self.target.cursor == Some(col) {
            if let Some(seen) = self.cursor.as_mut() {
                seen.see(v, self.rows);
            }
        }
    }

    fn refuse(&mut self, column: usize, reason: Option<String>) {
        self.refused = Some(Refused {
            row: self.rows,
            column,
            reason,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::connectors::{Encoding, RowEncoder};

    /// Writes each value as its text between brackets.
    struct Brackets;

    impl RowEncoder for Brackets {
        fn start_row(&self, out: &mut BytesMut) {
            out.extend_from_slice(b"|");
        }
        fn null(&self, out: &mut BytesMut) {
            out.extend_from_slice(b"[]");
        }
        fn value(&self, _: usize, v: &Value, out: &mut BytesMut) -> Result<(), String> {
            out.extend_from_slice(format!("[{}]", v.to_text().unwrap_or_default()).as_bytes());
            Ok(())
        }
        fn text(&self, _: usize, s: &str, out: &mut BytesMut) -> Result<(), String> {
            if s.contains('!') {
                return Err("no shouting".into());
            }
            out.extend_from_slice(format!("[{s}]").as_bytes());
            Ok(())
        }
    }

    fn target() -> EncodedTarget {
        EncodedTarget {
            encoding: Encoding::PgCopyBinary,
            columns: vec![],
            not_null: vec![0],
            cursor: Some(1),
            encoder: Arc::new(Brackets),
        }
    }

    #[test]
    fn rows_are_checked_and_the_cursor_tracked_as_a_batch_of_values_would_be() {
        let target = target();
        let mut w = EncodedRows::new(&target, 2, 11);
        let int = DataType::Int64;
        for (id, at) in [(1, Some(5)), (2, None), (3, Some(2))] {
            w.start_row();
            w.value(0, Value::Int64(id), &int);
            w.value(1, at.map_or(Value::Null, Value::Int64), &int);
            assert!(w.end_row());
        }
        let b = w.batch(14);
        assert_eq!((b.first_row, b.len()), (11, 3));
        let e = b.encoded.expect("encoded");
        assert_eq!(&e.bytes[..], b"|[1][5]|[2][]|[3][2]");
        let seen = e.cursor.expect("cursor");
        assert_eq!(
            (seen.min, seen.max, seen.nulls, seen.first_null),
            (Some(Value::Int64(2)), Some(Value::Int64(5)), 1, Some(1))
        );

        // A refused text, then a NULL key: each stops at its row, which is not written.
        w.start_row();
        w.value(0, Value::Int64(4), &int);
        w.text(1, "hey!");
        assert!(!w.end_row());
        let e = w.batch(15).encoded.expect("encoded");
        assert_eq!((e.rows, &e.bytes[..]), (0, &b""[..]));
        let r = e.refused.expect("refused");
        assert_eq!(
            (r.row, r.column, r.reason.as_deref()),
            (0, 1, Some("no shouting"))
        );
        w.start_row();
        w.value(0, Value::Null, &int);
        assert!(!w.end_row());
        let r = w
            .batch(16)
            .encoded
            .expect("encoded")
            .refused
            .expect("refused");
        assert_eq!((r.row, r.column, r.reason), (0, 0, None));
    }
}
