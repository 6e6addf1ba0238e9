//! Data-quality checks on PostgreSQL (the fixture tests/projects/dw_checks, also run on SQLite
//! in tests/cli/checks.rs): each check sees the staged rows inside the load's transaction, so an
//! error-level failure leaves the table, the watermark and the audit as they were; a warning
//! lets the load commit; every result lands in `etl.etl_checks`.

use crate::common::{text, PgTestDb};
use crate::Sandbox;

const GOOD: &str = "id,customer_id,status,amount,updated_at\n\
    10,1,new,5.00,2024-01-01 10:00:00\n\
    11,2,paid,150.00,2024-01-02 10:00:00\n";

/// Breaks every row-level check: a duplicate and a NULL key part, an unknown status and
/// customer, a negative amount, an order in the far future.
const BAD: &str = "id,customer_id,status,amount,updated_at\n\
    10,1,new,5.00,2024-01-01 10:00:00\n\
    11,2,paid,150.00,2024-01-02 10:00:00\n\
    12,9,lost,-1.00,2024-01-03 10:00:00\n\
    13,,new,1.00,2024-01-04 10:00:00\n\
    14,1,new,1.00,2200-01-01 00:00:00\n";

fn results(db: &PgTestDb, task: &str) -> Vec<String> {
    text(
        db,
        &format!(
            "SELECT check_name || ' ' || severity || ' ' || status || ' ' || failing_rows \
             FROM etl.etl_checks WHERE task = '{task}' ORDER BY id"
        ),
    )
}

fn watermark(db: &PgTestDb) -> Vec<String> {
    text(
        db,
        "SELECT status || ' ' || coalesce(data_max_date, '-') FROM etl.etl_runs \
         WHERE target_table = 'fact_orders' ORDER BY id",
    )
}

fn prepared(test: &str) -> (PgTestDb, Sandbox) {
    let db = PgTestDb::new(test);
    let s = Sandbox::new(&db, &["dw_checks"]);
    s.write("projects/dw_checks/data/orders.csv", GOOD);
    s.exec("dw_checks", &[]).ok();
    (db, s)
}

#[test]
fn every_check_passes_on_good_rows_and_fails_at_error_level_with_nothing_loaded() {
    let (db, s) = prepared("checks_error");
    assert_eq!(
        results(&db, "orders"),
        [
            "not_null(id, customer_id) error passed 0",
            "unique(id) error passed 0",
            "accepted_values(status) error passed 0",
            "relationships(customer_id -> dim_customer.id) error passed 0",
            "row_count error passed 0",
            "range(amount) error passed 0",
            "freshness(updated_at) error passed 0",
            "no_far_future error passed 0",
        ]
    );
    let before = text(
        &db,
        "SELECT id || ' ' || amount FROM fact_orders ORDER BY id",
    );

    s.write("projects/dw_checks/data/orders.csv", BAD);
    s.exec("dw_checks", &["--load-type", "I"])
        .failed()
        .contains("checks failed, so nothing was loaded")
        .contains("not_null(id, customer_id) on fact_orders failed: 1 failing row(s) (e.g. 13)")
        .contains("accepted_values(status) on fact_orders failed: 1 failing row(s) (e.g. 12)")
        .contains("range(amount) on fact_orders failed: 1 failing row(s) (e.g. 12)")
        .contains("no_far_future on fact_orders failed: 1 failing row(s) (e.g. 14)");
    // The table, the watermark and the audit are as the good run left them, plus a failed record.
    assert_eq!(
        text(
            &db,
            "SELECT id || ' ' || amount FROM fact_orders ORDER BY id"
        ),
        before
    );
    // The watermark is the newest successful load's: still the good run's.
    let records = watermark(&db);
    assert_eq!(records[0], "success 2024-01-02 10:00:00");
    assert!(records[1].starts_with("failed "), "{records:?}");
    let failed: Vec<String> = results(&db, "orders")
        .into_iter()
        .skip(8)
        .filter(|r| r.contains(" failed "))
        .collect();
    assert_eq!(
        failed,
        [
            "not_null(id, customer_id) error failed 1",
            "accepted_values(status) error failed 1",
            // A NULL reference is not_null's business, as in dbt.
            "relationships(customer_id -> dim_customer.id) error failed 1",
            // 5 rows against the previous load's 2: more than the 50% allowed.
            "row_count error failed 1",
            "range(amount) error failed 1",
            "no_far_future error failed 1",
        ]
    );
}

