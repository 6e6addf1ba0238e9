//! Hostile identifiers and parameters: table and column names with quotes, dots, spaces,
//! unicode, SQL keywords and text, and past PostgreSQL's 63 bytes; `:name` values holding
//! quotes and SQL. Identifiers are quoted and parameters bound, so each name loads as itself
//! (twice: full, then merged) or is refused with a clear error, and each value comes back as
//! itself without running anything.

use crate::common::MyTestDb;
use crate::corpus::{Corpus, SEED};
use crate::warehouse::Warehouse;

/// Table names as a script writes them for PostgreSQL (its own quoting: `"a""b"` is `a"b`, a
/// dot outside quotes separates the schema) and the relation each becomes.
const PG_TABLES: &[(&str, (&str, &str))] = &[
    ("\"we\"\"ird\"", ("public", "we\"ird")),
    ("it's", ("public", "it's")),
    ("my table", ("public", "my table")),
    ("ünïcode_表", ("public", "ünïcode_表")),
    ("select", ("public", "select")),
    (
        "items; DROP TABLE items; --",
        ("public", "items; DROP TABLE items; --"),
    ),
    ("sales.orders", ("sales", "orders")),
    ("\"a.b\"", ("public", "a.b")),
    ("\"UPPER\".\"Case\"", ("UPPER", "Case")),
];

