//! The MySQL/MariaDB source connector through the real binary: fixture projects under
//! tests/projects/my_*/ run with `ETL_CONN_SRC` pointing at a throwaway MariaDB database and
//! `ETL_CONN_WAREHOUSE` at a throwaway PostgreSQL database; the assertions read PostgreSQL.

#[path = "../common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{column_types, copy_dir, records, text};
use common::{MyTestDb, PgTestDb};

const BIN: &str = env!("CARGO_BIN_EXE_etl");

struct Sandbox {
    dir: tempfile::TempDir,
    src: String,
    warehouse: String,
}

struct Run {
    code: i32,
    output: String,
}

impl Sandbox {
    fn new(src: &MyTestDb, dw: &PgTestDb, projects: &[&str]) -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("etl-my-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(dir.path().join("etl.toml"), "[env.dev.connections]\n").expect("etl.toml");
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/projects");
        for p in projects {
            copy_dir(&root.join(p), &dir.path().join(format!("projects/{p}")));
        }
        Sandbox {
            dir,
            src: src.url().to_string(),
            warehouse: dw.url().to_string(),
        }
    }

    fn command(&self, src_url: &str, project: &str, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(self.dir.path())
            .env("ETL_CONN_SRC", src_url)
            .env("ETL_CONN_WAREHOUSE", &self.warehouse)
            .env_remove("ETL_ENV")
            .env_remove("ETL_CONFIG")
            .arg("exec")
            .arg(format!("projects/{project}/project.rhai"))
            .args(args);
        c
    }

    fn exec_with(&self, src_url: &str, project: &str, args: &[&str]) -> Run {
        let out = self
            .command(src_url, project, args)
            .output()
            .expect("running etl");
        let mut output = String::from_utf8_lossy(&out.stderr).into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stdout));
        Run {
            code: out.status.code().unwrap_or(-1),
            output,
        }
    }

    fn exec(&self, project: &str, args: &[&str]) -> Run {
        self.exec_with(&self.src.clone(), project, args)
    }

    /// Any `etl` command in the sandbox, with the connections set.
    fn etl(&self, args: &[&str]) -> Run {
        let out = Command::new(BIN)
            .current_dir(self.dir.path())
            .env("ETL_CONN_SRC", &self.src)
            .env("ETL_CONN_WAREHOUSE", &self.warehouse)
            .env_remove("ETL_ENV")
            .env_remove("ETL_CONFIG")
            .args(args)
            .output()
            .expect("running etl");
        let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stderr));
        Run {
            code: out.status.code().unwrap_or(-1),
            output,
        }
    }

    fn spawn(&self, project: &str, args: &[&str]) -> Child {
        self.command(&self.src, project, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting etl")
    }
}

impl Run {
    fn ok(self) -> Run {
        assert_eq!(self.code, 0, "etl failed:\n{}", self.output);
        self
    }

    fn failed(self) -> Run {
        assert_eq!(self.code, 1, "expected a failed run:\n{}", self.output);
        self
    }

    fn contains(&self, text: &str) -> &Run {
        assert!(
            self.output.contains(text),
            "expected {text:?} in:\n{}",
            self.output
        );
        self
    }
}

fn finish(child: Child) -> Run {
    let out = child.wait_with_output().expect("waiting for etl");
    let mut output = String::from_utf8_lossy(&out.stderr).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stdout));
    Run {
        code: out.status.code().unwrap_or(-1),
        output,
    }
}

/// Row count and an md5 over every record's text in key order.
fn fingerprint(db: &PgTestDb, table: &str) -> String {
    text(
        db,
        &format!(
            "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t.id)), '-') FROM {table} t"
        ),
    )
    .remove(0)
}

/// Audit statuses and error messages of loads into `table`, oldest first.
fn audit(dw: &PgTestDb, table: &str) -> Vec<(String, String)> {
    dw.query(&format!(
        "SELECT status, coalesce(error_message, '') FROM etl.etl_runs WHERE target_table = '{table}' ORDER BY id"
    ))
    .into_iter()
    .map(|r| (r[0].clone().unwrap_or_default(), r[1].clone().unwrap_or_default()))
    .collect()
}

