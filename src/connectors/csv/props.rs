//! Property tests of the CSV convention: any record the scanner is given comes back field for
//! field, quoted flag and line number included, wherever the chunk boundaries fall; and any row
//! of text fields written by `CsvWriter` reads back through `CsvSource` unchanged, NULL and ''
//! kept apart. The cases are generated from a fixed seed (no failure files), so every run
//! tries the same inputs.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use super::scanner::{Record, Scanner, CHUNK};
use super::{CsvOptions, CsvSource, CsvWriter};
use crate::connectors::{Io, ReadOptions, Source};
use crate::data::{Column, DataType, Schema, Value};

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x0e71_c5f0),
        ..Config::default()
    }
}

const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Text biased towards what CSV must escape: delimiters, quotes, line breaks, spaces at the
/// ends, a byte-order mark, NUL, multi-byte characters.
fn tricky_text() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => any::<char>(),
        2 => prop::sample::select(vec![',', ';', '\t', '|', '"', '\n', '\r', ' ']),
        1 => prop::sample::select(vec!['\u{feff}', '\0', 'é', '東', '🚀', '\\', '\'']),
    ];
    prop::collection::vec(ch, 0..10).prop_map(|cs| cs.into_iter().collect())
}

/// A field as a writer sees it: NULL, the empty string, or text.
fn field() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(String::new())),
        4 => tricky_text().prop_map(Some),
    ]
}

/// A table of 1 to 4 text columns and 0 to 12 rows.
fn table() -> impl Strategy<Value = (usize, Vec<Vec<Option<String>>>)> {
    (1usize..=4).prop_flat_map(|width| {
        (
            Just(width),
            prop::collection::vec(prop::collection::vec(field(), width), 0..12),
        )
    })
}

/// Writes the rows with `CsvWriter` and reads them back with `CsvSource`, every column
/// declared text.
fn write_and_read(delimiter: u8, width: usize, rows: &[Vec<Option<String>>]) -> Vec<Vec<Value>> {
    let schema = Schema::new(
        (0..width)
            .map(|i| Column::new(format!("c{i}"), DataType::TEXT))
            .collect(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.csv");
    let mut w = CsvWriter::new(std::fs::File::create(&path).unwrap(), &schema, delimiter).unwrap();
    for row in rows {
        let values: Vec<Value> = row
            .iter()
            .map(|f| f.clone().map_or(Value::Null, Value::Text))
            .collect();
        w.write_row(&values).unwrap();
    }
    w.finish().unwrap();
    let opts = CsvOptions {
        delimiter,
        types: schema
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.data_type.clone()))
            .collect(),
        ..CsvOptions::default()
    };
    let src = CsvSource::new(path, "p.csv".into(), opts);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let io = Io {
        handle: rt.handle().clone(),
        cancel: Default::default(),
    };
    let mut stream = src.open(&io, &ReadOptions::default()).unwrap();
    let mut back = Vec::new();
    while let Some(batch) = stream.next_blocking() {
        back.extend(batch.unwrap().rows().map(<[Value]>::to_vec));
    }
    back
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_text_row_round_trips_through_the_writer_and_the_reader(
        (width, rows) in table(),
        delimiter in prop::sample::select(DELIMITERS.to_vec()),
    ) {
        let expected: Vec<Vec<Value>> = rows
            .iter()
            .map(|r| r.iter().map(|f| f.clone().map_or(Value::Null, Value::Text)).collect())
            .collect();
        prop_assert_eq!(write_and_read(delimiter, width, &rows), expected);
    }
}

/// One record as the scanner should report it: (text, quoted) per field.
type Fields = Vec<(String, bool)>;

/// A field as it stands in a file: quoted or not as chosen, but always quoted when its text
/// would otherwise end the field or the line.
fn scan_field() -> impl Strategy<Value = (String, bool)> {
    (tricky_text(), any::<bool>()).prop_map(|(text, quoted)| {
        let must = text
            .bytes()
            .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
        (text, quoted || must)
    })
}

/// Encodes records by hand (not with the writer under test): line ends CRLF or LF as chosen,
/// the last line's end optional, an optional byte-order mark. Returns the bytes and, per
/// record, the physical line it starts on.
fn encode(records: &[Fields], crlf: &[bool], bom: bool, last_newline: bool) -> (Vec<u8>, Vec<u64>) {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    let mut lines = Vec::new();
    let mut line = 1u64;
    for (i, rec) in records.iter().enumerate() {
        lines.push(line);
        for (j, (text, quoted)) in rec.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            if *quoted {
                out.push(b'"');
                out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
                out.push(b'"');
            } else {
                out.extend_from_slice(text.as_bytes());
            }
            line += text.matches('\n').count() as u64;
        }
        let blank = rec.len() == 1 && rec[0] == (String::new(), false);
        // A blank last line without its line break would not be a line at all.
        if i + 1 < records.len() || last_newline || blank {
            out.extend_from_slice(if crlf[i] { b"\r\n" } else { b"\n" });
            line += 1;
        }
    }
    (out, lines)
}

fn scan(input: &[u8], capacity: usize) -> Result<Vec<(u64, Fields)>, String> {
    let mut scanner = Scanner::with_capacity(input, b',', b'"', capacity);
    scanner.skip_trailing_blank_lines = false;
    let mut rec = Record::default();
    let mut out = Vec::new();
    while scanner
        .next_record(&mut rec)
        .map_err(|e| format!("{e:?}"))?
    {
        let fields = rec
            .iter()
            .map(|(b, q)| {
                (
                    String::from_utf8(b.to_vec()).expect("UTF-8 in, UTF-8 out"),
                    q,
                )
            })
            .collect();
        out.push((rec.line, fields));
    }
    Ok(out)
}

fn records() -> impl Strategy<Value = (Vec<Fields>, Vec<bool>, bool, bool)> {
    prop::collection::vec(prop::collection::vec(scan_field(), 1..5), 0..8).prop_flat_map(|recs| {
        let n = recs.len();
        (
            Just(recs),
            prop::collection::vec(any::<bool>(), n),
            any::<bool>(),
            any::<bool>(),
        )
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn the_scanner_returns_every_field_with_its_quoting_at_any_chunk_size(
        (mut recs, crlf, bom, last_newline) in records(),
    ) {
        // Without a byte-order mark of its own, a file whose first field starts with U+FEFF
        // unquoted is read as having one: quote that field, as any writer must.
        if let Some(first) = recs.first_mut().and_then(|r| r.first_mut()) {
            if !bom && first.0.starts_with('\u{feff}') {
                first.1 = true;
            }
        }
        let (bytes, lines) = encode(&recs, &crlf, bom, last_newline);
        let expected: Vec<(u64, Fields)> = lines.into_iter().zip(recs).collect();
        for capacity in [4, 5, 7, 64, CHUNK] {
            prop_assert_eq!(scan(&bytes, capacity), Ok(expected.clone()), "capacity {}", capacity);
        }
    }
}
