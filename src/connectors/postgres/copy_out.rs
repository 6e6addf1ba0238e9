//! A decoder for `COPY ... TO STDOUT (FORMAT binary)`: header, then per row a field count and
//! length-prefixed fields, then a -1 trailer. The server sends one row per message, but the
//! protocol does not promise it, so rows split across chunks are stitched together.

use bytes::{Buf, BytesMut};

use super::types::PgType;
use super::wire;
use crate::data::{Batch, Value};

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

pub struct CopyDecoder {
    types: Vec<PgType>,
    names: Vec<String>,
    header_done: bool,
    finished: bool,
    /// The tail of a row that continues in the next chunk.
    pending: BytesMut,
    /// Rows decoded so far (for error messages).
    pub rows: u64,
}

impl CopyDecoder {
    pub fn new(types: Vec<PgType>, names: Vec<String>) -> CopyDecoder {
        CopyDecoder {
            types,
            names,
            header_done: false,
            finished: false,
            pending: BytesMut::new(),
            rows: 0,
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
        if self.pending.is_empty() {
            let used = self.parse(chunk, batch, limit)?;
            if used < chunk.len() && !self.finished {
                self.pending.extend_from_slice(&chunk[used..]);
            }
        } else {
            self.pending.extend_from_slice(chunk);
            let data = std::mem::take(&mut self.pending);
            let used = self.parse(&data, batch, limit)?;
            let mut data = data;
            data.advance(used);
            self.pending = data;
        }
        Ok(())
    }

    /// Whether the trailer was seen (or the limit reached).
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Checks the stream ended cleanly.
    pub fn end(&self) -> Result<(), String> {
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
        batch: &mut Batch,
        limit: Option<u64>,
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
        let width = self.types.len();
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
            if count as usize != width {
                return Err(format!(
                    "row {} has {count} fields, expected {width}",
                    self.rows + 1
                ));
            }
            // First make sure the whole row is here, then decode it.
            let mut p = at + 2;
            let mut complete = true;
            for _ in 0..width {
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
            let mut q = at + 2;
            for (i, ty) in self.types.iter().enumerate() {
                let len = i32::from_be_bytes(data[q..q + 4].try_into().expect("4 bytes"));
                q += 4;
                if len < 0 {
                    batch.push(Value::Null);
                } else {
                    let raw = &data[q..q + len as usize];
                    q += len as usize;
                    let v = wire::decode(raw, ty).map_err(|e| {
                        format!("row {}, column '{}': {e}", self.rows + 1, self.names[i])
                    })?;
                    batch.push(v);
                }
            }
            self.rows += 1;
            at = p;
        }
        Ok(at)
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
        CopyDecoder::new(types, vec!["id".into(), "name".into()])
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