const SOURCE_TYPES: &str = r#"
SET SESSION sql_mode = 'ALLOW_INVALID_DATES', time_zone = '+00:00';
CREATE TABLE types (
  id int PRIMARY KEY, b tinyint(1), ti tinyint, tiu tinyint unsigned, si smallint, siu smallint unsigned,
  mi mediumint, miu mediumint unsigned, i int, iu int unsigned, bi bigint, biu bigint unsigned,
  d decimal(65,30), dm decimal(12,2), f float, db double,
  c char(5), vc varchar(10), tx text, l1 varchar(20) CHARACTER SET latin1, l1t text CHARACTER SET latin1,
  en enum('a','b c'), st set('x','y'), js json,
  bn binary(3), vb varbinary(10), bl blob,
  dt date, dtm datetime(6), ts timestamp(6) NULL DEFAULT NULL, tm time(6), yr year, bt bit(10)
) DEFAULT CHARSET utf8mb4;
INSERT INTO types VALUES
 (1, 1, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
  99999999999999999999999999999999999.999999999999999999999999999999, 9999999999.99, 3.5, 1.7976931348623157e308,
  'abc', '😀 émoji', 'multi\nline', 'café ñ ÿ', 'naïve Ångström ß',
  'b c', 'x,y', '{"a": [1, 2.50]}', x'00ff10', x'7f', x'deadbeef',
  '9999-12-31', '2024-02-29 13:14:15.123456', '2038-01-19 03:14:07.999999', '838:59:59.000000', 2155, b'1111111111'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, 0, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
  -0.000000000000000000000000000001, -9999999999.99, -0.25, -2.2250738585072014e-308,
  '', '', '', '', '', 'a', '', '[]', x'000000', x'', x'',
  '1000-01-01', '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01.000001', '-838:59:59.000000', 1901, b'0'),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '00:00:00', NULL, NULL),
 (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  '2024-02-30', '2024-03-31 02:30:00.5', '2024-03-31 01:00:00', '-00:00:00.000001', 0, NULL);
SET SESSION time_zone = '+02:00';
INSERT INTO types (id, dtm, ts) VALUES (6, '2024-10-27 02:30:00', '2024-10-27 02:59:59.999999');
"#;

/// The same values typed by PostgreSQL itself (zero and invalid dates as NULL; TIMESTAMP
/// values in UTC; row 6's timestamp was written in a +02:00 session).
const EXPECTED_TYPES: &str = r#"
CREATE TABLE expected (
  id integer, b boolean, ti smallint, tiu smallint, si smallint, siu integer, mi integer, miu integer,
  i integer, iu bigint, bi bigint, biu numeric(20,0), d numeric(65,30), dm numeric(12,2), f real,
  db double precision, c varchar(5), vc varchar(10), tx text, l1 varchar(20), l1t text, en text, st text,
  js json, bn bytea, vb bytea, bl bytea, dt date, dtm timestamp, ts timestamptz, tm interval, yr smallint,
  bt bigint);
INSERT INTO expected VALUES
 (1, true, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
  99999999999999999999999999999999999.999999999999999999999999999999, 9999999999.99, 3.5, 1.7976931348623157e308,
  'abc', '😀 émoji', E'multi\nline', 'café ñ ÿ', 'naïve Ångström ß',
  'b c', 'x,y', '{"a": [1, 2.50]}', '\x00ff10', '\x7f', '\xdeadbeef',
  '9999-12-31', '2024-02-29 13:14:15.123456', '2038-01-19 03:14:07.999999+00', '838:59:59', 2155, 1023),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, false, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
  -0.000000000000000000000000000001, -9999999999.99, -0.25, -2.2250738585072014e-308,
  '', '', '', '', '', 'a', '', '[]', '\x000000', '\x', '\x',
  '1000-01-01', '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01.000001+00', '-838:59:59', 1901, 0),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '00:00:00', NULL, NULL),
 (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, '2024-03-31 02:30:00.5', '2024-03-31 01:00:00+00', '-00:00:00.000001', 0, NULL),
 (6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, '2024-10-27 02:30:00', '2024-10-27 00:59:59.999999+00', NULL, NULL, NULL);
"#;

