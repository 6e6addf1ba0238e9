//! parquet_file read for real: files written with arrow-rs's own writer into a temporary
//! folder (the integration tests use files pyarrow wrote).

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray, StructArray,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
};
use arrow_schema::{DataType as Arrow, Field};
use parquet::arrow::ArrowWriter;

use super::{Nanoseconds, ParquetOptions, ParquetSource};
use crate::connectors::files::FileRef;
use crate::connectors::{Io, ReadOptions, Source};
use crate::data::{Decimal, Value};
use crate::error::Result;

fn write(path: &std::path::Path, columns: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn read(
    files: &[&std::path::Path],
    opts: ParquetOptions,
) -> Result<(Vec<String>, Vec<Vec<Value>>)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let io = Io {
        handle: rt.handle().clone(),
        cancel: Default::default(),
    };
    let refs = files
        .iter()
        .map(|p| {
            FileRef::local(
                p.to_path_buf(),
                p.file_name().unwrap().to_string_lossy().into(),
            )
        })
        .collect();
    let source = ParquetSource::from_files(refs, "data/*.parquet".into(), opts);
    let schema = source.schema(&io)?;
    let types = schema
        .columns
        .iter()
        .map(|c| format!("{} {}", c.name, c.data_type))
        .collect();
    let mut stream = source.open(&io, &ReadOptions::default())?;
    let mut rows = Vec::new();
    while let Some(batch) = stream.next_blocking() {
        rows.extend(batch?.rows().map(|r| r.to_vec()));
    }
    Ok((types, rows))
}

fn dec(s: &str) -> Value {
    Value::Decimal(Decimal::parse(s).unwrap())
}

#[test]
fn types_come_from_the_file_and_values_stay_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.parquet");
    let mut tags = ListBuilder::new(StringBuilder::new());
    tags.append_value([Some("x"), None]);
    tags.append_null();
    let meta = StructArray::from(vec![(
        Arc::new(Field::new("k", Arrow::Utf8, true)),
        Arc::new(StringArray::from(vec![Some("a\"b"), None])) as ArrayRef,
    )]);
    write(
        &path,
        vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
            (
                "amount",
                Arc::new(
                    Decimal128Array::from(vec![Some(-1250), None])
                        .with_precision_and_scale(12, 2)
                        .unwrap(),
                ),
            ),
            (
                "at",
                Arc::new(TimestampMillisecondArray::from(vec![1_700_000_000_123, 0])),
            ),
            (
                "at_tz",
                Arc::new(
                    TimestampMicrosecondArray::from(vec![1_700_000_000_123_456, -1])
                        .with_timezone("Europe/Paris"),
                ),
            ),
            ("day", Arc::new(Date32Array::from(vec![19_000, -1]))),
            ("tags", Arc::new(tags.finish())),
            ("meta", Arc::new(meta)),
        ],
    );
    let (types, rows) = read(&[&path], ParquetOptions::default()).unwrap();
    assert_eq!(
        types,
        [
            "id bigint",
            "amount numeric(12,2)",
            "at timestamp",
            "at_tz timestamptz",
            "day date",
            "tags text[]",
            "meta json"
        ]
    );
    let ts = |s: &str| Value::Timestamp(s.parse().unwrap());
    let tz = |s: &str| Value::TimestampTz(s.parse().unwrap());
    assert_eq!(
        rows,
        vec![
            vec![
                Value::Int64(1),
                dec("-12.50"),
                ts("2023-11-14T22:13:20.123"),
                tz("2023-11-14T22:13:20.123456Z"),
                Value::Date("2022-01-08".parse().unwrap()),
                Value::Array(vec![Value::Text("x".into()), Value::Null]),
                Value::Json(r#"{"k":"a\"b"}"#.into()),
            ],
            vec![
                Value::Int64(2),
                Value::Null,
                ts("1970-01-01T00:00:00"),
                tz("1969-12-31T23:59:59.999999Z"),
                Value::Date("1969-12-31".parse().unwrap()),
                Value::Null,
                Value::Json(r#"{"k":null}"#.into()),
            ],
        ]
    );
}

#[test]
fn nanoseconds_are_refused_unless_truncation_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ns.parquet");
    let ns = TimestampNanosecondArray::from(vec![1_000, 1_700_000_000_123_456_789]);
    write(&path, vec![("at", Arc::new(ns) as ArrayRef)]);
    let err = read(&[&path], ParquetOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("ns.parquet:2: column 'at': the value 1700000000123456789 ns has digits below the microsecond"), "{err}");
    assert!(err.contains("nanoseconds: \"truncate\""), "{err}");

    let opts = ParquetOptions {
        nanoseconds: Nanoseconds::Truncate,
        ..Default::default()
    };
    let (_, rows) = read(&[&path], opts).unwrap();
    assert_eq!(
        rows[1],
        [Value::Timestamp(
            "2023-11-14T22:13:20.123456".parse().unwrap()
        )]
    );
}

#[test]
fn a_glob_reads_every_file_and_refuses_one_of_another_layout() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a.parquet"),
        dir.path().join("b.parquet"),
        dir.path().join("c.parquet"),
    );
    write(
        &a,
        vec![("id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef)],
    );
    write(
        &b,
        vec![("id", Arc::new(Int64Array::from(vec![3])) as ArrayRef)],
    );
    write(
        &c,
        vec![("id", Arc::new(StringArray::from(vec!["x"])) as ArrayRef)],
    );
    let opts = ParquetOptions {
        file_column: Some("_file".into()),
        ..Default::default()
    };
    let (types, rows) = read(&[&a, &b], opts.clone()).unwrap();
    assert_eq!(types, ["id bigint", "_file text"]);
    let ids: Vec<_> = rows.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    assert_eq!(
        ids,
        [
            (Value::Int64(1), Value::Text("a.parquet".into())),
            (Value::Int64(2), Value::Text("a.parquet".into())),
            (Value::Int64(3), Value::Text("b.parquet".into())),
        ]
    );
    let err = read(&[&a, &c], opts).unwrap_err().to_string();
    assert!(err.starts_with("c.parquet:0: its columns (id text) differ from those of the first file a.parquet (id bigint)"), "{err}");
}
