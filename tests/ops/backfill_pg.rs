//! `etl backfill` into PostgreSQL (a throwaway database per test): the same fixture as the
//! SQLite tests, with `ETL_CONN_WAREHOUSE` pointing at the database and every assertion read
//! from PostgreSQL itself (the tables, and the audit table `etl.etl_runs`).

use crate::backfill::{JAN, SCRIPT, WINDOWS};
use crate::common::PgTestDb;
use crate::support::{Ran, Sandbox};

struct Pg {
    db: PgTestDb,
    s: Sandbox,
}

impl Pg {
    fn new(test: &str) -> Pg {
        Pg {
            db: PgTestDb::new(test),
            s: Sandbox::with_project("ops_backfill"),
        }
    }

    fn etl(&self, args: &[&str], status: i32) -> Ran {
        self.s
            .etl(args)
            .env("ETL_CONN_WAREHOUSE", self.db.url())
            .status(status)
            .run()
    }

    fn backfill(&self, args: &[&str], status: i32) -> Ran {
        let mut all = vec!["backfill", SCRIPT];
        all.extend_from_slice(args);
        self.etl(&all, status)
    }

    /// id|updated_at|amount of a table, in order.
    fn table(&self, name: &str) -> Vec<String> {
        self.db
            .query(&format!(
                "SELECT id::text || '|' || updated_at::text || '|' || amount::text FROM {name} ORDER BY id, updated_at"
            ))
            .into_iter()
            .map(|r| r[0].clone().unwrap_or_default())
            .collect()
    }

    fn count(&self, sql: &str) -> i64 {
        self.db.scalar(sql).unwrap_or_default().parse().unwrap()
    }
}

#[test]
fn pg_ten_windows_with_and_without_a_key_and_a_rerun_without_duplicates() {
    let pg = Pg::new("ops_bf_ten");
    pg.backfill(&JAN, 0);
    assert_eq!(pg.count("SELECT count(*) FROM orders"), 90);
    assert_eq!(pg.count("SELECT count(*) FROM orders_log"), 90);
    assert_eq!(pg.table("orders"), pg.table("orders_log"));
    // One load record per window and table, with the window; a marker per window and task.
    for (since, until) in WINDOWS {
        for table in ["orders", "orders_log"] {
            let n = pg.count(&format!(
                "SELECT count(*) FROM etl.etl_runs WHERE load_type = 'B' AND status = 'success' \
                 AND target_table = '{table}' AND start_load_date = '{since} 00:00:00' AND end_load_date = '{until} 00:00:00'"
            ));
            assert_eq!(n, 1, "{table} {since}");
        }
        let markers = pg.count(&format!(
            "SELECT count(*) FROM etl.etl_runs WHERE load_type = 'B' AND target_table IS NULL \
             AND start_load_date = '{since}' AND end_load_date = '{until}'"
        ));
        assert_eq!(markers, 2, "{since}");
    }
    assert_eq!(
        pg.count("SELECT count(DISTINCT run_id) FROM etl.etl_runs"),
        10
    );

    // Window 2 again after the source changed: row 10 changed, row 11 gone.
    let csv = "projects/ops_backfill/data/orders.csv";
    let text = pg.s.read(csv);
    pg.s.write(
        csv,
        text.replace(
            "10,2025-01-04 00:00:00,370.10",
            "10,2025-01-04 00:00:00,999.99",
        )
        .replace("11,2025-01-04 08:00:00,507.11\n", ""),
    );
    pg.backfill(
        &["--from", "2025-01-04", "--to", "2025-01-07", "--days", "3"],
        0,
    );
    let log = pg.table("orders_log");
    assert_eq!(
        log.len(),
        89,
        "the window is replaced: the removed row is gone"
    );
    assert!(log.contains(&"10|2025-01-04 00:00:00|999.99".to_string()));
    assert_eq!(pg.count("SELECT count(DISTINCT id) FROM orders_log"), 89);
    let keyed = pg.table("orders");
    assert_eq!(
        keyed.len(),
        90,
        "merged by key: no duplicate, nothing deleted"
    );
    assert!(keyed.contains(&"10|2025-01-04 00:00:00|999.99".to_string()));
    // The same window once more changes nothing.
    pg.backfill(
        &["--from", "2025-01-04", "--to", "2025-01-07", "--days", "3"],
        0,
    );
    assert_eq!(pg.table("orders_log"), log);
    assert_eq!(pg.table("orders"), keyed);
}

