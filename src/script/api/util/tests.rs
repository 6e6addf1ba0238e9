//! The documented examples of docs/scripting.md's "Utilities", run through the one engine
//! builder: each `(script, expected)` pair is an example as a user writes it.

use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::connectors::Io;
use crate::runmode::RunMode;
use crate::script::{Host, HostOptions, Mode};

struct Fixture {
    dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
    host: Arc<Host>,
    engine: rhai::Engine,
}

fn fixture() -> Fixture {
    fixture_in(RunMode::Write)
}

fn fixture_in(mode: RunMode) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("etl.toml");
    std::fs::write(&toml, "[env.dev.connections]\nwh = \"sqlite://wh.db\"\n").unwrap();
    let script = dir.path().join("project.rhai");
    std::fs::write(&script, "").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let io = Io {
        handle: rt.handle().clone(),
        cancel: CancellationToken::new(),
    };
    let config = Config::load(Some(&toml), Some(dir.path()), Some("dev")).unwrap();
    let options = HostOptions {
        mode,
        ..HostOptions::default()
    };
    let host = Host::with_options(Mode::Run, config, &script, io, options);
    let engine = crate::script::engine::build(&host);
    Fixture {
        dir,
        _rt: rt,
        host,
        engine,
    }
}

impl Fixture {
    fn eval(&self, script: &str) -> String {
        // The script's own `to_string`, which knows the Date and Timestamp types.
        self.engine
            .eval::<String>(&format!("let value = {{ {script} }}; value.to_string()"))
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    fn err(&self, script: &str) -> String {
        match self.engine.eval::<rhai::Dynamic>(script) {
            Ok(v) => panic!("{script} gave {v} instead of an error"),
            Err(e) => e.to_string(),
        }
    }

    fn examples(&self, cases: &[(&str, &str)]) {
        for (script, expected) in cases {
            assert_eq!(self.eval(script), *expected, "{script}");
        }
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }
}

#[test]
fn date_examples() {
    let f = fixture();
    f.examples(&[
        (r#"date_add(parse_date("2026-01-31"), "1 month")"#, "2026-02-28"),
        (r#"date_add(parse_date("2026-03-01"), "-1 day")"#, "2026-02-28"),
        (r#"date_add(parse_date("2026-12-04"), "3 days")"#, "2026-12-07"),
        (
            r#"date_add(parse_timestamp("2026-12-04 23:30:00"), "2 hours 30 minutes")"#,
            "2026-12-05 02:00:00",
        ),
        (r#"date_trunc("month", parse_date("2026-12-04"))"#, "2026-12-01"),
        (r#"date_trunc("quarter", parse_date("2026-08-19"))"#, "2026-07-01"),
        (r#"date_trunc("week", parse_date("2026-12-04"))"#, "2026-11-30"),
        (
            r#"date_trunc("hour", parse_timestamp("2026-12-04 10:42:17"))"#,
            "2026-12-04 10:00:00",
        ),
        (r#"format_date(parse_date("2026-12-04"), "%d.%m.%Y")"#, "04.12.2026"),
        (r#"parse_date("04/12/2026", "%d/%m/%Y")"#, "2026-12-04"),
        (
            r#"parse_timestamp("2026-12-04 10:00 +0100", "%Y-%m-%d %H:%M %z")"#,
            "2026-12-04 09:00:00+00",
        ),
        (
            r#"to_timezone(parse_timestamp("2026-07-01 12:00 +0000", "%Y-%m-%d %H:%M %z"), "Europe/Paris")"#,
            "2026-07-01 14:00:00",
        ),
        (
            r#"from_timezone(parse_timestamp("2026-12-04 10:00:00"), "America/New_York")"#,
            "2026-12-04 15:00:00+00",
        ),
        (r#"type_of(today())"#, "Date"),
        (r#"type_of(now())"#, "TimestampTz"),
        (r#"type_of(now("Asia/Tokyo"))"#, "Timestamp"),
        (r#"type_of(today("UTC"))"#, "Date"),
    ]);
    assert!(f
        .err(r#"date_add(today(), "3 fortnights")"#)
        .contains("is not an amount of time"));
    assert!(f
        .err(r#"date_add(today(), "5 hours")"#)
        .contains("a Date moves by days"));
    assert!(f
        .err(r#"today("Mars/Olympus")"#)
        .contains("is not a time zone"));
    assert!(f
        .err(r#"format_date(today(), "%H:%M")"#)
        .contains("asks for fields"));
    assert!(f
        .err(r#"parse_date("2026-13-01")"#)
        .contains("does not match"));
}

#[test]
fn env_examples_and_the_refusal_of_secrets() {
    let f = fixture();
    std::env::set_var("ETL_TEST_UTIL_REGION", "eu-west");
    std::env::set_var("ETL_TEST_UTIL_PASSWORD", "hunter2");
    std::env::set_var("ETL_CONN_UTILTEST", "postgres://u:hunter2@h/db");
    f.examples(&[
        (r#"env("ETL_TEST_UTIL_REGION")"#, "eu-west"),
        (r#"env("ETL_TEST_UTIL_UNSET", "us-east")"#, "us-east"),
        (r#"env("ETL_TEST_UTIL_UNSET", 3)"#, "3"),
    ]);
    assert!(f
        .err(r#"env("ETL_TEST_UTIL_UNSET")"#)
        .contains("is not set"));
    for name in [
        "ETL_TEST_UTIL_PASSWORD",
        "db_password",
        "API_SECRET",
        "GITHUB_TOKEN",
        "ETL_CONN_UTILTEST",
    ] {
        let e = f.err(&format!(r#"env("{name}", "x")"#));
        assert!(
            e.contains("may not read variables that hold secrets"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
        let e = f.err(&format!(r#"env("{name}")"#));
        assert!(
            e.contains("may not read variables that hold secrets"),
            "{e}"
        );
    }
}

#[test]
fn file_examples() {
    let f = fixture();
    std::fs::create_dir_all(f.path("data/in")).unwrap();
    std::fs::write(f.path("data/in/b.csv"), "id\n2\n").unwrap();
    std::fs::write(f.path("data/in/a.csv"), "id\n1\n").unwrap();
    std::fs::write(f.path("data/in/notes.txt"), "hello").unwrap();
    f.examples(&[
        (
            r#"list_files("data/in/*.csv")"#,
            r#"["data/in/a.csv", "data/in/b.csv"]"#,
        ),
        (r#"file_exists("data/in/a.csv")"#, "true"),
        (r#"file_exists("data/in/z.csv")"#, "false"),
        (r#"read_text("data/in/notes.txt")"#, "hello"),
        (r#"archive_file("data/in/a.csv")"#, "data/in/archive/a.csv"),
        (
            r#"move_file("data/in/b.csv", "data/done/b.csv")"#,
            "data/done/b.csv",
        ),
    ]);
    assert!(!f.path("data/in/a.csv").exists() && f.path("data/in/archive/a.csv").exists());
    assert!(f.path("data/done/b.csv").exists());
    // A second input of the same name keeps the first archived copy.
    std::fs::write(f.path("data/in/a.csv"), "id\n3\n").unwrap();
    let second = f.eval(r#"archive_file("data/in/a.csv")"#);
    assert!(
        second.starts_with("data/in/archive/a_") && second.ends_with(".csv"),
        "{second}"
    );
    assert_eq!(
        std::fs::read_to_string(f.path("data/in/archive/a.csv")).unwrap(),
        "id\n1\n"
    );
    assert!(f
        .err(r#"read_text("data/in/notes.txt", 3)"#)
        .contains("more than the 3"));
    assert!(f
        .err(r#"move_file("data/done/b.csv", "data/in/archive/a.csv")"#)
        .contains("already exists"));
    let _ = Path::new("");
}

#[test]
fn sql_json_and_hash_examples() {
    let f = fixture();
    f.examples(&[
        (r#"quote_ident("order items")"#, r#""order items""#),
        (r#"quote_ident("a\"b")"#, r#""a""b""#),
        (r#"sql_in([3, 5, 8]).sql"#, "(:in_0, :in_1, :in_2)"),
        (r#"sql_in([3, 5, 8]).params.in_2"#, "8"),
        (r#"sql_in("ids", ["x'; DROP TABLE t; --"]).sql"#, "(:ids_0)"),
        (r#"parse_json(`{"id": 7, "tags": ["a", "b"], "price": 1.5}`).tags[1]"#, "b"),
        (r#"parse_json(`{"id": 7}`).id + 1"#, "8"),
        (r#"to_json(#{ id: 7, name: "Ann", when: parse_date("2026-12-04"), amount: decimal("12.30"), note: () })"#,
         r#"{"amount":12.30,"id":7,"name":"Ann","note":null,"when":"2026-12-04"}"#),
        (r#"to_json([1, "two", true])"#, r#"[1,"two",true]"#),
        (r#"md5("abc")"#, "900150983cd24fb0d6963f7d28e17f72"),
        (r#"sha256("abc")"#, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (r#"sha256([1, "a"]) == sha256("1\x1fa")"#, "true"),
        (r#"md5(["a", ()]) != md5(["a", ""])"#, "true"),
    ]);
    assert!(f.err(r#"sql_in([])"#).contains("the list is empty"));
    assert!(f.err(r#"sql_in([[1]])"#).contains("plain values"));
    assert!(f.err(r#"parse_json("{")"#).contains("not JSON"));
}

/// A dry run moves nothing: it says where the file would go.
#[test]
fn a_dry_run_moves_no_file() {
    let f = fixture_in(RunMode::Dry);
    std::fs::create_dir_all(f.path("data/in")).unwrap();
    std::fs::write(f.path("data/in/a.csv"), "id\n1\n").unwrap();
    f.examples(&[
        (r#"archive_file("data/in/a.csv")"#, "data/in/archive/a.csv"),
        (r#"move_file("data/in/a.csv", "done/a.csv")"#, "done/a.csv"),
    ]);
    assert!(f.path("data/in/a.csv").exists());
    assert!(!f.path("data/in/archive").exists() && !f.path("done").exists());
}

/// The bound values of `sql_in` reach the database as parameters: a value that would break
/// out of a formatted string is only ever compared.
#[test]
fn sql_in_values_stay_bound_on_a_real_database() {
    let f = fixture();
    let out = f.eval(
        r#"
        let wh = connect("wh");
        wh.execute("CREATE TABLE t (id INTEGER, name TEXT)");
        wh.execute("INSERT INTO t VALUES (1, 'a'), (2, 'x''); DROP TABLE t; --')");
        let f = sql_in(["x'); DROP TABLE t; --", "a"]);
        let rows = wh.query(`SELECT id FROM t WHERE name IN ${f.sql} ORDER BY id`, f.params);
        rows.map(|r| r.id)
        "#,
    );
    assert_eq!(out, "[1, 2]");
    assert_eq!(f.eval(r#"connect("wh").quote_ident("x")"#), r#""x""#);
    drop(f.host);
}

/// `etl defs` lists the utilities and introspection (the engine's own definitions).
#[test]
fn the_utilities_are_in_the_definitions_for_editors() {
    let f = fixture();
    let defs = f.engine.definitions().single_file();
    for name in [
        "today",
        "now",
        "date_add",
        "date_trunc",
        "format_date",
        "parse_date",
        "parse_timestamp",
        "to_timezone",
        "from_timezone",
        "env",
        "list_files",
        "file_exists",
        "move_file",
        "archive_file",
        "read_text",
        "quote_ident",
        "sql_in",
        "parse_json",
        "to_json",
        "md5",
        "sha256",
        "tables",
        "columns",
        "primary_key",
    ] {
        assert!(
            defs.contains(&format!("fn {name}(")),
            "{name} missing from the definitions"
        );
    }
}

/// Introspection on a SQLite connection (the other connectors: tests/replicate).
#[test]
fn sqlite_lists_its_tables_columns_and_keys() {
    let f = fixture();
    f.eval(
        r#"
        let wh = connect("wh");
        wh.execute("CREATE TABLE sales_eu (id INTEGER, region TEXT NOT NULL, amount NUMERIC(12,2), PRIMARY KEY (region, id))");
        wh.execute("CREATE TABLE sales_us (id INTEGER)");
        wh.execute("CREATE TABLE notes (body TEXT)");
        "#,
    );
    f.examples(&[
        (
            r#"connect("wh").tables()"#,
            r#"["notes", "sales_eu", "sales_us"]"#,
        ),
        (
            r#"connect("wh").tables("sales_*")"#,
            r#"["sales_eu", "sales_us"]"#,
        ),
        (
            r#"connect("wh").tables(["notes", "*_us"])"#,
            r#"["notes", "sales_us"]"#,
        ),
        (
            r#"connect("wh").tables(#{ exclude: "sales_*" })"#,
            r#"["notes"]"#,
        ),
        (
            r#"connect("wh").primary_key("sales_eu")"#,
            r#"["region", "id"]"#,
        ),
        (r#"connect("wh").primary_key("notes")"#, "[]"),
        (
            r#"connect("wh").columns("sales_eu").map(|c| `${c.name} ${c.type} ${c.nullable}`)"#,
            r#"["id INTEGER true", "region TEXT false", "amount NUMERIC(12,2) true"]"#,
        ),
    ]);
    let e = f.err(r#"connect("wh").columns("nope")"#);
    assert!(
        e.contains("connection 'wh': there is no table 'nope'"),
        "{e}"
    );
}

/// `copy::database`'s task list from a SQLite source: names, the `parallel: false` chain,
/// `after` passed on, and unknown options refused.
#[test]
fn copy_database_defines_one_task_per_table() {
    let f = fixture();
    std::fs::create_dir_all(f.path("stdlib")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib/copy.rhai"),
        f.path("stdlib/copy.rhai"),
    )
    .unwrap();
    f.eval(
        r#"
        let wh = connect("wh");
        wh.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, updated_at TEXT)");
        wh.execute("CREATE TABLE b (x INTEGER, updated_at TEXT)");
        wh.execute("CREATE TABLE c (id INTEGER PRIMARY KEY)");
        "#,
    );
    let names = f.eval(
        r#"
        import "etl/copy" as copy;
        copy::database(connect("wh"), connect("wh"), #{
            include: ["a", "b", "c"], into_schema: "raw", task_name: "load_{table}",
            mode: "incremental", cursor: "updated_at", no_key: "append", parallel: false,
            after: ["setup"],
        })
        "#,
    );
    assert_eq!(names, r#"["load_a", "load_b", "load_c"]"#);
    let defs = f.host.defs.lock().unwrap();
    let after: Vec<String> = defs
        .tasks
        .iter()
        .map(|t| format!("{}<-{}", t.name, t.after.join("+")))
        .collect();
    assert_eq!(
        after,
        [
            "load_a<-setup",
            "load_b<-setup+load_a",
            "load_c<-setup+load_b"
        ]
    );
    drop(defs);
    let e = f.err(r#"import "etl/copy" as copy; copy::database(connect("wh"), connect("wh"), #{ modes: "full" })"#);
    assert!(e.contains("unknown option 'modes'"), "{e}");
    let e = f.err(r#"import "etl/copy" as copy; copy::database(connect("wh"), connect("wh"), #{ mode: "fast" })"#);
    assert!(
        e.contains("mode 'fast' is not one of full, incremental"),
        "{e}"
    );
}