#[test]
fn warn_level_failures_let_the_load_commit_and_are_recorded_with_samples() {
    let (db, s) = prepared("checks_warn");
    s.write("projects/dw_checks/data/orders.csv", BAD);
    s.exec(
        "dw_checks",
        &["--load-type", "I", "--param", "severity=warn"],
    )
    .ok()
    .contains("Failed checks:");
    assert_eq!(
        text(&db, "SELECT count(*) FROM fact_orders"),
        ["5"],
        "warnings do not stop the load"
    );
    assert_eq!(
        text(
            &db,
            "SELECT samples FROM etl.etl_checks WHERE check_name = 'range(amount)' \
             AND task = 'orders' AND status = 'failed'"
        ),
        ["12"]
    );
    // `etl runs --checks` shows the same results.
    s.etl(&["runs", "--checks"])
        .ok()
        .contains("accepted_values(status)")
        .contains("failed");
}

/// A full load builds its new table's primary key before its checks: when it builds, `unique`
/// on the key is proven without a query of its own; when the rows break it, the check still
/// counts and shows the duplicates, and nothing is loaded.
#[test]
fn a_full_load_with_a_broken_key_fails_its_checks_by_row_and_keeps_the_old_table() {
    let (db, s) = prepared("checks_full_key");
    assert_eq!(
        results(&db, "customers"),
        [
            "not_null(id, name) error passed 0",
            "unique(id) error passed 0"
        ]
    );
    let pk = "SELECT conname FROM pg_constraint \
              WHERE conrelid = 'dim_customer'::regclass AND contype = 'p'";
    assert_eq!(text(&db, pk), ["dim_customer_pkey"]);
    let customers = "SELECT id || ' ' || name FROM dim_customer ORDER BY id";

    s.write(
        "projects/dw_checks/data/customers.csv",
        "id,name\n1,Ann\n2,Bob\n2,Bo\n3,Cy\n",
    );
    s.exec("dw_checks", &["--task", "customers"])
        .failed()
        .contains("checks failed, so nothing was loaded")
        .contains("unique(id) on dim_customer failed: 1 failing row(s) (e.g. 2)");
    assert_eq!(text(&db, customers), ["1 Ann", "2 Bob"]);
    assert_eq!(text(&db, pk), ["dim_customer_pkey"]);
    let last = results(&db, "customers");
    assert_eq!(
        last[last.len() - 2..],
        [
            "not_null(id, name) error passed 0",
            "unique(id) error failed 1"
        ]
    );
}

/// `relationships` on integer keys looks up only the span of keys the new rows bring, bound
/// in the dimension's own key type. A key wider than that type (a bigint against an integer
/// key) is a failing row like any other, not a failed query; a span wholly outside the type is
/// looked up without one; a column holding only NULLs has nothing to look up.
#[test]
fn relationships_fail_by_row_for_keys_wider_than_the_dimension_key() {
    let db = PgTestDb::new("checks_key_span");
    db.execute(
        "CREATE TABLE dim_customer (id integer PRIMARY KEY);
         INSERT INTO dim_customer VALUES (1), (2), (7);
         CREATE TABLE src_orders (id bigint, customer_id bigint, coupon_id bigint);
         INSERT INTO src_orders VALUES
           (1, 1, NULL), (2, 7, NULL), (3, 3000000000, NULL), (4, -3000000000, NULL),
           (5, 5, NULL), (6, NULL, NULL);",
    );
    let s = Sandbox::new(&db, &["dw_check_keys"]);
    s.exec("dw_check_keys", &[]).ok().contains("Failed checks:");
    assert_eq!(
        results(&db, "orders"),
        [
            "relationships(customer_id -> dim_customer.id) warn failed 3",
            "relationships(coupon_id -> dim_customer.id) error passed 0",
        ]
    );
    let samples = text(
        &db,
        "SELECT samples FROM etl.etl_checks WHERE status = 'failed' ORDER BY id",
    );
    let mut keys: Vec<&str> = samples[0].split('\n').collect();
    keys.sort_unstable();
    assert_eq!(keys, ["3", "4", "5"], "failing rows by the load's key");

    // Every key beyond the integer type: nothing of the dimension can match, every row fails.
    db.execute(
        "TRUNCATE src_orders;
         INSERT INTO src_orders VALUES (7, 4000000000, 8000000000), (8, 1, 2);",
    );
    s.exec("dw_check_keys", &[])
        .failed()
        .contains("relationships(coupon_id -> dim_customer.id) on fact_orders failed: 1 failing row(s) (e.g. 7)");
    assert_eq!(
        text(&db, "SELECT id FROM fact_orders ORDER BY id"),
        ["1", "2", "3", "4", "5", "6"],
        "the failed load left the table as it was"
    );
}