#[test]
fn pg_failure_in_window_4_then_resume_then_incremental_from_the_watermark() {
    let pg = Pg::new("ops_bf_resume");
    let mut failing = JAN.to_vec();
    failing.extend(["--param", "fail_since=2025-01-10"]);
    let ran = pg.backfill(&failing, 1);
    assert!(ran.stderr.contains("Window 4/10 failed"), "{}", ran.stderr);
    assert_eq!(pg.count("SELECT count(*) FROM orders"), 27);

    let mut resume = JAN.to_vec();
    resume.push("--resume");
    let ran = pg.backfill(&resume, 0);
    assert!(
        ran.stderr.contains("10 windows, 7 to run (3 done earlier)"),
        "{}",
        ran.stderr
    );
    assert_eq!(pg.count("SELECT count(*) FROM orders"), 90);
    assert_eq!(pg.count("SELECT count(*) FROM orders_log"), 90);
    // Windows 1-3 were loaded once; 4-10 once by the resume.
    let per_window = pg.db.query(
        "SELECT start_load_date, count(*)::text FROM etl.etl_runs WHERE target_table = 'orders' \
         AND status = 'success' GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(per_window.len(), 10);
    assert!(
        per_window.iter().all(|r| r[1].as_deref() == Some("1")),
        "{per_window:?}"
    );

    // An incremental run continues from the greatest data_max_date.
    let csv = "projects/ops_backfill/data/orders.csv";
    let mut text = pg.s.read(csv);
    text.push_str("91,2025-02-01 10:00:00,1.00\n92,2025-02-02 10:00:00,2.00\n");
    pg.s.write(csv, text);
    pg.etl(&["exec", SCRIPT, "--load-type", "I"], 0);
    let inc = pg.db.query(
        "SELECT target_table, previous_max_date, data_max_date, number_of_records::text FROM etl.etl_runs \
         WHERE load_type = 'I' AND target_table IS NOT NULL ORDER BY target_table",
    );
    let row = |t: &str, prev: &str, max: &str, n: &str| {
        vec![
            Some(t.to_string()),
            Some(prev.to_string()),
            Some(max.to_string()),
            Some(n.to_string()),
        ]
    };
    assert_eq!(
        inc,
        [
            row("orders", "2025-01-30 23:00:00", "2025-02-02 10:00:00", "3"),
            row(
                "orders_log",
                "2025-01-30 23:00:00",
                "2025-02-02 10:00:00",
                "2"
            ),
        ]
    );
    // An older window backfilled afterwards leaves the watermark where it is.
    pg.backfill(
        &["--from", "2025-01-01", "--to", "2025-01-04", "--days", "3"],
        0,
    );
    pg.etl(&["exec", SCRIPT, "--load-type", "I"], 0);
    let prev = pg.db.query(
        "SELECT previous_max_date FROM etl.etl_runs WHERE load_type = 'I' AND target_table IS NOT NULL \
         ORDER BY id DESC LIMIT 2",
    );
    assert!(
        prev.iter()
            .all(|r| r[0].as_deref() == Some("2025-02-02 10:00:00")),
        "{prev:?}"
    );
    assert_eq!(pg.count("SELECT count(*) FROM orders"), 92);
    assert_eq!(pg.count("SELECT count(*) FROM orders_log"), 92);
}

#[test]
fn pg_three_windows_at_once_give_the_same_tables_as_one_at_a_time() {
    let sequential = Pg::new("ops_bf_seq");
    sequential.backfill(&JAN, 0);
    let parallel = Pg::new("ops_bf_par");
    let mut args = JAN.to_vec();
    args.extend(["--parallel", "3"]);
    let ran = parallel.backfill(&args, 0);
    assert!(ran.stderr.contains("3 at once"), "{}", ran.stderr);
    for t in ["orders", "orders_log"] {
        assert_eq!(sequential.table(t), parallel.table(t), "{t}");
    }
    assert_eq!(
        parallel.count("SELECT count(*) FROM etl.etl_runs WHERE status <> 'success'"),
        0
    );
}
