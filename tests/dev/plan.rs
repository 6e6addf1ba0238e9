//! `etl plan` against a fixture warehouse, checked by snapshot. Set `UPDATE_SNAPSHOTS=1` to
//! rewrite the snapshot files after an intended change (then review the diff).

use crate::support::{repo, script, Sandbox};

/// The warehouse before planning: `orders` exists with narrower columns than the CSV has,
/// and one run of `big_orders` left a watermark in the audit table.
fn prepared() -> Sandbox {
    let s = Sandbox::with_project("dev_plan");
    std::fs::create_dir_all(s.path("metadata")).unwrap();
    let conn = rusqlite::Connection::open(s.path("metadata/warehouse.db")).unwrap();
    conn.execute_batch(
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, amount INT, note VARCHAR(5), updated_at TIMESTAMP);
         INSERT INTO orders VALUES (1, 12, 'first', '2024-01-01 10:00:00'),
                                   (2, 8, 'small', '2024-01-02 11:00:00'),
                                   (3, 30, 'long', '2024-01-03 12:00:00');",
    )
    .unwrap();
    drop(conn);
    s.exec("dev_plan").args(&["--task", "big_orders"]).run();
    s
}

/// With `UPDATE_SNAPSHOTS` set, a snapshot that differs is rewritten and the test fails (it
/// compared nothing): review the diff and run again without it. An unchanged one passes.
fn check_snapshot(name: &str, actual: &str) {
    let path = repo().join("tests/dev/snapshots").join(name);
    let expected = std::fs::read_to_string(&path).ok();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() && expected.as_deref() != Some(actual) {
        std::fs::write(&path, actual).unwrap();
        panic!(
            "{} rewritten (UPDATE_SNAPSHOTS): review the diff, then run the tests again without UPDATE_SNAPSHOTS",
            path.display()
        );
    }
    let expected = expected.unwrap_or_else(|| {
        panic!(
            "{} is missing (UPDATE_SNAPSHOTS=1 writes it)",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "etl plan output differs from {}:\n--- expected ---\n{expected}\n--- actual ---\n{actual}",
        path.display()
    );
}

#[test]
fn plan_shows_sql_ddl_type_map_and_flags_lossy_casts() {
    let s = prepared();
    let before = s.warehouse().count("orders");
    let ran = s
        .etl(&["plan", &script("dev_plan"), "--load-type", "I"])
        .run();
    check_snapshot("plan_incremental.txt", &ran.stdout);
    assert!(ran.stdout.contains("LOSSY cast"), "{}", ran.stdout);
    // Nothing moved: the same rows, no table of the plan created.
    let dw = s.warehouse();
    assert_eq!(dw.count("orders"), before);
    assert!(!dw.table_exists("order_summary"));
    assert_eq!(dw.audit().len(), 1, "the plan wrote no audit record");
}

#[test]
fn plan_of_a_backfill_lists_its_windows() {
    let s = prepared();
    let ran = s
        .etl(&[
            "plan",
            &script("dev_plan"),
            "--task",
            "big_orders",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-04",
        ])
        .run();
    check_snapshot("plan_backfill.txt", &ran.stdout);
}
