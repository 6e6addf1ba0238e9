//! json_file read for real from files in a temporary folder.

use std::io::Write;

use super::options::{parse_path, JsonOptions};
use super::JsonSource;
use crate::connectors::files::FileRef;
use crate::connectors::{Io, ReadOptions, Source};
use crate::data::{Batch, DataType, Decimal, Value};
use crate::error::Result;

struct Harness {
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            rt: tokio::runtime::Runtime::new().unwrap(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn io(&self) -> Io {
        Io {
            handle: self.rt.handle().clone(),
            cancel: Default::default(),
        }
    }

    fn source(&self, name: &str, content: impl AsRef<[u8]>, opts: JsonOptions) -> JsonSource {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let file = FileRef::local(path, format!("data/{name}"));
        JsonSource::from_files(vec![file], format!("data/{name}"), opts)
    }

    fn batches(&self, source: &JsonSource, opts: &ReadOptions) -> Result<Vec<Batch>> {
        let mut stream = source.open(&self.io(), opts)?;
        let mut out = Vec::new();
        while let Some(batch) = stream.next_blocking() {
            out.push(batch?);
        }
        Ok(out)
    }

    fn rows(&self, source: &JsonSource) -> Result<Vec<Vec<Value>>> {
        let batches = self.batches(source, &ReadOptions::default())?;
        Ok(batches
            .iter()
            .flat_map(|b| b.rows().map(|r| r.to_vec()))
            .collect())
    }

    fn types(&self, source: &JsonSource) -> Vec<String> {
        let schema = source.schema(&self.io()).unwrap();
        schema
            .columns
            .iter()
            .map(|c| format!("{} {}", c.name, c.data_type))
            .collect()
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn dec(s: &str) -> Value {
    Value::Decimal(Decimal::parse(s).unwrap())
}

fn json(s: &str) -> Value {
    Value::Json(s.into())
}

const NDJSON: &str = r#"{"id": 1, "amount": 12.50, "big": 123456789012345678901234567890, "name": "a\"b", "day": "2024-01-31", "tags": ["x", 1], "paid": true}
{"id": 2, "amount": -3.125, "big": 1, "name": null, "day": "2024-02-01", "tags": {"k": 0.1}, "paid": false, "note": ""}

{"id": 3, "amount": 0, "big": 2}
"#;

#[test]
fn records_become_typed_rows_with_exact_numbers_and_json_for_nested_values() {
    let h = Harness::new();
    let src = h.source("orders.ndjson", NDJSON, JsonOptions::default());
    assert_eq!(
        h.types(&src),
        [
            "id integer",
            "amount numeric(5,3)",
            "big numeric(30,0)",
            "name text",
            "day date",
            "tags json",
            "paid boolean",
            "note text"
        ]
    );
    let rows = h.rows(&src).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0][..4],
        [
            Value::Int32(1),
            dec("12.500"),
            dec("123456789012345678901234567890"),
            text("a\"b")
        ]
    );
    assert_eq!(rows[0][4].to_text().unwrap(), "2024-01-31");
    assert_eq!(rows[0][5..7], [json(r#"["x", 1]"#), Value::Bool(true)]);
    assert_eq!(rows[0][7], Value::Null, "a missing key is NULL");
    assert_eq!(rows[1][1], dec("-3.125"));
    assert_eq!(rows[1][3], Value::Null, "null is NULL");
    assert_eq!(
        rows[1][5],
        json(r#"{"k": 0.1}"#),
        "nested numbers keep their text"
    );
    assert_eq!(rows[1][7], text(""), "the empty string is not NULL");
    assert!(rows[2][3..].iter().all(Value::is_null));
}

#[test]
fn a_top_level_array_gzip_compressed_reads_the_same_as_lines() {
    let h = Harness::new();
    let lines = h
        .rows(&h.source("a.ndjson", NDJSON, JsonOptions::default()))
        .unwrap();
    let array = format!(
        "[\n{}\n]\n",
        NDJSON
            .lines()
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(",\n")
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(array.as_bytes()).unwrap();
    let src = h.source("a.json.gz", gz.finish().unwrap(), JsonOptions::default());
    assert_eq!(h.rows(&src).unwrap(), lines);
}

#[test]
fn columns_flatten_paths_and_types_declare() {
    let h = Harness::new();
    let data = r#"[{"id": "A-1", "customer": {"name": "Ann", "address": {"city": "Oslo"}}, "lines": [{"sku": "x", "qty": 2}]},
                   {"id": "A-2", "customer": {"name": "Bob"}, "lines": []}]"#;
    let opts = JsonOptions {
        columns: Some(vec![
            ("order_id".into(), parse_path("$.id").unwrap()),
            (
                "city".into(),
                parse_path("$.customer.address.city").unwrap(),
            ),
            ("first_qty".into(), parse_path("$.lines[0].qty").unwrap()),
            ("customer".into(), parse_path("$.customer").unwrap()),
        ]),
        types: vec![("first_qty".into(), DataType::Int64)],
        ..JsonOptions::default()
    };
    let src = h.source("orders.json", data, opts);
    assert_eq!(
        h.types(&src),
        [
            "order_id text",
            "city text",
            "first_qty bigint",
            "customer json"
        ]
    );
    assert_eq!(
        h.rows(&src).unwrap(),
        vec![
            vec![
                text("A-1"),
                text("Oslo"),
                Value::Int64(2),
                json(r#"{"name": "Ann", "address": {"city": "Oslo"}}"#)
            ],
            vec![
                text("A-2"),
                Value::Null,
                Value::Null,
                json(r#"{"name": "Bob"}"#)
            ],
        ]
    );
}

#[test]
fn bad_records_fail_with_file_and_line_or_become_rejects() {
    let h = Harness::new();
    let data = "{\"id\": 1}\n{\"id\": 2.5}\n[1]\n{\"id\": 4, \"extra\": 1}\n{\"id\": 5}\n";
    let opts = JsonOptions {
        infer_rows: 1,
        ..JsonOptions::default()
    };
    let src = h.source("ids.ndjson", data, opts);
    let err = h.rows(&src).unwrap_err().to_string();
    assert_eq!(
        err,
        "data/ids.ndjson:2: column 'id': '2.5' does not fit integer; integer was inferred from the \
         first 1 records. Declare the type to load this file: types: #{ id: \"numeric(11,1)\" }"
    );
    let keep_going = ReadOptions {
        keep_going: true,
        ..ReadOptions::default()
    };
    let batches = h.batches(&src, &keep_going).unwrap();
    let good: Vec<_> = batches
        .iter()
        .flat_map(|b| b.rows().map(|r| r.to_vec()))
        .collect();
    assert_eq!(good, [vec![Value::Int32(1)], vec![Value::Int32(5)]]);
    let rejects: Vec<_> = batches.iter().flat_map(|b| b.rejects.iter()).collect();
    assert_eq!(
        rejects.iter().map(|r| (r.line, r.row)).collect::<Vec<_>>(),
        [(Some(2), 2), (Some(3), 3), (Some(4), 4)]
    );
    assert!(
        rejects[1]
            .reason
            .starts_with("each record must be a JSON object"),
        "{}",
        rejects[1].reason
    );
    assert!(
        rejects[2]
            .reason
            .starts_with("key 'extra' is not among the columns"),
        "{}",
        rejects[2].reason
    );
    assert_eq!(rejects[2].record, "{\"id\": 4, \"extra\": 1}");

    let truncated = h.source(
        "cut.json",
        "[{\"id\": 1},\n{\"id\": 2",
        JsonOptions::default(),
    );
    let err = h.rows(&truncated).unwrap_err().to_string();
    assert!(
        err.starts_with("data/cut.json:2: the record starting here is not closed"),
        "{err}"
    );
}
