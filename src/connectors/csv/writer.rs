use std::io::{self, Write};

use crate::data::{Batch, Schema, Value};

/// Bytes gathered before one `write` to the underlying writer.
const FLUSH_AT: usize = 256 * 1024;

/// Writes rows as CSV under the convention `CsvSource` reads: NULL is an unquoted empty field,
/// the empty string is `""`, so a file written here reads back to the same values.
pub struct CsvWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    text: String,
    width: usize,
    delimiter: u8,
}

impl<W: Write> CsvWriter<W> {
    /// Starts the file with a header line naming the schema's columns.
    pub fn new(out: W, schema: &Schema, delimiter: u8) -> io::Result<CsvWriter<W>> {
        if !delimiter.is_ascii() || matches!(delimiter, b'"' | b'\r' | b'\n') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot write CSV with delimiter {:?}: use an ASCII character other than a quote or line break", delimiter as char),
            ));
        }
        let mut w = CsvWriter {
            out,
            buf: Vec::with_capacity(FLUSH_AT + 4096),
            text: String::new(),
            width: schema.len(),
            delimiter,
        };
        for (i, column) in schema.columns.iter().enumerate() {
            if i > 0 {
                w.buf.push(delimiter);
            }
            push_field(&mut w.buf, column.name.as_bytes(), delimiter);
        }
        w.buf.push(b'\n');
        Ok(w)
    }

    pub fn write_row(&mut self, row: &[Value]) -> io::Result<()> {
        if row.len() != self.width {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a row of {} values for a CSV file of {} columns",
                    row.len(),
                    self.width
                ),
            ));
        }
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                self.buf.push(self.delimiter);
            }
            self.text.clear();
            if value.write_text(&mut self.text) {
                push_field(&mut self.buf, self.text.as_bytes(), self.delimiter);
            }
        }
        self.buf.push(b'\n');
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(())
    }

    pub fn write_batch(&mut self, batch: &Batch) -> io::Result<()> {
        batch.rows().try_for_each(|row| self.write_row(row))
    }

    /// Writes what is buffered, flushes, and hands the writer back.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_buf()?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

