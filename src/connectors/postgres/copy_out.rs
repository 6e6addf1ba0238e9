//! A decoder for `COPY ... TO STDOUT (FORMAT binary)`: header, then per row a field count and
//! length-prefixed fields, then a -1 trailer. The server sends one row per message, but the
//! protocol does not promise it, so rows split across chunks are stitched together.

use bytes::{Buf, BytesMut};

use super::types::{PgType, Wire};
use super::wire;
use crate::data::{Batch, CursorSeen, Refused, Value};

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// What is done with each whole row: its bytes and its 1-based number.
type OnRow<'a> = dyn FnMut(&[u8], u64) -> Result<(), String> + 'a;

/// The framing of a binary COPY stream: whole rows out of chunks that may end anywhere.
struct Frames {
    width: usize,
    header_done: bool,
    finished: bool,
    /// The tail of a row that continues in the next chunk.
    pending: BytesMut,
    /// Rows seen so far (for error messages).
    rows: u64,
}

impl Frames {
    fn new(width: usize) -> Frames {
        Frames {
            width,
            header_done: false,
            finished: false,
            pending: BytesMut::new(),
            rows: 0,
        }
    }

    /// Hands each whole row in `chunk` (with what was pending) to `row` as its bytes (field
    /// count first) and its 1-based number; stops at `limit` rows when given.
    fn feed(
        &mut self,
        chunk: &[u8],
        limit: Option<u64>,
        row: &mut OnRow<'_>,
    ) -> Result<(), String> {
        if self.pending.is_empty() {
            let used = self.parse(chunk, limit, row)?;
            if used < chunk.len() && !self.finished {
                self.pending.extend_from_slice(&chunk[used..]);
            }
        } else {
            self.pending.extend_from_slice(chunk);
            let mut data = std::mem::take(&mut self.pending);
            let used = self.parse(&data, limit, row)?;
            data.advance(used);
            self.pending = data;
        }
        Ok(())
    }

    fn end(&self) -> Result<(), String> {
        if self.finished || (self.pending.is_empty() && self.header_done) {
            Ok(())
        } else {
            Err(format!(
                "the COPY stream ended inside row {}",
                self.rows + 1
            ))
        }
    }

    fn parse(
        &mut self,
        data: &[u8],
        limit: Option<u64>,
        row: &mut OnRow<'_>,
    ) -> Result<usize, String> {
        let mut at = 0;
        if !self.header_done {
            if data.len() < 19 {
                return Ok(0);
            }
            if &data[..11] != SIGNATURE {
                return Err("not a binary COPY stream".into());
            }
            let ext = i32::from_be_bytes(data[15..19].try_into().expect("4 bytes")) as usize;
            if data.len() < 19 + ext {
                return Ok(0);
            }
            at = 19 + ext;
            self.header_done = true;
        }
        while !self.finished {
            if limit.is_some_and(|l| self.rows >= l) {
                self.finished = true;
                break;
            }
            let Some(count) = data.get(at..at + 2) else {
                break;
            };
            let count = i16::from_be_bytes([count[0], count[1]]);
            if count == -1 {
                self.finished = true;
                at += 2;
                break;
            }
            if count as usize != self.width {
                return Err(format!(
                    "row {} has {count} fields, expected {}",
                    self.rows + 1,
                    self.width
                ));
            }
            // Only a whole row is handed on.
            let mut p = at + 2;
            let mut complete = true;
            for _ in 0..self.width {
                let Some(len) = data.get(p..p + 4) else {
                    complete = false;
                    break;
                };
                let len = i32::from_be_bytes(len.try_into().expect("4 bytes"));
                p += 4 + len.max(0) as usize;
                if p > data.len() {
                    complete = false;
                    break;
                }
            }
            if !complete {
                break;
            }
            self.rows += 1;
            row(&data[at..p], self.rows)?;
            at = p;
        }
        Ok(at)
    }
}

/// The fields of one whole row (its bytes from `Frames`): None for NULL.
fn fields(row: &[u8]) -> impl Iterator<Item = Option<&[u8]>> {
    let mut q = 2;
    std::iter::from_fn(move || {
        let len = i32::from_be_bytes(row.get(q..q + 4)?.try_into().expect("4 bytes"));
        q += 4;
        if len < 0 {
            return Some(None);
        }
        let raw = &row[q..q + len as usize];
        q += len as usize;
        Some(Some(raw))
    })
}

