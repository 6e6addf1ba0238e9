//! Facts with surrogate keys from an SCD2 dimension on the embedded SQLite warehouse (the same
//! fixture runs on PostgreSQL in tests/postgres/facts.rs).

use crate::support::Sandbox;

/// Each order with the city of the customer version its key points at (`-` for the unknown
/// member, key -1).
fn orders(s: &Sandbox) -> Vec<String> {
    s.warehouse()
        .rows(
            "SELECT f.order_id || ' ' || f.customer_sk || ' ' || coalesce(d.city, '-') \
             FROM fact_orders f LEFT JOIN dim_customer d ON d.customer_sk = f.customer_sk \
             ORDER BY f.order_id",
        )
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .map(|r| {
            // The surrogate key's number is the database's business; show whether it is -1.
            let parts: Vec<&str> = r.split(' ').collect();
            let sk = if parts[1] == "-1" { "-1" } else { "sk" };
            format!("{} {sk} {}", parts[0], parts[2])
        })
        .collect()
}

#[test]
fn each_order_gets_the_customer_version_valid_when_it_was_placed() {
    let s = Sandbox::with_project("dw_facts");
    s.exec("dw_facts")
        .stderr_contains("orders: 5 rows, 2 without a customer")
        .stderr_contains("2 rows have no member in dim_customer (customer_sk = -1)")
        .run();
    assert_eq!(
        orders(&s),
        [
            "100 sk Paris",
            "101 sk Lyon",
            "102 sk Rome",
            "103 -1 -",
            // Placed before Bob's first version began.
            "104 -1 -",
        ]
    );
    let audit = s.warehouse().audit_of("fact_orders");
    assert_eq!(
        audit.last().unwrap().error_message.as_deref(),
        Some("2 rows with no member in dim_customer (customer_sk = -1)"),
        "the unknown members are counted in the audit record"
    );
}

#[test]
fn without_at_each_order_gets_the_current_version() {
    let s = Sandbox::with_project("dw_facts");
    s.exec("dw_facts")
        .args(&["--param", "current=yes"])
        .stderr_contains("orders: 5 rows, 1 without a customer")
        .run();
    assert_eq!(
        orders(&s),
        [
            "100 sk Lyon",
            "101 sk Lyon",
            "102 sk Rome",
            "103 -1 -",
            "104 sk Rome"
        ]
    );
}