/// Appends a non-NULL field, quoted when a reader could otherwise misread it: empty (would be
/// NULL), holding the delimiter, a quote or a line break, or with spaces at either end (which
/// many tools trim).
fn push_field(buf: &mut Vec<u8>, text: &[u8], delimiter: u8) {
    let needs_quotes = match (text.first(), text.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_whitespace()
                || last.is_ascii_whitespace()
                || text
                    .iter()
                    .any(|&b| b == delimiter || b == b'"' || b == b'\n' || b == b'\r')
        }
        _ => true,
    };
    if !needs_quotes {
        buf.extend_from_slice(text);
        return;
    }
    buf.push(b'"');
    for part in text.split_inclusive(|&b| b == b'"') {
        buf.extend_from_slice(part);
        if part.last() == Some(&b'"') {
            buf.push(b'"');
        }
    }
    buf.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::csv::{CsvOptions, CsvSource};
    use crate::connectors::{Io, ReadOptions, Source};
    use crate::data::{Column, DataType, Decimal};

    fn schema(cols: &[(&str, &str)]) -> Schema {
        Schema::new(
            cols.iter()
                .map(|(n, t)| Column::new(*n, DataType::parse(t).unwrap()))
                .collect(),
        )
    }

    fn write(schema: &Schema, rows: &[Vec<Value>], delimiter: u8) -> String {
        let mut w = CsvWriter::new(Vec::new(), schema, delimiter).unwrap();
        for row in rows {
            w.write_row(row).unwrap();
        }
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn quotes_only_what_needs_quoting() {
        let s = schema(&[("id", "integer"), ("note", "text")]);
        let rows = [
            vec![Value::Int32(1), Value::Null],
            vec![Value::Int32(2), text("")],
            vec![Value::Int32(3), text("plain")],
            vec![Value::Int32(4), text("a,b")],
            vec![Value::Int32(5), text("say \"hi\"")],
            vec![Value::Int32(6), text("two\nlines")],
            vec![Value::Int32(7), text(" padded ")],
            vec![Value::Null, text("cr\r")],
        ];
        assert_eq!(
            write(&s, &rows, b','),
            "id,note\n1,\n2,\"\"\n3,plain\n4,\"a,b\"\n5,\"say \"\"hi\"\"\"\n6,\"two\nlines\"\n7,\" padded \"\n,\"cr\r\"\n"
        );
        assert_eq!(
            write(&s, &[vec![Value::Int32(1), text("a,b;c")]], b';'),
            "id;note\n1;\"a,b;c\"\n"
        );
    }

    #[test]
    fn header_names_are_quoted_like_values() {
        let s = schema(&[("order id", "integer"), ("a,b", "text")]);
        assert_eq!(write(&s, &[], b','), "order id,\"a,b\"\n");
    }

    #[test]
    fn refuses_rows_of_the_wrong_width_and_bad_delimiters() {
        let s = schema(&[("a", "integer")]);
        let mut w = CsvWriter::new(Vec::new(), &s, b',').unwrap();
        assert_eq!(
            w.write_row(&[Value::Int32(1), Value::Int32(2)])
                .unwrap_err()
                .kind(),
            io::ErrorKind::InvalidInput
        );
        assert!(CsvWriter::new(Vec::new(), &s, b'"').is_err());
        assert!(CsvWriter::new(Vec::new(), &s, b'\n').is_err());
    }

    /// Writes `rows`, reads them back through `CsvSource` (types inferred, or declared from
    /// the schema) and returns what came back.
    fn round_trip(
        schema: &Schema,
        rows: &[Vec<Value>],
        declare: bool,
    ) -> (Schema, Vec<Vec<Value>>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let mut w = CsvWriter::new(std::fs::File::create(&path).unwrap(), schema, b',').unwrap();
        for row in rows {
            w.write_row(row).unwrap();
        }
        w.finish().unwrap();
        let mut opts = CsvOptions::default();
        if declare {
            opts.types = schema
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.data_type.clone()))
                .collect();
        }
        let src = CsvSource::new(path, "out.csv".into(), opts);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let io = Io {
            handle: rt.handle().clone(),
            cancel: Default::default(),
        };
        let read_schema = src.schema(&io).unwrap();
        let mut stream = src.open(&io, &ReadOptions::default()).unwrap();
        let mut back = Vec::new();
        while let Some(batch) = stream.next_blocking() {
            back.extend(batch.unwrap().rows().map(|r| r.to_vec()));
        }
        (read_schema, back)
    }

    fn tricky_rows() -> (Schema, Vec<Vec<Value>>) {
        let s = schema(&[
            ("id", "integer"),
            ("name", "text"),
            ("amount", "numeric(8,2)"),
            ("paid", "boolean"),
            ("at", "timestamptz"),
        ]);
        let at = Value::parse("2024-03-10 02:30:00.25+02:00", &DataType::TimestampTz).unwrap();
        let amount = |s: &str| Value::Decimal(Decimal::parse(s).unwrap());
        let rows = vec![
            vec![
                Value::Int32(1),
                Value::Null,
                amount("12.50"),
                Value::Bool(true),
                at.clone(),
            ],
            vec![
                Value::Int32(2),
                text(""),
                Value::Null,
                Value::Bool(false),
                Value::Null,
            ],
            vec![
                Value::Int32(3),
                text("say \"hi\", then leave"),
                amount("-0.05"),
                Value::Null,
                at.clone(),
            ],
            vec![
                Value::Int32(4),
                text("line one\nline two\r\nline three"),
                amount("123456.00"),
                Value::Bool(true),
                at.clone(),
            ],
            vec![
                Value::Int32(5),
                text("Crème brûlée — 東京 🚀"),
                amount("0.00"),
                Value::Bool(false),
                at.clone(),
            ],
            vec![
                Value::Int32(6),
                text("  leading and trailing  "),
                amount("1.00"),
                Value::Bool(true),
                at,
            ],
            vec![
                Value::Int32(7),
                text("\""),
                amount("2.00"),
                Value::Bool(true),
                Value::Null,
            ],
            vec![
                Value::Null,
                text(","),
                amount("3.00"),
                Value::Bool(true),
                Value::Null,
            ],
        ];
        (s, rows)
    }

    #[test]
    fn round_trip_with_declared_types_is_exact() {
        let (s, rows) = tricky_rows();
        let (read_schema, back) = round_trip(&s, &rows, true);
        assert_eq!(read_schema, s);
        assert_eq!(back, rows);
    }

    #[test]
    fn round_trip_with_inferred_types_is_exact() {
        let (s, rows) = tricky_rows();
        let (read_schema, back) = round_trip(&s, &rows, false);
        assert_eq!(
            read_schema, s,
            "inference finds the types the values were written with"
        );
        assert_eq!(back, rows);
    }

    #[test]
    fn one_column_nulls_survive_the_round_trip() {
        let s = schema(&[("v", "text")]);
        let rows = vec![
            vec![text("a")],
            vec![Value::Null],
            vec![text("")],
            vec![Value::Null],
        ];
        assert_eq!(write(&s, &rows, b','), "v\na\n\n\"\"\n\n");
        assert_eq!(round_trip(&s, &rows, false).1, rows);
    }
}
