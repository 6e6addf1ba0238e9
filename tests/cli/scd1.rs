//! `scd1()` with `soft_delete` on the embedded SQLite warehouse (tests/postgres/scd1.rs runs
//! the same fixture on PostgreSQL): gone keys are stamped, returning keys cleared.

use crate::support::Sandbox;

fn customers(s: &Sandbox, rows: &str) {
    s.write(
        "projects/dw_scd1/data/customers.csv",
        format!("customer_id,name\n{rows}"),
    );
}

fn deleted(s: &Sandbox) -> Vec<(String, String, bool)> {
    s.warehouse()
        .rows("SELECT customer_id, name, deleted_at FROM dim_customer ORDER BY customer_id")
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap(), r[2].is_some()))
        .collect()
}

#[test]
fn a_missing_key_is_stamped_and_cleared_when_it_comes_back() {
    let s = Sandbox::with_project("dw_scd1");
    let row = |id: &str, name: &str, gone: bool| (id.to_string(), name.to_string(), gone);
    customers(&s, "1,Ann\n2,Bob\n3,Cid\n");
    s.exec("dw_scd1")
        .stderr_contains("scd1: 3 inserted, 0 updated")
        .run();
    assert_eq!(
        deleted(&s),
        [
            row("1", "Ann", false),
            row("2", "Bob", false),
            row("3", "Cid", false)
        ]
    );

    // Bob is gone from the source and Ann is renamed: Bob's row stays, stamped.
    customers(&s, "1,Anna\n3,Cid\n");
    s.exec("dw_scd1")
        .stderr_contains("scd1: 0 inserted, 2 updated")
        .run();
    assert_eq!(
        deleted(&s),
        [
            row("1", "Anna", false),
            row("2", "Bob", true),
            row("3", "Cid", false)
        ]
    );
    let stamp = s
        .warehouse()
        .rows("SELECT deleted_at FROM dim_customer WHERE customer_id = 2")[0][0]
        .clone()
        .unwrap();

    // Still gone: the stamp keeps the run that found it gone.
    s.exec("dw_scd1")
        .stderr_contains("scd1: 0 inserted, 0 updated")
        .run();
    assert_eq!(
        s.warehouse()
            .rows("SELECT deleted_at FROM dim_customer WHERE customer_id = 2")[0][0]
            .as_deref(),
        Some(stamp.as_str())
    );

    // Bob comes back.
    customers(&s, "1,Anna\n2,Bob\n3,Cid\n");
    s.exec("dw_scd1")
        .stderr_contains("scd1: 0 inserted, 1 updated")
        .run();
    assert_eq!(
        deleted(&s),
        [
            row("1", "Anna", false),
            row("2", "Bob", false),
            row("3", "Cid", false)
        ]
    );
}

#[test]
fn soft_delete_with_a_cursor_is_refused_and_writes_nothing() {
    let s = Sandbox::with_project("dw_scd1");
    customers(&s, "1,Ann\n");
    s.exec("dw_scd1")
        .args(&["--param", "cursor=yes"])
        .status(1)
        .stderr_contains("soft_delete: \"deleted_at\" cannot be used with a `cursor`")
        .stderr_contains("every unchanged key would look deleted")
        .run();
    assert!(!s.warehouse().table_exists("dim_customer"));
}

#[test]
fn a_source_bringing_the_stamp_column_fails_and_leaves_the_dimension_as_it_was() {
    let s = Sandbox::with_project("dw_scd1");
    customers(&s, "1,Ann\n2,Bob\n");
    s.exec("dw_scd1").run();
    customers(&s, "1,Ann\n");
    s.exec("dw_scd1").run();
    let before = deleted(&s);

    s.write(
        "projects/dw_scd1/data/customers.csv",
        "customer_id,name,deleted_at\n1,Anna,\n",
    );
    s.exec("dw_scd1")
        .status(1)
        .stderr_contains("the source has a column 'deleted_at', which soft_delete stamps itself")
        .run();
    assert_eq!(deleted(&s), before, "the failed load changed nothing");
    let audit = s.warehouse().audit_of("dim_customer");
    assert_eq!(audit.last().unwrap().status, "failed");
    assert_eq!(audit.len(), 3);
}
