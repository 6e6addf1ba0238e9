//! Data-quality checks on the embedded SQLite warehouse: inside a load's transaction (an
//! error-level failure rolls the rows and the watermark back), as warnings, and as a task of
//! their own; every result in `etl_checks`.

use crate::support::Sandbox;

const GOOD_ORDERS: &str = "id,customer_id,status,amount,updated_at\n\
    10,1,new,5.00,2024-01-01 10:00:00\n\
    11,2,paid,150.00,2024-01-02 10:00:00\n";

/// An unknown status, an unknown customer and a negative amount.
const BAD_ORDERS: &str = "id,customer_id,status,amount,updated_at\n\
    10,1,new,5.00,2024-01-01 10:00:00\n\
    11,2,paid,150.00,2024-01-02 10:00:00\n\
    12,9,lost,-1.00,2024-01-03 10:00:00\n";

fn checks(s: &Sandbox) -> Vec<Vec<String>> {
    s.warehouse()
        .rows(
            "SELECT task, target_table, check_name, severity, status, failing_rows, coalesce(samples, '') \
             FROM etl_checks ORDER BY id",
        )
        .into_iter()
        .map(|r| r.into_iter().map(|v| v.unwrap_or_default()).collect())
        .collect()
}

#[test]
fn passing_checks_are_recorded_and_the_load_commits() {
    let s = Sandbox::with_project("dw_checks");
    s.exec("dw_checks")
        .stderr_contains("Check range(amount) on fact_orders failed: 1 failing row(s) (e.g. 11)")
        // The run summary has a checks column and lists the failed ones below it.
        .stderr_contains("8 passed")
        .stderr_contains("0 passed, 1 failed (warn)")
        .stderr_contains(
            "Failed checks:\n  fact_orders range(amount): 1 failing row(s) (e.g. 11) [warn]",
        )
        .run();
    let c = checks(&s);
    assert_eq!(c.len(), 2 + 8 + 1, "{c:#?}");
    assert!(c[..10].iter().all(|r| r[4] == "passed"), "{c:#?}");
    // The check task's own (a warning): the order over 100 by its key.
    assert_eq!(
        c[10],
        [
            "audit_orders",
            "fact_orders",
            "range(amount)",
            "warn",
            "failed",
            "1",
            "11"
        ]
    );
    assert_eq!(s.warehouse().count("fact_orders"), 2);
}

#[test]
fn a_failing_error_check_rolls_the_load_back_and_says_which_rows() {
    let s = Sandbox::with_project("dw_checks");
    s.exec("dw_checks").run();
    s.write("projects/dw_checks/data/orders.csv", BAD_ORDERS);
    s.exec("dw_checks")
        .args(&["--load-type", "I"])
        .status(1)
        .stderr_contains("checks failed, so nothing was loaded")
        .stderr_contains(
            "accepted_values(status) on fact_orders failed: 1 failing row(s) (e.g. 12)",
        )
        .stderr_contains("relationships(customer_id -> dim_customer.id) on fact_orders failed")
        .run();
    let w = s.warehouse();
    assert_eq!(w.count("fact_orders"), 2, "the new rows were rolled back");
    let orders = w.audit_of("fact_orders");
    assert_eq!(orders.last().unwrap().status, "failed");
    // The watermark stays where the successful load left it.
    assert_eq!(
        orders
            .iter()
            .rfind(|r| r.status == "success")
            .unwrap()
            .data_max_date
            .as_deref(),
        Some("2024-01-02 10:00:00")
    );
    let failed: Vec<Vec<String>> = checks(&s)
        .into_iter()
        .filter(|r| r[4] == "failed" && r[1] == "fact_orders" && r[3] == "error")
        .collect();
    let names: Vec<&str> = failed.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(
        names,
        [
            "accepted_values(status)",
            "relationships(customer_id -> dim_customer.id)",
            "range(amount)"
        ]
    );
    assert!(failed.iter().all(|r| r[6] == "12"), "{failed:#?}");
}

#[test]
fn warn_level_failures_are_recorded_and_the_load_commits() {
    let s = Sandbox::with_project("dw_checks");
    s.write("projects/dw_checks/data/orders.csv", BAD_ORDERS);
    s.exec("dw_checks")
        .args(&["--param", "severity=warn"])
        .stderr_contains("Check accepted_values(status) on fact_orders failed")
        .run();
    assert_eq!(s.warehouse().count("fact_orders"), 3);
    let warned = checks(&s)
        .into_iter()
        .filter(|r| r[1] == "fact_orders" && r[0] == "orders" && r[4] == "failed")
        .count();
    assert_eq!(warned, 3);
    s.etl(&["runs", "--checks"])
        .stdout_contains("accepted_values(status)")
        .stdout_contains("failed")
        .run();
}

#[test]
fn row_count_compares_with_the_previous_load() {
    let s = Sandbox::with_project("dw_checks");
    s.write(
        "projects/dw_checks/data/orders.csv",
        format!(
            "{GOOD_ORDERS}{}",
            (20..30)
                .map(|i| format!("{i},1,new,1.00,2024-01-05 10:00:00\n"))
                .collect::<String>()
        ),
    );
    s.exec("dw_checks").run();
    // 2 rows after 12: more than a 50% change.
    s.write("projects/dw_checks/data/orders.csv", GOOD_ORDERS);
    s.exec("dw_checks")
        .status(1)
        .stderr_contains("row_count on fact_orders failed: 2 rows, expected within 50% of the previous load's 12 rows")
        .run();
    assert_eq!(s.warehouse().count("fact_orders"), 12);
}

#[test]
fn a_repeated_key_fails_unique_and_names_it() {
    let s = Sandbox::with_project("dw_checks");
    s.exec("dw_checks").run();
    // Order 11 twice in one incremental load: the stage holds both, `unique` finds them.
    s.write(
        "projects/dw_checks/data/orders.csv",
        format!("{GOOD_ORDERS}11,2,paid,150.00,2024-01-03 10:00:00\n"),
    );
    s.exec("dw_checks")
        .args(&["--load-type", "I"])
        .status(1)
        .stderr_contains("unique(id) on fact_orders failed: 1 failing row(s) (e.g. 11)")
        .run();
    assert_eq!(s.warehouse().count("fact_orders"), 2, "nothing was loaded");
}
