//! Facts with surrogate keys from an SCD2 dimension on PostgreSQL (the fixture
//! tests/projects/dw_facts; the same runs on SQLite in tests/cli/facts.rs).

use crate::common::{column_types, text, PgTestDb};
use crate::Sandbox;

fn orders(db: &PgTestDb) -> Vec<String> {
    text(
        db,
        "SELECT concat_ws(' ', f.order_id, CASE WHEN f.customer_sk = -1 THEN '-1' ELSE 'sk' END, \
           coalesce(d.city, '-')) \
         FROM fact_orders f LEFT JOIN dim_customer d ON d.customer_sk = f.customer_sk ORDER BY f.order_id",
    )
}

#[test]
fn orders_get_the_version_valid_when_placed_or_the_current_one_and_unknowns_are_counted() {
    let db = PgTestDb::new("facts_lookups");
    let s = Sandbox::new(&db, &["dw_facts"]);
    s.exec("dw_facts", &[])
        .ok()
        .contains("orders: 5 rows, 2 without a customer");
    assert_eq!(
        orders(&db),
        [
            "100 sk Paris",
            "101 sk Lyon",
            "102 sk Rome",
            "103 -1 -",
            "104 -1 -"
        ]
    );
    assert!(column_types(&db, "fact_orders").contains(&"customer_sk bigint".to_string()));
    assert_eq!(
        text(
            &db,
            "SELECT error_message FROM etl.etl_runs WHERE target_table = 'fact_orders' ORDER BY id DESC LIMIT 1"
        ),
        ["2 rows with no member in dim_customer (customer_sk = -1)"]
    );

    // An incremental run merges on the key and resolves again, with the current versions.
    s.exec("dw_facts", &["--load-type", "I", "--param", "current=yes"])
        .ok()
        .contains("orders: 5 rows, 1 without a customer");
    assert_eq!(
        orders(&db),
        [
            "100 sk Lyon",
            "101 sk Lyon",
            "102 sk Rome",
            "103 -1 -",
            "104 sk Rome"
        ]
    );
}