/// Hands `each` the fields of `columns` of every row in `tuples` (whole binary COPY rows back
/// to back, as `Encoded::bytes` holds them), in one pass: the position in `columns` and the
/// field, None for NULL. False when the bytes end inside a row.
pub fn column_fields(
    tuples: &[u8],
    columns: &[usize],
    each: &mut dyn FnMut(usize, Option<&[u8]>),
) -> bool {
    let mut at = 0;
    while at < tuples.len() {
        let Some(count) = tuples.get(at..at + 2) else {
            return false;
        };
        let count = i16::from_be_bytes([count[0], count[1]]);
        at += 2;
        for i in 0..count.max(0) as usize {
            let Some(len) = tuples.get(at..at + 4) else {
                return false;
            };
            let len = i32::from_be_bytes(len.try_into().expect("4 bytes"));
            at += 4;
            let field = if len < 0 {
                None
            } else {
                let Some(raw) = tuples.get(at..at + len as usize) else {
                    return false;
                };
                at += len as usize;
                Some(raw)
            };
            // A column may be asked for twice (two checks on it): each gets it.
            for (k, _) in columns.iter().enumerate().filter(|(_, c)| **c == i) {
                each(k, field);
            }
        }
    }
    true
}

/// Decodes a binary COPY stream into values.
pub struct CopyDecoder {
    frames: Frames,
    types: Vec<PgType>,
    names: Vec<String>,
}

impl CopyDecoder {
    pub fn new(types: Vec<PgType>, names: Vec<String>) -> CopyDecoder {
        CopyDecoder {
            frames: Frames::new(types.len()),
            types,
            names,
        }
    }

    /// Decodes the whole rows in `chunk` (with what was pending) into `batch`; stops at `limit`
    /// rows when given.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        batch: &mut Batch,
        limit: Option<u64>,
    ) -> Result<(), String> {
        let (types, names) = (&self.types, &self.names);
        self.frames.feed(chunk, limit, &mut |row, n| {
            for ((raw, ty), name) in fields(row).zip(types).zip(names) {
                batch.push(match raw {
                    None => Value::Null,
                    Some(raw) => wire::decode(raw, ty)
                        .map_err(|e| format!("row {n}, column '{name}': {e}"))?,
                });
            }
            Ok(())
        })
    }

    /// Rows decoded so far.
    pub fn rows(&self) -> u64 {
        self.frames.rows
    }

    /// Whether the trailer was seen (or the limit reached).
    pub fn finished(&self) -> bool {
        self.frames.finished
    }

    /// Checks the stream ended cleanly.
    pub fn end(&self) -> Result<(), String> {
        self.frames.end()
    }
}

/// Passes a binary COPY stream's rows through undecoded, for a target that takes them in the
/// same format with the same column types: header and trailer dropped, each field checked
/// only for what decoding would refuse (`wire::check_carried`), so a load fails on the same
/// values whichever way its rows travel.
pub struct CopyFramer {
    frames: Frames,
    wires: Vec<Wire>,
    names: Vec<String>,
    not_null: Vec<usize>,
    /// The cursor's position: its values are decoded to track the watermark.
    cursor: Option<usize>,
}

/// Rows passed through so far into one batch.
#[derive(Default)]
pub struct Framed {
    pub bytes: BytesMut,
    pub rows: usize,
    /// The first row with a NULL in a `not_null` column.
    pub refused: Option<Refused>,
    pub cursor: Option<CursorSeen>,
}

impl CopyFramer {
    pub fn new(
        wires: Vec<Wire>,
        names: Vec<String>,
        not_null: Vec<usize>,
        cursor: Option<usize>,
    ) -> CopyFramer {
        CopyFramer {
            frames: Frames::new(wires.len()),
            wires,
            names,
            not_null,
            cursor,
        }
    }