#[test]
fn every_mapped_type_loads_exactly_into_postgres() {
    let src = MyTestDb::new("my_types");
    let dw = PgTestDb::new("my_types");
    src.execute(SOURCE_TYPES);
    dw.execute(EXPECTED_TYPES);
    let s = Sandbox::new(&src, &dw, &["my_types"]);
    let run = s.exec("my_types", &[]).ok();
    // Zero and invalid dates are counted and reported, never silent.
    run.contains("column 'dt': 2 zero or invalid date(s)");
    run.contains("column 'dtm': 1 zero or invalid date(s)");
    run.contains("column 'ts': 1 zero or invalid date(s)");

    let expected = records(&dw, "expected");
    assert_eq!(expected.len(), 6);
    assert_eq!(records(&dw, "from_my.t"), expected);
    assert_eq!(records(&dw, "from_my.t_sql"), expected);
    let types = column_types(&dw, "expected");
    assert_eq!(column_types(&dw, "from_my.t"), types);
    // NULL and '' stay apart in every string type.
    for col in ["c", "vc", "tx", "l1", "l1t", "st", "vb", "bl"] {
        assert_eq!(
            text(&dw, &format!("SELECT count(*) FILTER (WHERE {col} IS NULL), count(*) FILTER (WHERE {col}::text IN ('', '\\x')) FROM from_my.t WHERE id IN (2, 3)")),
            ["1|1"],
            "{col}"
        );
    }

    // zero_dates=fail refuses the zero date, naming the column.
    let strict = format!("{}?zero_dates=fail", s.src);
    s.exec_with(&strict, "my_types", &["--task", "table"])
        .failed()
        .contains("zero_dates=fail");
    // tinyint1_as_bool=false reads tinyint(1) as smallint.
    let raw = format!("{}?tinyint1_as_bool=false", s.src);
    dw.execute("DROP TABLE from_my.t");
    s.exec_with(&raw, "my_types", &["--task", "table"]).ok();
    assert_eq!(
        text(&dw, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'from_my.t'::regclass AND attname = 'b'"),
        ["smallint"]
    );
    assert_eq!(text(&dw, "SELECT b FROM from_my.t WHERE id = 1"), ["1"]);
}

#[test]
fn full_then_incremental_loads_pick_up_new_and_changed_rows() {
    let src = MyTestDb::new("my_incr");
    let dw = PgTestDb::new("my_incr");
    src.execute(
        "CREATE TABLE orders (id int PRIMARY KEY, amount decimal(12,2), note varchar(20), updated_at datetime(6));
         INSERT INTO orders VALUES (1, 10.50, 'a', '2024-01-01 00:00:00.000001'), (2, 20.00, NULL, '2024-01-02 00:00:00'),
                                   (3, 0.01, '', '2024-01-03 12:00:00.5'), (4, 4.00, 'null cursor', NULL);",
    );
    let s = Sandbox::new(&src, &dw, &["my_incr"]);
    s.exec("my_incr", &["--load-type", "F"]).ok();
    let table = records(&dw, "app.orders");
    assert_eq!(table.len(), 4);
    assert_eq!(table[0], "(1,10.50,a,\"2024-01-01 00:00:00.000001\")");
    // The query source has no NULL cursor row: `updated_at >= :since` excludes it.
    assert_eq!(records(&dw, "app.orders_sql"), table[..3].to_vec());

    src.execute(
        "UPDATE orders SET amount = 30.00, updated_at = '2024-02-01 00:00:00' WHERE id = 2;
         INSERT INTO orders VALUES (5, 5.55, 'new', '2024-02-02 00:00:00');",
    );
    s.exec("my_incr", &["--load-type", "I"]).ok();
    let after = records(&dw, "app.orders");
    assert_eq!(after.len(), 5);
    assert_eq!(after[1], "(2,30.00,,\"2024-02-01 00:00:00\")");
    assert_eq!(after[4], "(5,5.55,new,\"2024-02-02 00:00:00\")");
    let sql = records(&dw, "app.orders_sql");
    assert_eq!(sql.len(), 4);
    assert_eq!(sql[1], after[1]);
    assert_eq!(sql[3], after[4]);
    // The incremental runs read only the window (boundary rows merged again, the NULL cursor
    // row counted and loaded by the table source): the audit says how many rows.
    let counts = text(
        &dw,
        "SELECT target_table || ':' || load_type || ':' || number_of_records FROM etl.etl_runs ORDER BY id",
    );
    assert!(
        counts.contains(&"app.orders_sql:I:3".to_string()),
        "{counts:?}"
    );
    assert!(counts.contains(&"app.orders:I:4".to_string()), "{counts:?}");
}

#[test]
fn plan_prints_the_mysql_statements_with_the_watermark_and_an_estimate() {
    let src = MyTestDb::new("my_plan");
    let dw = PgTestDb::new("my_plan");
    src.execute(
        "CREATE TABLE orders (id int PRIMARY KEY, amount decimal(12,2), note varchar(20), updated_at datetime(6));
         INSERT INTO orders VALUES (1, 10.50, 'a', '2024-01-01 00:00:00'), (2, 20.00, NULL, '2024-01-02 00:00:00');",
    );
    let s = Sandbox::new(&src, &dw, &["my_incr"]);
    s.exec("my_incr", &["--load-type", "F"]).ok();
    let records = text(&dw, "SELECT count(*) FROM etl.etl_runs");
    let plan = s.etl(&["plan", "projects/my_incr/project.rhai", "--load-type", "I"]);
    assert_eq!(plan.code, 0, "{}", plan.output);
    // MySQL's own quoting, the watermark bound where the source binds it, the optimizer's
    // estimate: the statement the MySQL source runs, not a PostgreSQL rendering of it.
    plan.contains("load table orders on connection 'src' -> warehouse.app.orders (merge, key id, cursor updated_at)")
        .contains("SELECT * FROM `orders` WHERE (`updated_at` >= '2024-01-02 00:00:00' OR `updated_at` IS NULL)")
        .contains("SELECT id, amount, note, updated_at FROM orders WHERE updated_at >= '2024-01-02 00:00:00' AND updated_at < :until")
        .contains("-- :until unbounded: bound to the highest value of the cursor's type")
        .contains("(optimizer estimate)");
    assert!(!plan.output.contains("rows: unknown"), "{}", plan.output);
    assert_eq!(
        text(&dw, "SELECT count(*) FROM etl.etl_runs"),
        records,
        "the plan wrote no audit record"
    );
}

fn big_table(src: &MyTestDb, rows: u64) {
    src.execute(&format!(
        "DROP TABLE IF EXISTS big;
         CREATE TABLE big (id bigint PRIMARY KEY, qty int, amount decimal(12,2), note varchar(40), created_at datetime(6));
         INSERT INTO big SELECT seq, seq % 97, seq / 100, concat('note ', seq), '2024-01-01' + INTERVAL seq SECOND
         FROM seq_1_to_{rows};"
    ));
}

#[test]
fn a_parallel_read_gives_the_same_table() {
    let src = MyTestDb::new("my_parallel");
    let dw = PgTestDb::new("my_parallel");
    big_table(&src, 50_003);
    let s = Sandbox::new(&src, &dw, &["my_parallel"]);
    s.exec("my_parallel", &[]).ok();
    let one = fingerprint(&dw, "one.big");
    assert!(one.starts_with("50003:"), "{one}");
    assert_eq!(fingerprint(&dw, "par.big"), one);
}

/// A table loaded into columns of its own types is encoded for PostgreSQL's COPY as it is read,
/// without values built on the way, on one connection or several. The rows are those a
/// `.filter` (which needs values) lets through, and a value the target refuses, or a NULL key,
/// fails both ways with the same message.
#[test]
fn rows_encoded_as_they_are_read_match_the_value_path_and_fail_alike() {
    let src = MyTestDb::new("my_encoded");
    let dw = PgTestDb::new("my_encoded");
    big_table(&src, 10_000);
    src.execute(
        "CREATE TABLE fine LIKE big; INSERT INTO fine SELECT * FROM big;
         UPDATE fine SET created_at = '2024-01-01 00:00:00.123456' WHERE id = 7000;
         UPDATE big SET note = NULL WHERE id % 3 = 0; UPDATE big SET note = '' WHERE id % 3 = 1;
         CREATE TABLE nk (id bigint, v int);
         INSERT INTO nk SELECT CASE WHEN seq = 2500 THEN NULL ELSE seq END, seq FROM seq_1_to_3000;",
    );
    // The target keeps milliseconds; row 7000 of `fine` has microseconds, which it would round.
    dw.execute("CREATE SCHEMA enc; CREATE TABLE enc.fine (id bigint, qty int, amount numeric(12,2), note varchar(40), created_at timestamp(3))");
    let s = Sandbox::new(&src, &dw, &["my_parallel"]);
    std::fs::write(
        s.dir.path().join("projects/my_parallel/project.rhai"),
        r#"project("my_encoded");
let src = connect("src");
let dw = connect("warehouse");
task("direct", |run| dw.load(#{ from: src.table("big"), into: "enc.direct", key: ["id"] }));
task("values", |run| dw.load(#{ from: src.table("big").filter(|r| true), into: "enc.values", key: ["id"] }));
task("parallel", |run| dw.load(#{ from: src.table("big", #{ parallel: 3 }), into: "enc.par", key: ["id"] }));
task("fine", |run| dw.load(#{ from: src.table("fine"), into: "enc.fine" }));
task("fine_values", |run| dw.load(#{ from: src.table("fine").filter(|r| true), into: "enc.fine" }));
task("nk", |run| dw.load(#{ from: src.table("nk"), into: "enc.nk", key: ["id"] }));
"#,
    )
    .expect("project");
    let out = s
        .command(&s.src, "my_parallel", &["--jobs", "1"])
        .env("ETL_LOG", "etl=debug")
        .output()
        .expect("running etl");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        output: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
    .failed();
    run.contains("Rows arrive encoded as the target writes them");
    let direct = records(&dw, "enc.direct");
    assert_eq!(direct.len(), 10_000);
    assert_eq!(records(&dw, "enc.values"), direct);
    assert_eq!(records(&dw, "enc.par"), direct);
    assert_eq!(
        column_types(&dw, "enc.direct"),
        column_types(&dw, "enc.values")
    );
    assert_eq!(
        text(&dw, "SELECT count(*) FILTER (WHERE note IS NULL), count(*) FILTER (WHERE note = '') FROM enc.direct"),
        ["3333|3334"]
    );
    let reasons: Vec<&str> = run
        .output
        .lines()
        .filter_map(|l| {
            l.split("load into enc.fine, row 7000, column 'created_at': ")
                .nth(1)
        })
        .collect();
    assert!(reasons.len() >= 2, "{}", run.output);
    assert!(reasons.iter().all(|r| *r == reasons[0]), "{reasons:?}");
    run.contains("would be rounded");
    run.contains("load into enc.nk, row 2500, column 'id': the key column is NULL");
    assert_eq!(text(&dw, "SELECT count(*) FROM enc.fine"), ["0"]);
    assert_eq!(text(&dw, "SELECT to_regclass('enc.nk') IS NULL"), ["t"]);
}

/// The MariaDB connection id of a running `SELECT * FROM big`, if any.
fn reader_id(src: &MyTestDb) -> Option<String> {
    src.query(&format!(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '{}' AND INFO LIKE 'SELECT * FROM `big`%' AND ID <> CONNECTION_ID()",
        src.name()
    ))
    .into_iter()
    .next()
    .and_then(|r| r[0].clone())
}

/// Waits for the load to be streaming the big table, then kills its source connection.
fn kill_reader(src: &MyTestDb, dw: &PgTestDb, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(id) = reader_id(src) {
            // Let some rows reach the warehouse first.
            let copying = dw
                .query("SELECT 1 FROM pg_stat_activity WHERE query ILIKE 'COPY%' AND pid <> pg_backend_pid()")
                .len();
            if copying > 0 {
                std::thread::sleep(Duration::from_millis(200));
                src.execute(&format!("KILL {id}"));
                return;
            }
        }
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "etl ended before the kill"
        );
        assert!(
            Instant::now() < deadline,
            "the load never started streaming"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_killed_source_connection_fails_the_load_cleanly_and_retries_rerun_it() {
    let src = MyTestDb::new("my_kill");
    let dw = PgTestDb::new("my_kill");
    big_table(&src, 1_000);
    let s = Sandbox::new(&src, &dw, &["my_kill"]);
    s.exec("my_kill", &["--task", "killed"]).ok();
    let before = fingerprint(&dw, "app.big");
    assert!(before.starts_with("1000:"), "{before}");

    big_table(&src, 1_500_000);
    let mut child = s.spawn("my_kill", &["--task", "killed"]);
    kill_reader(&src, &dw, &mut child);
    let run = finish(child).failed();
    run.contains("table big on connection 'src'");
    assert_eq!(fingerprint(&dw, "app.big"), before, "target unchanged");
    let records = audit(&dw, "app.big");
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0].0, "success");
    assert_eq!(records[1].0, "failed", "{records:?}");
    assert!(
        records[1].1.contains("table big on connection 'src'"),
        "{records:?}"
    );

    // With `retries: 1` the second attempt reads the table again and succeeds.
    let mut child = s.spawn("my_kill", &["--task", "retried"]);
    kill_reader(&src, &dw, &mut child);
    finish(child).ok();
    assert!(fingerprint(&dw, "app.big2").starts_with("1500000:"));
    let statuses: Vec<String> = audit(&dw, "app.big2").into_iter().map(|r| r.0).collect();
    assert_eq!(statuses, ["failed", "success"]);
}
