//! The PostgreSQL connector through the real binary: fixture projects under
//! tests/projects/pg_*/ run with `ETL_CONN_WAREHOUSE` pointing at a throwaway database, and the
//! assertions read the database itself (tables, types, the audit table).

mod aggregates;
mod checks;
#[path = "../common/mod.rs"]
mod common;
mod facts;
mod files;
mod modes;
mod parallel;
mod parquet;
mod scd2;
mod timeout;
mod transforms;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::PgTestDb;
use common::{column_types, copy_dir, records, text};

const BIN: &str = env!("CARGO_BIN_EXE_etl");

/// A temporary folder with an `etl.toml` and copies of fixture projects.
struct Sandbox {
    dir: tempfile::TempDir,
    warehouse: String,
}

struct Run {
    code: i32,
    stderr: String,
}

impl Sandbox {
    fn new(db: &PgTestDb, projects: &[&str]) -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("etl-pg-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(
            dir.path().join("etl.toml"),
            "[env.dev.connections]\nlite = \"sqlite://metadata/lite.db\"\n",
        )
        .expect("etl.toml");
        let s = Sandbox {
            dir,
            warehouse: db.url().to_string(),
        };
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/projects");
        for p in projects {
            copy_dir(&root.join(p), &s.path(&format!("projects/{p}")));
        }
        s
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap_or_else(|e| panic!("writing {rel}: {e}"));
    }

    /// `etl exec projects/NAME/project.rhai ARGS...` with the warehouse URL given.
    fn exec_with(&self, url: &str, project: &str, args: &[&str]) -> Run {
        self.exec_env(url, &[], project, args)
    }

    /// `exec_with`, with variables set for the run (`ETL_LOG`).
    fn exec_env(&self, url: &str, env: &[(&str, &str)], project: &str, args: &[&str]) -> Run {
        let out: Output = Command::new(BIN)
            .current_dir(self.dir.path())
            .envs(env.iter().copied())
            .env("ETL_CONN_WAREHOUSE", url)
            .env_remove("ETL_ENV")
            .env_remove("ETL_CONFIG")
            .arg("exec")
            .arg(format!("projects/{project}/project.rhai"))
            .args(args)
            .output()
            .expect("running etl");
        Run {
            code: out.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn exec(&self, project: &str, args: &[&str]) -> Run {
        self.exec_with(&self.warehouse.clone(), project, args)
    }

    fn etl(&self, args: &[&str]) -> Run {
        let out = Command::new(BIN)
            .current_dir(self.dir.path())
            .env("ETL_CONN_WAREHOUSE", &self.warehouse)
            .args(args)
            .output()
            .expect("running etl");
        let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        stderr.push_str(&String::from_utf8_lossy(&out.stdout));
        Run {
            code: out.status.code().unwrap_or(-1),
            stderr,
        }
    }
}

impl Run {
    fn ok(self) -> Run {
        assert_eq!(self.code, 0, "etl failed:\n{}", self.stderr);
        self
    }

    fn failed(self) -> Run {
        assert_eq!(self.code, 1, "expected a failed run:\n{}", self.stderr);
        self
    }

    fn contains(&self, text: &str) -> &Run {
        assert!(
            self.stderr.contains(text),
            "expected {text:?} in:\n{}",
            self.stderr
        );
        self
    }
}

/// The literals of tests/projects/pg_types/data/types.csv, typed by PostgreSQL itself.
const EXPECTED_TYPES: &str = r#"
CREATE TABLE expected (
    id bigint PRIMARY KEY, b boolean, i2 smallint, i4 integer, i8 bigint, r real, d double precision,
    n numeric(12,2), nbig numeric, t text, vc varchar(10), dt date, tm time, ts timestamp,
    tstz timestamptz, iv interval, js json, u uuid, by bytea, ai integer[], at text[]);
INSERT INTO expected VALUES
 (1, true, 1, 2, 3, 1.5, 0.1, 12.50, 0.000000000000000000000000000001, E'hello, "world"\nsecond line', 'ab',
  '2024-02-29', '13:14:15.123456', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123456+00',
  '1 year 2 mons 3 days 04:05:06.5', '{"b": [1, 2.50], "a": null}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '\x00ff10', '{1,2,NULL}', '{"a b",c}'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, false, -32768, 2147483647, -9223372036854775808, '-3.4028235e38', 1e308, -9999999999.99,
  123456789012345678901234567890.123456789012345678901234567890, '', 'ünïcödé10c', '0001-01-01', '00:00:00',
  '1970-01-01 00:00:00.000001', '2024-03-10 02:30:00.5+05:30', '-1 days +02:03:04.000005', '[]',
  '00000000-0000-0000-0000-000000000000', '\x', '{}', '{"",NULL,"NULL","a,b"}');
"#;

#[test]
fn every_type_round_trips_exactly_from_csv_postgres_and_sqlite() {
    let db = PgTestDb::new("pg_types");
    db.execute(EXPECTED_TYPES);
    let s = Sandbox::new(&db, &["pg_types"]);
    s.exec("pg_types", &[]).ok();
    let expected = records(&db, "expected");
    assert_eq!(expected.len(), 3);
    let types = column_types(&db, "expected");
    for table in ["from_csv.t", "from_pg.t", "from_pg.t_sql", "from_sqlite.t"] {
        assert_eq!(records(&db, table), expected, "{table}");
        assert_eq!(column_types(&db, table), types, "{table}");
    }
    // NULL and '' stay apart, in text and bytea alike.
    assert_eq!(
        text(&db, "SELECT count(*) FROM from_csv.t WHERE t = ''"),
        ["1"]
    );
    assert_eq!(
        text(&db, "SELECT count(*) FROM from_csv.t WHERE t IS NULL"),
        ["1"]
    );
    assert_eq!(
        text(
            &db,
            "SELECT count(*) FROM from_sqlite.t WHERE by = ''::bytea"
        ),
        ["1"]
    );
    // The primary key comes from `key`.
    assert_eq!(text(&db, "SELECT conname FROM pg_constraint WHERE conrelid = 'from_pg.t'::regclass AND contype = 'p'"), ["t_pkey"]);
}

#[test]
fn postgres_specific_types_and_unsupported_ones_come_through_as_text() {
    let db = PgTestDb::new("pg_rich");
    db.execute(
        "CREATE TYPE mood AS ENUM ('sad', 'happy');
         CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
         CREATE TABLE rich (id int PRIMARY KEY, j jsonb, m mood, addr inet, c char(3), p posint, nums numeric(6,2)[],
                            spans interval[], big numeric);
         INSERT INTO rich VALUES
           (1, '{\"z\": 1, \"a\": [true, null]}', 'happy', '192.168.0.1/24', 'ab', 7, '{1.50,NULL,-2}',
            '{\"1 day\",\"-00:00:01\"}', 1e40),
           (2, NULL, NULL, NULL, NULL, NULL, '{}', NULL, -0.000001);",
    );
    let s = Sandbox::new(&db, &["pg_types"]);
    s.write(
        "projects/pg_types/project.rhai",
        r#"project("pg_rich");
let dw = connect("warehouse");
task("copy", |run| {
    dw.load(#{ from: dw.table("public.rich"), into: "out.rich", key: ["id"] });
    dw.load(#{ from: dw.sql("SELECT * FROM rich WHERE id > :n", #{ n: 0 }), into: "out.rich_sql", key: ["id"] });
});
"#,
    );
    s.exec("pg_types", &[]).ok();
    let source = text(&db, "SELECT x::text FROM rich x ORDER BY id");
    assert_eq!(
        text(&db, "SELECT x::text FROM out.rich x ORDER BY id"),
        source
    );
    assert_eq!(
        text(&db, "SELECT x::text FROM out.rich_sql x ORDER BY id"),
        source
    );
    assert_eq!(
        column_types(&db, "out.rich"),
        [
            "id integer",
            "j json",
            "m text",
            "addr text",
            "c character varying(3)",
            "p integer",
            "nums numeric(6,2)[]",
            "spans interval[]",
            "big numeric"
        ]
    );
}

/// A table loaded into columns of its own types travels undecoded: the source's binary COPY
/// rows go into the target's COPY as they are. The rows are the same, and so are the refusals
/// of the decoding path: a NaN, a NULL key.
#[test]
fn a_table_into_columns_of_its_own_types_passes_through_undecoded_with_the_same_refusals() {
    let db = PgTestDb::new("pg_pass");
    db.execute(EXPECTED_TYPES);
    db.execute(
        "CREATE TABLE many AS SELECT i AS id, md5(i::text) AS t, (i * 0.01)::numeric(12,2) AS n,
                NULL::date AS d FROM generate_series(1, 10000) AS i;
         CREATE TABLE nan AS SELECT i AS id, (CASE WHEN i = 5000 THEN 'NaN' ELSE i::text END)::numeric AS n
           FROM generate_series(1, 6000) AS i;
         CREATE TABLE nokey AS SELECT CASE WHEN i <> 4097 THEN i END AS id FROM generate_series(1, 6000) AS i;",
    );
    let s = Sandbox::new(&db, &["pg_types"]);
    s.write(
        "projects/pg_types/project.rhai",
        r#"project("pg_pass");
let dw = connect("warehouse");
task("copy", |run| {
    dw.load(#{ from: dw.table("expected"), into: "out.expected", key: ["id"] });
    dw.load(#{ from: dw.table("many"), into: "out.many" });
    // Bound parameters: the rows come by the extended protocol and are encoded as they come.
    dw.load(#{ from: dw.sql("SELECT * FROM many WHERE id > :n", #{ n: 0 }), into: "out.many_sql" });
});
task("nan", #{ after: ["copy"] }, |run| dw.load(#{ from: dw.table("nan"), into: "out.nan" }));
task("nokey", #{ after: ["copy"] }, |run| dw.load(#{ from: dw.table("nokey"), into: "out.nokey", key: ["id"] }));
"#,
    );
    let warehouse = s.warehouse.clone();
    let run = s
        .exec_env(&warehouse, &[("ETL_LOG", "etl=debug")], "pg_types", &[])
        .failed();
    run.contains("Rows arrive encoded as the target writes them");
    assert_eq!(records(&db, "out.expected"), records(&db, "expected"));
    assert_eq!(
        column_types(&db, "out.expected"),
        column_types(&db, "expected")
    );
    let summary = "SELECT count(*), sum(n), count(DISTINCT t), count(d) FROM";
    for table in ["out.many", "out.many_sql"] {
        assert_eq!(
            text(&db, &format!("{summary} {table}")),
            text(&db, &format!("{summary} many"))
        );
        run.contains(&format!("(no values built on the way). table={table}\n"));
    }
    run.contains(
        "table nan on connection 'warehouse': row 5000, column 'n': NaN has no exact decimal value",
    );
    run.contains("load into out.nokey, row 4097, column 'id': the key column is NULL");
    assert_eq!(
        text(
            &db,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'out' ORDER BY 1"
        ),
        ["expected", "many", "many_sql"]
    );
}

/// A CSV file loaded into columns of its own types is encoded for the target's COPY as it is
/// read, without values built on the way. The rows are those a `.filter` (which needs values)
/// lets through, and a value the target refuses fails both ways with the same message.
#[test]
fn csv_rows_encoded_as_they_are_read_match_the_value_path_and_fail_alike() {
    let db = PgTestDb::new("pg_csv_enc");
    let s = Sandbox::new(&db, &["pg_types"]);
    let mut good = String::from("id,amount,note,at,paid,day\n");
    for i in 1..=5000 {
        let note = match i % 4 {
            0 => "\"quoted, with \"\"quotes\"\"\"".to_string(),
            1 => "\"\"".to_string(), // '' (quoted), not NULL
            2 => String::new(),      // NULL
            _ => format!("ünï {i}"),
        };
        let paid = ["true", "false", ""][i % 3];
        good.push_str(&format!(
            "{i},{}.{:02},{note},2024-03-{:02} 10:{:02}:00.123456,{paid},2024-02-{:02}\n",
            i * 3,
            i % 100,
            i % 28 + 1,
            i % 60,
            i % 29 + 1
        ));
    }
    s.write("projects/pg_types/data/good.csv", &good);
    // The target keeps milliseconds; row 4000 has microseconds, which it would round.
    db.execute("CREATE SCHEMA out; CREATE TABLE out.big (id bigint, at timestamp(3))");
    let mut big = String::from("id,at\n");
    for i in 1..=5000 {
        let fraction = if i == 4000 { "123456" } else { "5" };
        big.push_str(&format!("{i},2024-01-01 10:00:00.{fraction}\n"));
    }
    s.write("projects/pg_types/data/big.csv", &big);
    // A cursor with one NULL, at row 3000.
    s.write(
        "projects/pg_types/data/curs.csv",
        &(1..=5000)
            .map(|i| match i {
                3000 => "3000,\n".to_string(),
                _ => format!("{i},2024-01-01 00:00:00.{i:06}\n"),
            })
            .fold("id,at\n".to_string(), |a, l| a + &l),
    );
    s.write(
        "projects/pg_types/data/nokey.csv",
        &(1..=3000)
            .map(|i| {
                if i == 2500 {
                    ",x\n".to_string()
                } else {
                    format!("{i},x\n")
                }
            })
            .fold("id,v\n".to_string(), |a, l| a + &l),
    );
    s.write(
        "projects/pg_types/project.rhai",
        r#"project("pg_csv_enc");
let dw = connect("warehouse");
let types = #{ id: "bigint", amount: "numeric(12,2)", note: "text", at: "timestamp", paid: "boolean", day: "date" };
task("direct", |run| dw.load(#{ from: csv_file("data/good.csv", #{ types: types }), into: "out.direct", key: ["id"] }));
task("values", |run| dw.load(#{ from: csv_file("data/good.csv", #{ types: types }).filter(|r| true), into: "out.values", key: ["id"] }));
let small = #{ id: "bigint", at: "timestamp" };
task("big", |run| dw.load(#{ from: csv_file("data/big.csv", #{ types: small }), into: "out.big" }));
task("big_values", |run| dw.load(#{ from: csv_file("data/big.csv", #{ types: small }).filter(|r| true), into: "out.big" }));
task("nokey", |run| dw.load(#{ from: csv_file("data/nokey.csv", #{ types: #{ id: "bigint" } }), into: "out.nokey", key: ["id"] }));
let curs = #{ id: "bigint", at: "timestamp" };
task("cursor", |run| dw.load(#{ from: csv_file("data/curs.csv", #{ types: curs }), into: "out.cur", key: ["id"], cursor: "at" }));
task("cursor_values", |run| dw.load(#{ from: csv_file("data/curs.csv", #{ types: curs }).filter(|r| true), into: "out.cur_values", key: ["id"], cursor: "at" }));
task("cursor_fail", |run| dw.load(#{ from: csv_file("data/curs.csv", #{ types: curs }), into: "out.cur_fail", key: ["id"], cursor: "at", null_cursor: "fail" }));
task("cursor_fail_values", |run| dw.load(#{ from: csv_file("data/curs.csv", #{ types: curs }).filter(|r| true), into: "out.cur_fail", key: ["id"], cursor: "at", null_cursor: "fail" }));
"#,
    );
    let warehouse = s.warehouse.clone();
    let run = s
        .exec_env(
            &warehouse,
            &[("ETL_LOG", "etl=debug")],
            "pg_types",
            &["--jobs", "1"],
        )
        .failed();
    run.contains("Rows arrive encoded as the target writes them");
    assert_eq!(records(&db, "out.direct").len(), 5000);
    assert_eq!(records(&db, "out.direct"), records(&db, "out.values"));
    assert_eq!(
        column_types(&db, "out.direct"),
        column_types(&db, "out.values")
    );
    assert_eq!(
        text(&db, "SELECT count(*) FILTER (WHERE note = ''), count(*) FILTER (WHERE note IS NULL), count(paid) FROM out.direct"),
        ["1250|1250|3333"]
    );
    // The same refusal, with the same words, whichever way the rows travelled.
    let reasons: Vec<&str> = run
        .stderr
        .lines()
        .filter_map(|l| l.split("load into out.big, row 4000, column 'at': ").nth(1))
        .collect();
    assert!(reasons.len() >= 2, "{}", run.stderr);
    assert!(reasons.iter().all(|r| *r == reasons[0]), "{reasons:?}");
    run.contains("would be rounded");
    run.contains("load into out.nokey, row 2500, column 'id': the key column is NULL");
    assert_eq!(
        text(
            &db,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'out' ORDER BY 1"
        ),
        ["big", "cur", "cur_values", "direct", "values"]
    );
    assert_eq!(text(&db, "SELECT count(*) FROM out.big"), ["0"]);
    // The cursor's watermark and NULL count come out the same from encoded rows.
    run.contains("(no values built on the way). table=out.cur\n");
    let watermark = |t: &str| {
        text(&db, &format!("SELECT data_max_date || ' ' || number_of_records FROM etl.etl_runs WHERE target_table = '{t}' AND status = 'success'"))
    };
    assert_eq!(watermark("out.cur"), ["2024-01-01 00:00:00.005 5000"]);
    assert_eq!(watermark("out.cur"), watermark("out.cur_values"));
    assert_eq!(
        run.stderr
            .matches("1 rows had a NULL cursor (loaded)")
            .count(),
        2
    );
    let refusals = run
        .stderr
        .lines()
        .filter(|l| l.contains("load into out.cur_fail, row 3000, column 'at': the cursor is NULL"))
        .count();
    assert!(refusals >= 2, "{}", run.stderr);
}

#[test]
fn numeric_nan_is_refused_with_the_column_named() {
    let db = PgTestDb::new("pg_nan");
    db.execute(
        "CREATE TABLE src (id int, amount numeric); INSERT INTO src VALUES (1, 1), (2, 'NaN');",
    );
    let s = Sandbox::new(&db, &["pg_types"]);
    s.write(
        "projects/pg_types/project.rhai",
        "project(\"pg_nan\");\nlet dw = connect(\"warehouse\");\n\
         task(\"copy\", |run| dw.load(#{ from: dw.table(\"src\"), into: \"dst\" }));\n",
    );
    s.exec("pg_types", &[])
        .failed()
        .contains("row 2, column 'amount': NaN has no exact decimal value");
    assert_eq!(text(&db, "SELECT to_regclass('dst') IS NULL"), ["t"]);
    assert_eq!(text(&db, "SELECT status FROM etl.etl_runs"), ["failed"]);
}

#[test]
fn merge_append_and_window_pushdown_across_incremental_runs() {
    let db = PgTestDb::new("pg_modes");
    let s = Sandbox::new(&db, &["pg_modes"]);
    let run = s.exec("pg_modes", &["--load-type", "I"]).ok();
    run.contains("figures orders: rows=3 inserted=3 updated=0");
    run.contains("figures mart: rows=3 inserted=3 updated=0");
    run.contains("figures mart_sql: rows=3 inserted=3 updated=0");
    run.contains("figures events: rows=2 inserted=2 updated=0");

    // Row 2 changes, row 4 is new, row 3 sits on the watermark unchanged (read again, not
    // rewritten), row 1 is older than the watermark.
    s.write(
        "projects/pg_modes/data/orders.csv",
        "id,amount,updated_at\n1,10.00,2024-01-01 00:00:00\n2,25.00,2024-01-04 00:00:00\n\
         3,30.00,2024-01-03 00:00:00\n4,40.00,2024-01-05 00:00:00\n",
    );
    s.write(
        "projects/pg_modes/data/events.csv",
        "id,at\n1,2024-01-01 00:00:00\n2,2024-01-02 00:00:00\n3,2024-01-03 00:00:00\n",
    );
    let run = s.exec("pg_modes", &["--load-type", "I"]).ok();
    run.contains("figures orders: rows=3 inserted=1 updated=1");
    run.contains("figures mart: rows=3 inserted=1 updated=1");
    run.contains("figures mart_sql: rows=3 inserted=1 updated=1");
    run.contains("figures events: rows=1 inserted=1 updated=0");

    // Nothing new: only the boundary row is read, and nothing changes.
    let run = s.exec("pg_modes", &["--load-type", "I"]).ok();
    run.contains("figures orders: rows=1 inserted=0 updated=0");
    run.contains("figures mart: rows=1 inserted=0 updated=0");
    run.contains("figures events: rows=0 inserted=0 updated=0");

    let want = ["1|10.00", "2|25.00", "3|30.00", "4|40.00"];
    for t in ["sales.orders", "mart.orders", "mart.orders_sql"] {
        assert_eq!(
            text(&db, &format!("SELECT id, amount FROM {t} ORDER BY id")),
            want,
            "{t}"
        );
    }
    assert_eq!(
        text(&db, "SELECT count(*), count(DISTINCT id) FROM sales.events"),
        ["3|3"]
    );
    assert_eq!(
        text(&db, "SELECT data_max_date FROM etl.etl_runs WHERE target_table = 'sales.orders' AND status = 'success' ORDER BY id"),
        ["2024-01-03 00:00:00", "2024-01-05 00:00:00", "2024-01-05 00:00:00"]
    );

    // A full reload replaces the table with exactly the file's rows.
    s.write(
        "projects/pg_modes/data/orders.csv",
        "id,amount,updated_at\n7,70.00,2024-02-01 00:00:00\n",
    );
    s.exec("pg_modes", &["--load-type", "F", "--task", "orders"])
        .ok()
        .contains("figures orders: rows=1 inserted=1 updated=0");
    assert_eq!(
        text(&db, "SELECT id, amount FROM sales.orders"),
        ["7|70.00"]
    );
    assert_eq!(
        text(
            &db,
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE '%etl_new%'"
        ),
        ["0"]
    );

    // `etl runs` reads the audit table from PostgreSQL.
    let runs = s.etl(&["runs", "--project", "pg_modes"]);
    assert_eq!(runs.code, 0, "{}", runs.stderr);
    runs.contains("sales.orders");
    runs.contains("success");
}

#[test]
fn a_value_the_server_refuses_mid_copy_leaves_the_target_unchanged() {
    let db = PgTestDb::new("pg_fail");
    db.execute(
        "CREATE SCHEMA app;
         CREATE TABLE app.items (id int, qty int CHECK (qty < 100));
         INSERT INTO app.items VALUES (1, 1), (2, 2);
         CREATE TABLE app.dupes (id int PRIMARY KEY, name text);
         INSERT INTO app.dupes VALUES (1, 'old');",
    );
    let s = Sandbox::new(&db, &["pg_fail"]);
    let run = s.exec("pg_fail", &["--task", "items"]).failed();
    run.contains("load into app.items, row 4");
    run.contains("violates check constraint");
    run.contains("SQLSTATE 23514");
    assert_eq!(
        text(&db, "SELECT id, qty FROM app.items ORDER BY id"),
        ["1|1", "2|2"]
    );
    let audit = text(&db, "SELECT status, number_of_records, error_message FROM etl.etl_runs WHERE target_table = 'app.items'");
    assert_eq!(audit.len(), 1);
    assert!(
        audit[0].starts_with("failed|0|") && audit[0].contains("row 4"),
        "{audit:?}"
    );

    let run = s.exec("pg_fail", &["--task", "dupes"]).failed();
    run.contains("building the primary key (id)");
    assert_eq!(text(&db, "SELECT id, name FROM app.dupes"), ["1|old"]);
    assert_eq!(
        text(
            &db,
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE '%etl_new%'"
        ),
        ["0"]
    );
    assert_eq!(
        text(
            &db,
            "SELECT status FROM etl.etl_runs WHERE target_table = 'app.dupes'"
        ),
        ["failed"]
    );
}

#[test]
fn a_load_waits_for_another_load_of_its_table_boundedly_and_closes_stale_records() {
    let db = PgTestDb::new("pg_lock");
    let s = Sandbox::new(&db, &["pg_lock"]);
    s.exec("pg_lock", &[]).ok();
    // Another load of the table, of any project, holds its load lock (an open transaction) for
    // longer than this configuration lets a load wait.
    s.write(
        "etl.toml",
        "[env.dev.connections]\nlite = \"sqlite://metadata/lite.db\"\n[load]\ntable_lock_timeout_seconds = 0.3\n",
    );
    db.execute(
        "BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('etl load' || chr(31) || 'app.locked', 0));",
    );
    s.exec("pg_lock", &[])
        .failed()
        .contains("Another load of app.locked is running; waiting for it to finish (at most 0.3s")
        .contains("another load of app.locked (this project or another) held the table for 0.3s")
        .contains("table_lock_timeout_seconds");
    db.execute("COMMIT");

    // A run killed mid-load left its record `running`; the next load closes it and succeeds.
    db.execute(
        "INSERT INTO etl.etl_runs (run_id, project, task, status, load_type, environment, script_version, \
         target_database, target_table, start_script_execution_time) \
         VALUES ('dead-run', 'pg_lock', 'load', 'running', 'F', 'dev', '', 'warehouse', 'app.locked', now() - interval '1 hour')",
    );
    s.exec("pg_lock", &[]).ok();
    let dead = text(
        &db,
        "SELECT status, error_message FROM etl.etl_runs WHERE run_id = 'dead-run'",
    );
    assert!(
        dead[0].starts_with("failed|the run stopped without recording an outcome"),
        "{dead:?}"
    );
    assert_eq!(
        text(
            &db,
            "SELECT count(*) FROM etl.etl_runs WHERE status = 'running'"
        ),
        ["0"]
    );
    assert_eq!(text(&db, "SELECT count(*) FROM app.locked"), ["2"]);
}

#[test]
fn sql_api_binds_named_parameters_and_runs_files_in_one_transaction() {
    let db = PgTestDb::new("pg_sql");
    let s = Sandbox::new(&db, &["pg_sql"]);
    std::fs::write(
        s.path("etl.toml"),
        "[audit]\nschema = \"ops\"\n[env.dev.connections]\n",
    )
    .expect("etl.toml");
    let run = s.exec("pg_sql", &[]).failed();
    run.contains("setup changed=6");
    run.contains("query=6 first=k1:2:");
    run.contains("scalar=58");
    run.contains("inet=10.0.0.1/8");
    run.contains("limited=3 after=200000");
    // The broken file names the failing line, and its first statements are rolled back.
    run.contains("line 3");
    run.contains("no_such_column");
    assert_eq!(
        text(&db, "SELECT to_regclass('app.half_done') IS NULL"),
        ["t"]
    );
    assert_eq!(text(&db, "SELECT v FROM app.kv WHERE k = 'x'"), ["42"]);
    assert_eq!(
        text(&db, "SELECT DISTINCT note FROM app.kv WHERE k <> 'x'"),
        ["it's :not_a_param"]
    );
    // The audit table lives in the configured schema.
    assert_eq!(
        text(
            &db,
            "SELECT to_regclass('ops.etl_runs') IS NOT NULL, to_regclass('etl.etl_runs') IS NULL"
        ),
        ["t|t"]
    );
}

#[test]
fn tls_modes_encrypt_and_verify() {
    let db = PgTestDb::new("pg_tls");
    // The servers of this machine kind have TLS (a self-signed certificate). A server without
    // it cannot run this test: that is a failure with the reason, never a pass.
    assert_eq!(
        text(&db, "SHOW ssl"),
        ["on"],
        "the PostgreSQL server under test has no TLS (ssl = off), so TLS cannot be tested: \
         enable ssl on it, or leave this test out with --skip tls_modes"
    );
    let s = Sandbox::new(&db, &["pg_tls"]);
    let url = |q: &str| format!("{}?{q}", db.url());
    s.exec_with(&url("sslmode=require"), "pg_tls", &[])
        .ok()
        .contains("ssl=true");
    s.exec_with(&url("sslmode=disable"), "pg_tls", &[])
        .ok()
        .contains("ssl=false");
    // A self-signed server certificate is not trusted by verify-full.
    s.exec_with(&url("sslmode=verify-full"), "pg_tls", &[])
        .failed()
        .contains("certificate");
    let cert = text(&db, "SHOW ssl_cert_file").remove(0);
    if let Err(e) = std::fs::File::open(&cert) {
        panic!("the server's certificate {cert} cannot be read here ({e}), so verify-ca cannot be tested: run the tests on the server's machine, as a user who can read it");
    }
    // Trusting that certificate as the root: verify-ca passes (the host name is not checked).
    s.exec_with(
        &url(&format!("sslmode=verify-ca&sslrootcert={cert}")),
        "pg_tls",
        &[],
    )
    .ok()
    .contains("ssl=true");
}

#[test]
fn a_null_key_is_refused_with_its_row_before_postgresql_sees_it() {
    let db = PgTestDb::new("pg_null_key");
    let s = Sandbox::new(&db, &["load_null_key"]);
    s.exec("load_null_key", &[]).ok();
    s.write(
        "projects/load_null_key/data/items.csv",
        "id,name\n1,pen\n3,nib\n,lost\n",
    );
    s.exec("load_null_key", &[])
        .failed()
        .contains("load into items, row 3, column 'id': the key column is NULL");
    assert_eq!(
        text(&db, "SELECT id || ':' || name FROM items ORDER BY id"),
        ["1:pen", "2:ink"]
    );
}