    /// Appends the whole rows in `chunk` (with what was pending) to `out`.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        out: &mut Framed,
        limit: Option<u64>,
    ) -> Result<(), String> {
        let (wires, names, not_null) = (&self.wires, &self.names, &self.not_null);
        let cursor = self.cursor;
        self.frames.feed(chunk, limit, &mut |row, n| {
            for (i, (raw, w)) in fields(row).zip(wires).enumerate() {
                let at = |e: String| format!("row {n}, column '{}': {e}", names[i]);
                if cursor == Some(i) {
                    let seen = out.cursor.get_or_insert_with(CursorSeen::default);
                    match raw {
                        Some(raw) => {
                            seen.see(Some(&wire::decode_wire(raw, w).map_err(at)?), out.rows)
                        }
                        None => seen.see(None, out.rows),
                    }
                }
                match raw {
                    Some(raw) => wire::check_carried(raw, w).map_err(at)?,
                    None if out.refused.is_none() && not_null.contains(&i) => {
                        out.refused = Some(Refused {
                            row: out.rows,
                            column: i,
                            reason: None,
                        });
                    }
                    None => {}
                }
            }
            out.bytes.extend_from_slice(row);
            out.rows += 1;
            Ok(())
        })
    }

    pub fn rows(&self) -> u64 {
        self.frames.rows
    }

    pub fn width(&self) -> usize {
        self.frames.width
    }

    pub fn finished(&self) -> bool {
        self.frames.finished
    }

    pub fn end(&self) -> Result<(), String> {
        self.frames.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::postgres::types::Wire;
    use crate::data::DataType;
    use bytes::BufMut;

    fn stream() -> Vec<u8> {
        let mut b = BytesMut::new();
        b.put_slice(SIGNATURE);
        b.put_i32(0);
        b.put_i32(0);
        for (id, name) in [(1i32, Some("a")), (2, None), (3, Some(""))] {
            b.put_i16(2);
            b.put_i32(4);
            b.put_i32(id);
            match name {
                Some(n) => {
                    b.put_i32(n.len() as i32);
                    b.put_slice(n.as_bytes());
                }
                None => b.put_i32(-1),
            }
        }
        b.put_i16(-1);
        b.to_vec()
    }

    fn names() -> Vec<String> {
        vec!["id".into(), "name".into()]
    }

    fn decoder() -> CopyDecoder {
        let types = vec![
            PgType {
                wire: Wire::Int4,
                data_type: DataType::Int32,
            },
            PgType {
                wire: Wire::Text,
                data_type: DataType::TEXT,
            },
        ];
        CopyDecoder::new(types, names())
    }

    #[test]
    fn decodes_rows_split_anywhere() {
        let data = stream();
        for split in 1..data.len() {
            let mut d = decoder();
            let mut batch = Batch::new(2, 1, 4);
            d.feed(&data[..split], &mut batch, None).unwrap();
            d.feed(&data[split..], &mut batch, None).unwrap();
            assert!(d.finished() && d.end().is_ok(), "split {split}");
            let rows: Vec<Vec<Value>> = batch.rows().map(<[Value]>::to_vec).collect();
            assert_eq!(
                rows,
                vec![
                    vec![Value::Int32(1), Value::Text("a".into())],
                    vec![Value::Int32(2), Value::Null],
                    vec![Value::Int32(3), Value::Text(String::new())],
                ],
                "split {split}"
            );
        }
    }

    #[test]
    fn the_fields_of_asked_columns_come_from_whole_rows_in_one_pass() {
        let data = stream();
        let rows = &data[19..data.len() - 2];
        let mut seen = Vec::new();
        // Column 0 asked for twice (two checks on it), column 1 once.
        let whole = column_fields(rows, &[0, 1, 0], &mut |k, f| {
            seen.push((k, f.map(|f| f.to_vec())));
        });
        assert!(whole);
        let id = |n: i32| Some(n.to_be_bytes().to_vec());
        assert_eq!(
            seen,
            [
                (0, id(1)),
                (2, id(1)),
                (1, Some(b"a".to_vec())),
                (0, id(2)),
                (2, id(2)),
                (1, None),
                (0, id(3)),
                (2, id(3)),
                (1, Some(Vec::new())),
            ]
        );
        assert!(!column_fields(
            &rows[..rows.len() - 1],
            &[0],
            &mut |_, _| ()
        ));
    }

    #[test]
    fn passes_whole_rows_through_from_chunks_split_anywhere() {
        let data = stream();
        // The rows as they are, without the 19-byte header and the 2-byte trailer.
        let rows = &data[19..data.len() - 2];
        for split in 1..data.len() {
            let mut f = CopyFramer::new(vec![Wire::Int4, Wire::Text], names(), vec![1], None);
            let mut out = Framed::default();
            f.feed(&data[..split], &mut out, None).unwrap();
            f.feed(&data[split..], &mut out, None).unwrap();
            assert!(f.finished() && f.end().is_ok(), "split {split}");
            assert_eq!(&out.bytes[..], rows, "split {split}");
            assert_eq!(out.rows, 3);
            // Row 2 has a NULL in column 1, which the read was told may not hold one.
            let refused = out
                .refused
                .as_ref()
                .map(|r| (r.row, r.column, r.reason.is_none()));
            assert_eq!(refused, Some((1, 1, true)), "split {split}");
        }
        let mut f = CopyFramer::new(vec![Wire::Int4, Wire::Text], names(), vec![], Some(0));
        let mut out = Framed::default();
        f.feed(&data, &mut out, Some(2)).unwrap();
        assert_eq!((out.rows, out.refused), (2, None));
        // The cursor (column 0) of the two rows read.
        let seen = out.cursor.expect("the cursor is tracked");
        assert_eq!(
            (seen.min, seen.max, seen.nulls),
            (Some(Value::Int32(1)), Some(Value::Int32(2)), 0)
        );
    }

    #[test]
    fn a_passed_through_value_is_refused_where_decoding_refuses_it() {
        let mut b = BytesMut::new();
        b.put_slice(SIGNATURE);
        b.put_i32(0);
        b.put_i32(0);
        for sign in [0x0000u16, 0x4000, 0xC000] {
            b.put_i16(1);
            b.put_i32(8);
            b.put_slice(&[0, 0, 0, 0]);
            b.put_u16(sign);
            b.put_u16(0);
        }
        b.put_i16(-1);
        let mut f = CopyFramer::new(vec![Wire::Numeric], vec!["n".into()], vec![], None);
        let err = f.feed(&b, &mut Framed::default(), None).unwrap_err();
        assert!(
            err.starts_with("row 3, column 'n': NaN has no exact decimal value"),
            "{err}"
        );
        for (wire, raw) in [
            (Wire::Date, i32::MAX.to_be_bytes().to_vec()),
            (Wire::Timestamp(6), i64::MIN.to_be_bytes().to_vec()),
            (Wire::Text, vec![0xff, 0xfe]),
        ] {
            let decoded = wire::decode_wire(&raw, &wire).unwrap_err();
            assert_eq!(wire::check_carried(&raw, &wire).unwrap_err(), decoded);
        }
        assert!(wire::check_carried(&0i32.to_be_bytes(), &Wire::Date).is_ok());
        // The shortcuts for dates and times agree with decoding, at their edges and beyond.
        let days = [
            0,
            -73_000_000,
            72_999_999,
            73_000_000,
            -96_000_000,
            96_000_000,
            2_147_483_494,
            i32::MIN,
        ];
        for d in days {
            let raw = d.to_be_bytes();
            let verdict = wire::decode_wire(&raw, &Wire::Date).map(drop);
            assert_eq!(wire::check_carried(&raw, &Wire::Date), verdict, "date {d}");
        }
        let micros = [
            0,
            -1,
            6_299_999_999_999_999_999,
            -6_300_000_000_000_000_000,
            8_400_000_000_000_000_000,
            9_223_371_331_199_999_999,
            i64::MAX,
        ];
        for m in micros {
            let raw = m.to_be_bytes();
            for wire in [Wire::Timestamp(6), Wire::TimestampTz(6), Wire::Time(6)] {
                let verdict = wire::decode_wire(&raw, &wire).map(drop);
                assert_eq!(wire::check_carried(&raw, &wire), verdict, "{wire:?} {m}");
            }
        }
    }

    #[test]
    fn stops_at_the_limit_and_reports_truncation() {
        let data = stream();
        let mut d = decoder();
        let mut batch = Batch::new(2, 1, 4);
        d.feed(&data, &mut batch, Some(2)).unwrap();
        assert_eq!(batch.len(), 2);
        let mut d = decoder();
        d.feed(&data[..30], &mut Batch::new(2, 1, 4), None).unwrap();
        assert!(d.end().unwrap_err().contains("ended inside row"));
    }
}