/// `unique` and `relationships` on integer columns are decided from the values noted as the
/// rows are written: no query counts DISTINCT values, and the keys are looked up once each
/// from a bitmap rather than by reading the rows again. A duplicate or a missing key leaves
/// it to the check's query, which fails the load by row.
#[test]
fn integer_unique_and_relationships_are_decided_while_writing_and_failures_still_fail_by_row() {
    let db = PgTestDb::new("checks_unique");
    db.execute(
        // Customer keys beyond 32 bits.
        "CREATE SCHEMA src; CREATE TABLE src.customers (id bigint PRIMARY KEY); \
         INSERT INTO src.customers SELECT 5e9 + generate_series(1, 300); \
         CREATE TABLE src.events (id bigint, n smallint, c bigint); \
         INSERT INTO src.events SELECT i, i % 7, 5e9 + 1 + abs(i) % 300 \
           FROM generate_series(-500, 3000) i; \
         INSERT INTO src.events VALUES (NULL, 1, NULL), (NULL, 2, 5e9 + 300);",
    );
    let s = Sandbox::new(&db, &["pg_check_unique"]);
    let url = s.warehouse.clone();
    let queries = [("ETL_LOG", "etl=info,tokio_postgres=debug")];
    let run = s.exec_env(&url, &queries, "pg_check_unique", &[]).failed();
    // id (NULL twice, which `unique` ignores) passes in both loads without a query; n repeats
    // (13 values), which its query finds.
    run.contains("unique(n) on app.events_mapped failed: 13 failing row(s)");
    let queries_with = |text: &str| run.stderr.matches(text).count();
    assert_eq!(
        queries_with("count(DISTINCT"),
        1,
        "only unique(n):\n{}",
        run.stderr
    );
    // The 300 keys, each looked up once; the rows are not read for it.
    assert_eq!(queries_with("get_bit("), 1, "{}", run.stderr);
    assert_eq!(
        queries_with("n.\"c\""),
        0,
        "no lookup over the rows:\n{}",
        run.stderr
    );
    assert_eq!(
        text(
            &db,
            "SELECT task || ' ' || check_name || ' ' || status FROM etl.etl_checks \
             ORDER BY task, check_name"
        ),
        [
            "encoded relationships(c -> src.customers.id) passed",
            "encoded unique(id) passed",
            "values unique(id) passed",
            "values unique(n) failed",
        ],
        "{}",
        run.stderr
    );

    // A duplicate id and an unknown customer: the load fails on both, counted and sampled.
    db.execute("INSERT INTO src.events VALUES (2024, 0, 5e9 + 301), (4000, 0, 5e9 + 301)");
    s.exec_env(&url, &queries, "pg_check_unique", &["--task", "encoded"])
        .failed()
        .contains("count(DISTINCT \"id\")")
        .contains("unique(id) on app.events failed: 1 failing row(s) (e.g. 2024)")
        .contains("relationships(c -> src.customers.id) on app.events failed: 2 failing row(s)");
    assert_eq!(text(&db, "SELECT count(*) FROM app.events"), ["3503"]);
}
