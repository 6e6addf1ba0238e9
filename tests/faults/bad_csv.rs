//! Malformed CSV: each file fails its load with the file, the line and what to do, exit code
//! 1, the target unchanged and the audit record `failed` with the same location. One-row
//! batches, so a bad line deep in a file fails the load after earlier rows were written.
//! Files that only look wrong (a byte-order mark, mixed line ends, a lone CR, a huge field)
//! load exactly.

use crate::corpus::Corpus;
use crate::warehouse::Warehouse;

struct Bad {
    name: &'static str,
    /// The options map of `csv_file`.
    options: &'static str,
    bytes: Vec<u8>,
    /// Fragments of the error; the first (the location) must also be in the audit record.
    error: &'static [&'static str],
}

fn bad(name: &'static str, bytes: impl Into<Vec<u8>>, error: &'static [&'static str]) -> Bad {
    Bad {
        name,
        options: "#{}",
        bytes: bytes.into(),
        error,
    }
}

/// 3,000 good rows, then `last`: the failure comes after rows were already written.
fn deep(last: &str) -> Vec<u8> {
    let mut s = String::from("id,name,qty\n");
    for i in 1..=3000 {
        s.push_str(&format!("{i},item {i},{i}\n"));
    }
    s.push_str(last);
    s.into_bytes()
}

fn cases() -> Vec<Bad> {
    let mut latin1 = b"id,name,qty\n1,pen,1\n2,caf".to_vec();
    latin1.extend_from_slice(b"\xe9,2\n");
    let mut deep_latin1 = deep("3001,caf");
    deep_latin1.extend_from_slice(b"\xe9,1\n");
    let mut utf16 = vec![0xff, 0xfe];
    for c in "id,name\n1,a\n".encode_utf16() {
        utf16.extend_from_slice(&c.to_le_bytes());
    }
    vec![
        bad("a quote never closed", "id,name,qty\n1,pen,1\n2,\"ink,2\n3,pad,3\n",
            &["data/bad.csv:3: a quoted field starting on this line is never closed", "add the closing \""]),
        bad("a quote inside an unquoted field", "id,name,qty\n1,pe\"n,1\n",
            &["data/bad.csv:2: a \" inside an unquoted field (field 2)"]),
        bad("text after a closing quote", "id,name,qty\n1,\"pen\"s,1\n",
            &["data/bad.csv:2: unexpected 's' after a closing quote"]),
        bad("a short row", "id,name,qty\n1,pen,1\n2,ink\n",
            &["data/bad.csv:3: expected 3 fields (as in the header), found 2"]),
        bad("a long row", "id,name,qty\n1,pen,1\n2,ink,2,3\n",
            &["data/bad.csv:3: expected 3 fields (as in the header), found 4", "quote that field"]),
        bad("a short row after 3,000 good ones", deep("3001,x\n"),
            &["data/bad.csv:3002: expected 3 fields (as in the header), found 2"]),
        bad("a quoted field running to the end", deep("3001,\"x,1\n3002,y,2\n"),
            &["data/bad.csv:3002: a quoted field starting on this line is never closed"]),
        bad("an empty line inside the data", "id,name,qty\n1,pen,1\n\n2,ink,2\n",
            &["data/bad.csv:3: the line is empty, but 3 fields were expected"]),
        bad("Latin-1 bytes in a UTF-8 file", latin1,
            &["data/bad.csv:3: invalid UTF-8 in column 'name' at byte offset 25", "encoding: \"latin1\""]),
        bad("Latin-1 bytes after 3,000 rows", deep_latin1,
            &["data/bad.csv:3002: invalid UTF-8 in column 'name'"]),
        bad("a UTF-16 file", utf16, &["data/bad.csv:1: invalid UTF-8 in the header at byte offset 0"]),
        bad("an empty file", "", &["data/bad.csv:1: the file is empty, but a header line naming the columns was expected"]),
        bad("two columns of one name", "id,name,ID\n1,a,2\n",
            &["data/bad.csv:1: columns 1 and 3 are both named 'id' (names must be unique, ignoring case)"]),
        bad("a header with an empty name", "id,,qty\n1,a,2\n", &["data/bad.csv:1: column 2 has an empty name"]),
        bad("a header ending in a delimiter", "id,name,qty,\n1,a,2,\n", &["data/bad.csv:1: column 4 has an empty name"]),
        Bad {
            options: "#{ types: #{ qty: \"integer\" } }",
            ..bad("text in a declared integer column", "id,name,qty\n1,pen,1\n2,ink,two\n",
                &["data/bad.csv:3: column 'qty': 'two' is not a valid integer (declared as integer in types)"])
        },
        Bad {
            options: "#{ types: #{ qty: \"smallint\" } }",
            ..bad("an integer out of a declared range", "id,name,qty\n1,pen,70000\n",
                &["data/bad.csv:2: column 'qty': '70000' is not a valid smallint"])
        },
        Bad {
            options: "#{ types: #{ qty: \"numeric(4,2)\" } }",
            ..bad("a decimal that needs rounding", "id,name,qty\n1,pen,1.234\n",
                &["data/bad.csv:2: column 'qty': 1.234 does not fit numeric(4,2) without rounding"])
        },
        Bad {
            options: "#{ types: #{ day: \"date\" } }",
            ..bad("a date that does not exist", "id,day\n1,2024-02-29\n2,2024-02-30\n",
                &["data/bad.csv:3: column 'day': '2024-02-30' is not a valid date (YYYY-MM-DD)"])
        },
        Bad {
            options: "#{ types: #{ at: \"timestamp\" } }",
            ..bad("a time of day past midnight", "id,at\n1,2024-01-01 24:00:01\n",
                &["data/bad.csv:2: column 'at': '2024-01-01 24:00:01' is not a valid timestamp"])
        },
        Bad {
            options: "#{ infer_rows: 2 }",
            ..bad("a value past the type sample", "id,name,qty\n1,pen,1\n2,ink,2\n3,pad,2.5\n",
                &["data/bad.csv:4: column 'qty': '2.5'", "integer was inferred from the first 2 rows", "types: #{ qty:"])
        },
        Bad {
            options: "#{ types: #{ nope: \"integer\" } }",
            ..bad("types naming a missing column", "id,name\n1,a\n",
                &["csv data/bad.csv: types names column 'nope', which the file does not have (columns: id, name)"])
        },
    ]
}

fn run_corpus(dw: Warehouse) {
    let c = Corpus::new(dw);
    for case in cases() {
        c.file("bad.csv", &case.bytes);
        c.script(&format!(
            "task(\"load\", |run| dw.load(#{{ from: csv_file(\"data/bad.csv\", {}), into: \"items\", key: [\"id\"], batch_rows: 1 }}));",
            case.options
        ));
        c.fails(case.name, &["--task", "load"], 1, case.error);
    }
}

#[test]
fn malformed_csv_fails_clearly_and_changes_nothing_in_sqlite() {
    run_corpus(Warehouse::sqlite());
}

#[test]
fn malformed_csv_fails_clearly_and_changes_nothing_in_postgres() {
    run_corpus(Warehouse::pg("bad_csv"));
}

#[test]
fn a_record_past_64_mib_stops_the_load_at_the_line_it_starts_on() {
    let c = Corpus::new(Warehouse::sqlite());
    let mut bytes = b"id,name,qty\n1,pen,1\n2,\"".to_vec();
    bytes.resize(bytes.len() + 65 * 1024 * 1024, b'x');
    bytes.extend_from_slice(b"\",2\n");
    c.file("bad.csv", bytes);
    c.script(r#"task("load", |run| dw.load(#{ from: csv_file("data/bad.csv"), into: "items", key: ["id"] }));"#);
    c.fails(
        "a 65 MiB field",
        &[],
        1,
        &[
            "data/bad.csv:3: the record starting on this line is longer than 64 MiB",
            "never closed",
        ],
    );
}

#[test]
fn text_with_a_nul_character_is_refused_by_postgres_naming_row_and_column() {
    let c = Corpus::new(Warehouse::pg("bad_csv_nul"));
    c.file("bad.csv", b"id,name,qty\n1,pen,1\n2,\"in\x00k\",2\n");
    c.script(r#"task("load", |run| dw.load(#{ from: csv_file("data/bad.csv"), into: "items", key: ["id"], batch_rows: 1 }));"#);
    c.fails(
        "NUL in text",
        &[],
        1,
        &["load into items, row 2, column 'name': text contains a NUL character, which PostgreSQL cannot store"],
    );
}

/// Inputs that look wrong but are valid CSV load exactly, in both warehouses.
#[test]
fn valid_oddities_load_exactly() {
    let huge = "y".repeat(10 * 1024 * 1024);
    let oddities: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "a byte-order mark",
            b"\xef\xbb\xbfid,name\n1,a\n".to_vec(),
            vec!["1|a"],
        ),
        (
            "CRLF, LF and a last line without its end",
            b"id,name\r\n1,a\n2,\"b\r\nc\"\r\n3,d".to_vec(),
            vec!["1|a", "2|b\r\nc", "3|d"],
        ),
        (
            "a lone CR inside a field",
            b"id,name\n1,a\rb\n".to_vec(),
            vec!["1|a\rb"],
        ),
        (
            "NULL and the empty string",
            b"id,name\n1,\n2,\"\"\n".to_vec(),
            vec!["1|NULL", "2|"],
        ),
        (
            "a 10 MiB field",
            format!("id,name\n1,\"{huge}\"\n").into_bytes(),
            vec![],
        ),
    ];
    for dw in [Warehouse::sqlite(), Warehouse::pg("odd_csv")] {
        let c = Corpus::new(dw);
        c.script(r#"task("load", |run| dw.load(#{ from: csv_file("data/odd.csv", #{ types: #{ name: "text" } }), into: "odd", key: ["id"] }));"#);
        for (case, bytes, expected) in &oddities {
            c.file("odd.csv", bytes);
            c.run(&[]).ok();
            let rows: Vec<String> =
                c.dw.rows("SELECT id, name FROM odd ORDER BY id")
                    .into_iter()
                    .map(|r| {
                        r.into_iter()
                            .map(|v| v.unwrap_or_else(|| "NULL".into()))
                            .collect::<Vec<_>>()
                            .join("|")
                    })
                    .collect();
            if expected.is_empty() {
                assert_eq!(rows, [format!("1|{huge}")], "{case}");
            } else {
                assert_eq!(rows, *expected, "{case}");
            }
            assert_eq!(c.dw.rows("SELECT name FROM odd WHERE 1 = 0").len(), 0);
        }
    }
}

/// The load's audit record is written "before anything can fail (even reading the source's
/// header)" (load/driver.rs), but `load()` reads the source's columns before the driver
/// starts: a CSV header or type-sample error leaves only the task's record (target_table NULL),
/// none for the table.
#[test]
fn a_source_failing_before_the_load_has_no_record_of_its_table() {
    let c = Corpus::new(Warehouse::sqlite());
    c.file("bad.csv", "id,name,ID\n1,a,2\n");
    c.script(r#"task("load", |run| dw.load(#{ from: csv_file("data/bad.csv"), into: "items" }));"#);
    let last = c.dw.last_audit_id();
    c.run(&[]).code(1);
    let records = c.dw.audit_after(last);
    assert!(
        records
            .iter()
            .any(|r| r.target_table.as_deref() == Some("items") && r.status == "failed"),
        "{records:?}"
    );
}