/// SQLite takes a name as it is (`main.` and `temp.` aside): quotes and dots included.
const SQLITE_TABLES: &[&str] = &[
    "we\"ird",
    "it's",
    "my table",
    "ünïcode_表",
    "select",
    "items; DROP TABLE items; --",
    "sales.orders",
    "\"quoted\"",
];

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[test]
fn hostile_table_names_load_as_themselves() {
    for dw in [Warehouse::sqlite(), Warehouse::pg("hostile_tables")] {
        let c = Corpus::new(dw);
        let before = c.fingerprint();
        c.file("in.csv", SEED);
        c.script(r#"task("load", |run| dw.load(#{ from: csv_file("data/in.csv"), into: run.params["t"], key: ["id"] }));"#);
        let cases: Vec<(&str, String)> = if c.dw.is_pg() {
            PG_TABLES
                .iter()
                .map(|(name, (schema, table))| {
                    (*name, format!("{}.{}", quote(schema), quote(table)))
                })
                .collect()
        } else {
            SQLITE_TABLES
                .iter()
                .map(|name| (*name, quote(name)))
                .collect()
        };
        for (name, relation) in cases {
            let param = format!("t={name}");
            for load_type in ["F", "I"] {
                c.run(&["--param", &param, "--load-type", load_type]).ok();
            }
            assert_eq!(
                c.dw.count(&format!("SELECT count(*) FROM {relation}")),
                3,
                "{name}"
            );
            let records = c.dw.audit_after(0);
            let mine: Vec<&str> = records
                .iter()
                .filter(|r| r.target_table.as_deref() == Some(name))
                .map(|r| r.status.as_str())
                .collect();
            assert_eq!(mine, ["success", "success"], "{name}");
        }
        assert_eq!(c.fingerprint(), before, "items untouched");
        assert_eq!(c.dw.leftovers(), Vec::<String>::new());
    }
}

#[test]
fn table_names_postgres_cannot_hold_are_refused_clearly() {
    let c = Corpus::new(Warehouse::pg("hostile_bad_tables"));
    c.file("in.csv", SEED);
    c.script(r#"task("load", |run| dw.load(#{ from: csv_file("data/in.csv"), into: run.params["t"], key: ["id"] }));"#);
    let long = "t".repeat(64);
    let too_long = format!(
        "table name '{long}': '{long}' is longer than PostgreSQL's 63-byte limit for names"
    );
    let cases = [
        (long.as_str(), too_long.as_str()),
        (
            "a.b.c",
            "table name 'a.b.c': expected table or schema.table",
        ),
        (".orders", "table name '.orders': empty part"),
        ("we\"ird", "table name 'we\"ird': unbalanced double quote"),
    ];
    for (name, error) in cases {
        let param = format!("t={name}");
        c.fails_on(
            name,
            name,
            &["--param", &param],
            1,
            &[&format!("load into {name}: {error}")],
        );
        assert_eq!(
            c.dw.count("SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'etl')"),
            1,
            "{name}: only items exists"
        );
    }
}

/// A header of hostile column names (the trimmed name `pad` included), keyed on one of them.
const HEADER: &str =
    "\"we\"\"ird\",it's,my col,ünï,select,a.b,\"x\"\"); DROP TABLE items; --\",\"  pad  \"\n";
const COLUMNS: &[&str] = &[
    "we\"ird",
    "it's",
    "my col",
    "ünï",
    "select",
    "a.b",
    "x\"); DROP TABLE items; --",
    "pad",
];

#[test]
fn hostile_column_names_load_as_themselves() {
    for dw in [Warehouse::sqlite(), Warehouse::pg("hostile_columns")] {
        let c = Corpus::new(dw);
        let before = c.fingerprint();
        c.file(
            "in.csv",
            format!("{HEADER}1,2,3,4,5,6,7,8\n2,2,3,4,5,6,7,9\n"),
        );
        c.script(r#"task("load", |run| dw.load(#{ from: csv_file("data/in.csv"), into: "hostile", key: ["we\"ird"] }));"#);
        c.run(&[]).ok();
        c.file(
            "in.csv",
            format!("{HEADER}2,0,0,0,0,0,0,0\n3,3,3,3,3,3,3,3\n"),
        );
        c.run(&["--load-type", "I"]).ok();
        let names: Vec<String> = if c.dw.is_pg() {
            c.dw.rows("SELECT attname FROM pg_attribute WHERE attrelid = 'hostile'::regclass AND attnum > 0 ORDER BY attnum")
        } else {
            c.dw.rows("SELECT name FROM pragma_table_info('hostile') ORDER BY cid")
        }
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect();
        assert_eq!(names, COLUMNS);
        let rows: Vec<String> =
            c.dw.rows(&format!(
                "SELECT {}, {} FROM hostile ORDER BY 1",
                quote(COLUMNS[0]),
                quote(COLUMNS[6])
            ))
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(Option::unwrap_or_default)
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        assert_eq!(rows, ["1|7", "2|0", "3|3"]);
        assert_eq!(c.fingerprint(), before, "items untouched");
    }
}

/// PostgreSQL truncates names past 63 bytes; a column so named must be refused as a table
/// name is ("longer than PostgreSQL's 63 bytes"), not lost.
#[test]
fn a_column_name_past_63_bytes_is_refused_clearly_by_postgres() {
    let c = Corpus::new(Warehouse::pg("hostile_long_column"));
    let long = "c".repeat(64);
    c.file("in.csv", format!("id,{long}\n1,2\n"));
    c.script(r#"task("load", |run| dw.load(#{ from: csv_file("data/in.csv"), into: "items" }));"#);
    c.fails(
        "a 64-byte column name",
        &[],
        1,
        &[&format!("column '{long}'"), "63"],
    );
}

/// Values that look like SQL, quotes of every dialect, parameter markers of every driver.
const VALUES: &[&str] = &[
    "'; DROP TABLE items; --",
    "pen' OR '1'='1",
    "\" OR \"\"=\"",
    "\\'; DROP TABLE items; -- ",
    "`items`",
    ":v :id $1 ? %s {}",
    "line one\nline two",
    "ünï 🚀",
    "",
];

/// Each value goes through `--param` into `run.params`, then is bound as `:v` on SQLite or
/// PostgreSQL and on MariaDB: `scalar` returns it unchanged, it matches no row, and a query
/// source filtering on it loads only the row its other condition picks.
#[test]
fn hostile_parameter_values_are_bound_never_run() {
    let my = MyTestDb::new("hostile_params");
    my.execute(
        "CREATE TABLE items (id int PRIMARY KEY, name varchar(20), qty int);
         INSERT INTO items VALUES (1, 'pen', 10), (2, 'ink', 20), (3, 'pad', 30);",
    );
    for dw in [Warehouse::sqlite(), Warehouse::pg("hostile_params")] {
        let c = Corpus::with_connections(dw, &[("src", my.url())]);
        let before = c.fingerprint();
        c.script(
            r#"let src = connect("src");
task("params", |run| {
    let v = run.params["v"];
    for conn in [dw, src] {
        let got = conn.scalar("SELECT :v", #{ v: v });
        if got != v { throw `:v came back as ${got}`; }
        let n = conn.scalar("SELECT count(*) FROM items WHERE name = :v", #{ v: v });
        if n != 0 { throw `:v matched ${n} rows`; }
    }
    dw.load(#{ from: src.sql("SELECT id, name FROM items WHERE name = :v OR id = :id", #{ v: v, id: 2 }), into: "picked", key: ["id"] });
    dw.load(#{ from: dw.sql("SELECT id, name FROM items WHERE name = :v OR id = :id", #{ v: v, id: 3 }), into: "picked_dw", key: ["id"] });
});"#,
        );
        for value in VALUES {
            let param = format!("v={value}");
            c.run(&["--param", &param]).ok();
            assert_eq!(
                c.dw.rows("SELECT id FROM picked"),
                [[Some("2".into())]],
                "{value:?}"
            );
            assert_eq!(
                c.dw.rows("SELECT id FROM picked_dw"),
                [[Some("3".into())]],
                "{value:?}"
            );
        }
        assert_eq!(c.fingerprint(), before, "items untouched");
    }
    assert_eq!(
        my.scalar("SELECT count(*) FROM items").as_deref(),
        Some("3")
    );
}

/// Source tables with hostile names are quoted in each source's own dialect.
#[test]
fn hostile_source_table_names_are_quoted_by_each_source() {
    let my = MyTestDb::new("hostile_src_tables");
    my.execute("CREATE TABLE `we``ird \"t\"` (id int PRIMARY KEY, v varchar(5)); INSERT INTO `we``ird \"t\"` VALUES (1, 'a'), (2, 'b');");
    // Each source reads table names in its own quoting: MariaDB's backticks, PostgreSQL's
    // double quotes.
    let c = Corpus::with_connections(Warehouse::pg("hostile_src_tables"), &[("src", my.url())]);
    c.dw.pg_db()
        .execute("CREATE TABLE \"pg \"\"odd\"\" t\" (id int PRIMARY KEY, v text); INSERT INTO \"pg \"\"odd\"\" t\" VALUES (7, 'x');");
    c.script(
        r#"let src = connect("src");
task("copy", |run| {
    dw.load(#{ from: src.table("`we``ird \"t\"`"), into: "from_my", key: ["id"] });
    dw.load(#{ from: dw.table("\"pg \"\"odd\"\" t\""), into: "from_pg", key: ["id"] });
});"#,
    );
    c.run(&[]).ok();
    assert_eq!(c.dw.count("SELECT count(*) FROM from_my"), 2);
    assert_eq!(c.dw.count("SELECT count(*) FROM from_pg"), 1);
}
