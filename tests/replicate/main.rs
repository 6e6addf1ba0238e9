//! Whole-database replication by one `copy::database` call (stdlib/copy.rhai), through the
//! real binary: a throwaway MariaDB database (tables with and without primary keys, one with
//! `updated_at`) replicated into a throwaway PostgreSQL database, then again incrementally
//! after changes; and the same script under `etl check`, `etl check --offline`, `etl plan`
//! and `etl launcher`, which all see the same tasks.

#[path = "../common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{copy_dir, text};
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

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Sandbox {
    fn new(src: &str, dw: &PgTestDb, project: &str) -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("etl-repl-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(dir.path().join("etl.toml"), "[env.dev.connections]\n").expect("etl.toml");
        copy_dir(
            &repo().join("tests/projects").join(project),
            &dir.path().join(format!("projects/{project}")),
        );
        Sandbox {
            dir,
            src: src.to_string(),
            warehouse: dw.url().to_string(),
        }
    }

    fn etl(&self, args: &[&str]) -> Run {
        let out = Command::new(BIN)
            .current_dir(self.dir.path())
            .env("ETL_CONN_SRC", &self.src)
            .env("ETL_CONN_WAREHOUSE", &self.warehouse)
            .env("ETL_STDLIB", repo().join("stdlib"))
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

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

impl Run {
    fn ok(self) -> Run {
        assert_eq!(self.code, 0, "etl failed:\n{}", self.output);
        self
    }

    fn has(&self, text: &str) -> &Run {
        assert!(
            self.output.contains(text),
            "expected {text:?} in:\n{}",
            self.output
        );
        self
    }

    fn lacks(&self, text: &str) -> &Run {
        assert!(
            !self.output.contains(text),
            "did not expect {text:?} in:\n{}",
            self.output
        );
        self
    }
}

const SOURCE: &str = "
CREATE TABLE customers (id int PRIMARY KEY, name varchar(40), credit decimal(10,2),
                        updated_at datetime(6) NOT NULL);
INSERT INTO customers VALUES (1, 'Ann', 10.50, '2026-01-01 00:00:00'),
                             (2, 'Bob', NULL, '2026-01-02 00:00:00.250000'),
                             (3, '', 0.00, '2026-01-03 00:00:00');
CREATE TABLE order_items (order_id int, line int, qty int, note text, PRIMARY KEY (order_id, line));
INSERT INTO order_items VALUES (1, 1, 2, 'a'), (1, 2, 1, NULL), (2, 1, 5, '');
CREATE TABLE events_log (at datetime, message varchar(100));
INSERT INTO events_log VALUES ('2026-01-01 10:00:00', 'started'), ('2026-01-01 10:00:00', 'started');
CREATE TABLE tmp_scratch (x int);
";

/// Every table's rows as text in one order: (table, MariaDB query, PostgreSQL query).
const VIEWS: &[(&str, &str, &str)] = &[
    (
        "customers",
        "SELECT CONCAT_WS('|', id, IFNULL(name, 'NULL'), IFNULL(credit, 'NULL'), DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s.%f')) FROM customers ORDER BY id",
        "SELECT concat_ws('|', id, coalesce(name, 'NULL'), coalesce(credit::text, 'NULL'), to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US')) FROM raw.customers ORDER BY id",
    ),
    (
        "order_items",
        "SELECT CONCAT_WS('|', order_id, line, qty, IFNULL(note, 'NULL')) FROM order_items ORDER BY order_id, line",
        "SELECT concat_ws('|', order_id, line, qty, coalesce(note, 'NULL')) FROM raw.order_items ORDER BY order_id, line",
    ),
    (
        "events_log",
        "SELECT CONCAT_WS('|', DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s'), message) FROM events_log ORDER BY at, message",
        "SELECT concat_ws('|', to_char(at, 'YYYY-MM-DD HH24:MI:SS'), message) FROM raw.events_log ORDER BY at, message",
    ),
];

fn assert_exact(src: &MyTestDb, dw: &PgTestDb) {
    for (table, my_sql, pg_sql) in VIEWS {
        let source: Vec<String> = src
            .query(my_sql)
            .into_iter()
            .map(|r| r[0].clone().unwrap_or_default())
            .collect();
        assert!(!source.is_empty(), "{table} has rows");
        assert_eq!(
            text(dw, pg_sql),
            source,
            "raw.{table} is not the source's {table}"
        );
    }
}

#[test]
fn one_call_replicates_a_mariadb_database_and_then_only_its_changes() {
    let src = MyTestDb::new("repl_my");
    let dw = PgTestDb::new("repl_my");
    src.execute(SOURCE);
    let s = Sandbox::new(src.url(), &dw, "replicate");
    let script = "projects/replicate/project.rhai";

    // The task list comes from the source's tables, and every command sees the same one.
    s.etl(&["check", script])
        .ok()
        .has("is valid: 4 tasks")
        .has("  raw.customers\n")
        .has("  raw.events_log\n")
        .has("  raw.order_items (after raw.customers)\n")
        .has("  summary (after raw.customers, raw.events_log, raw.order_items)")
        .has("Connected to 'src' to list tables")
        .lacks("tmp_scratch");
    s.etl(&["check", "--offline", script])
        .ok()
        .has("is valid: 1 tasks")
        .has("The task list depends on the tables of 'src'");
    s.etl(&["plan", script])
        .ok()
        .has("raw.order_items")
        .has("events_log -> raw.events_log (no primary key: loads in full)")
        .has("customers -> raw.customers (key [\"id\"], incremental on updated_at)");
    s.etl(&["launcher", "replicate", "--os", "unix"]).ok();
    assert!(s.path("launchers/run_replicate.sh").exists());
    s.etl(&["export", "cron", "replicate"])
        .ok()
        .has("0 2 * * *");
    s.etl(&["export", "airflow", "replicate", "--out", "dags"])
        .ok();
    let dag = std::fs::read_to_string(s.path("dags/replicate.py")).expect("the DAG file");
    for task in [
        "raw.customers",
        "raw.events_log",
        "raw.order_items",
        "summary",
    ] {
        assert!(dag.contains(task), "{task} missing from the DAG:\n{dag}");
    }
    assert_eq!(
        text(
            &dw,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'raw'"
        ),
        ["0"],
        "check, plan and launcher wrote nothing"
    );

    s.etl(&["exec", script, "--load-type", "F"]).ok();
    assert_exact(&src, &dw);
    // Keys come from the source: a composite key, and none where the source has none.
    let keys = text(
        &dw,
        "SELECT c.relname || ':' || coalesce(string_agg(a.attname, ',' ORDER BY array_position(i.indkey::int2[], a.attnum)), '-') \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'raw' \
         LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary \
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) \
         WHERE c.relkind = 'r' GROUP BY c.relname ORDER BY c.relname",
    );
    assert_eq!(
        keys,
        ["customers:id", "events_log:-", "order_items:order_id,line"]
    );

    src.execute(
        "UPDATE customers SET name = 'Bobby', credit = 7.25, updated_at = '2026-02-01 00:00:00' WHERE id = 2;
         INSERT INTO customers VALUES (4, 'Dee', 1.00, '2026-02-02 00:00:00');
         DELETE FROM order_items WHERE order_id = 1 AND line = 2;
         UPDATE order_items SET qty = 6 WHERE order_id = 2;
         INSERT INTO order_items VALUES (3, 1, 1, 'new');
         INSERT INTO events_log VALUES ('2026-02-01 00:00:00', 'again');",
    );
    s.etl(&["exec", script, "--load-type", "I"]).ok();
    assert_exact(&src, &dw);
    // The incremental run read only the changed customers and the boundary row (merged
    // again); the tables without the cursor were reloaded in full.
    let audit = text(
        &dw,
        "SELECT target_table || ':' || load_type || ':' || number_of_records FROM etl.etl_runs \
         WHERE load_type = 'I' AND status = 'success' AND target_table IS NOT NULL ORDER BY target_table",
    );
    assert_eq!(
        audit,
        [
            "raw.customers:I:3",
            "raw.events_log:I:3",
            "raw.order_items:I:3"
        ]
    );
}

/// PostgreSQL as the source, with a schema: `schema`, `include` and `task_name` options,
/// and what `columns()` / `primary_key()` say about its tables.
#[test]
fn a_postgres_schema_replicates_with_its_own_names() {
    let dw = PgTestDb::new("repl_pg");
    dw.execute(
        "CREATE SCHEMA shop;
         CREATE TABLE shop.sales_eu (id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL, sold date);
         CREATE TABLE shop.sales_us (id bigint, amount numeric(12,2));
         CREATE TABLE shop.returns (id int PRIMARY KEY);
         INSERT INTO shop.sales_eu VALUES (1, 12.30, '2026-01-01'), (2, 0.01, NULL);
         INSERT INTO shop.sales_us VALUES (9, 99.99), (9, 99.99);",
    );
    let s = Sandbox::new(dw.url(), &dw, "replicate_pg");
    let script = "projects/replicate_pg/project.rhai";
    s.etl(&["check", script])
        .ok()
        .has("is valid: 3 tasks")
        .has("  copy_sales_eu\n")
        .has("  copy_sales_us\n")
        .has("  report (after copy_sales_eu, copy_sales_us)")
        .lacks("returns");
    s.etl(&["exec", script])
        .ok()
        .has(r#"columns of shop.sales_eu: [#{"name": "id", "nullable": false, "type": "bigint"}, #{"name": "amount", "nullable": false, "type": "numeric(12,2)"}, #{"name": "sold", "nullable": true, "type": "date"}]"#)
        .has(r#"key of shop.sales_eu: ["id"]"#)
        .has("key of shop.sales_us: []");
    assert_eq!(
        text(&dw, "SELECT id || ':' || amount || ':' || coalesce(sold::text, 'NULL') FROM copy.sales_eu ORDER BY id"),
        ["1:12.30:2026-01-01", "2:0.01:NULL"]
    );
    assert_eq!(text(&dw, "SELECT count(*) FROM copy.sales_us"), ["2"]);

    // A source that cannot be reached: check says why it connected, --offline still checks.
    let mut gone = Sandbox::new(dw.url(), &dw, "replicate_pg");
    gone.src = format!("{}_gone", dw.url());
    let failed = gone.etl(&["check", script]);
    assert_eq!(failed.code, 2, "{}", failed.output);
    failed
        .has("connection 'src'")
        .has("`etl check --offline` checks without connecting");
    gone.etl(&["check", "--offline", script])
        .ok()
        .has("is valid: 1 tasks");
}
