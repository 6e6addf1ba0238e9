//! The shipped demo, a small star schema, run twice — day 1, then `--param day=2` — on the
//! embedded SQLite warehouse and (`--env prod`) on a throwaway PostgreSQL database: its
//! migration creates the aggregate table, dim_customer keeps history, fact_orders points at
//! the version valid when each order was placed, the aggregate adds up to the fact, and every
//! check's result is recorded.

use std::path::Path;

use crate::common::copy_dir;
use crate::support::{each_target, run_id, Ran, Target};

/// The customers whose country or vip changed on 2025-07-01 in data/customers_day2.csv.
const CHANGED: &str = "(3, 7, 10, 11, 42, 99, 250)";

/// Checks per run: stg_customers 4, stg_orders 3, dim_customer 2, fact_orders 6.
const CHECKS_PER_RUN: &str = "15|15";

fn exec_demo(t: &Target, args: &[&str]) -> Ran {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = args.to_vec();
    if t.is_postgres() {
        // The shipped etl.toml's prod environment, its warehouse given as operators do.
        std::fs::copy(repo.join("etl.toml"), t.path("etl.toml")).expect("etl.toml");
        all.extend(["--env", "prod"]);
    }
    let mut run = t.exec(&all);
    if let crate::support::Db::Postgres(pg) = &t.db {
        run.cmd.env("ETL_CONN_WAREHOUSE", pg.url());
    }
    run.stderr_contains("Run succeeded").run()
}

/// What SQL calls the checks table and a true boolean on this target.
fn names(t: &Target) -> (&'static str, &'static str) {
    if t.is_postgres() {
        ("etl.etl_checks", "t")
    } else {
        ("etl_checks", "1")
    }
}

/// The aggregate's and the fact's totals must be the same figures, to the cent.
fn assert_aggregate_matches_fact(t: &Target) {
    let cents = |expr: &str, table: &str| {
        t.rows(&format!(
            "SELECT sum(CAST(round({expr} * 100) AS BIGINT)) FROM {table}"
        ))
    };
    assert_eq!(
        cents("revenue", "sales_by_country_month"),
        ["3007424417875"]
    );
    assert_eq!(cents("amount", "fact_orders"), ["3007424417875"]);
    assert_eq!(
        t.rows("SELECT sum(orders), sum(paid_orders), sum(items), count(*) FROM sales_by_country_month"),
        ["3000|2109|30102|129"]
    );
}

fn orders_in(t: &Target, month: &str, country: &str) -> Vec<String> {
    t.rows(&format!(
        "SELECT orders FROM sales_by_country_month WHERE month = '{month}' AND country = '{country}'"
    ))
}

#[test]
fn the_demo_star_schema_keeps_history_over_two_days_on_sqlite_and_postgres() {
    each_target("demo", |t| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        copy_dir(&repo.join("projects/demo"), &t.path("projects/demo"));
        copy_dir(&repo.join("stdlib"), &t.path("stdlib"));
        let (checks, yes) = names(t);

        // Day 1: one version per customer, from the file's changed_at.
        let day1 = exec_demo(t, &[]);
        assert!(
            day1.stderr
                .contains("Applied migration 001_sales_by_country_month"),
            "{}",
            day1.stderr
        );
        let file = if t.is_postgres() {
            "migrations/001_sales_by_country_month.postgres.sql"
        } else {
            "migrations/001_sales_by_country_month.sql"
        };
        assert_eq!(t.rows(&format!("SELECT file FROM {}", t.table())), [file]);
        assert_eq!(
            t.rows(
                "SELECT count(*), sum(CASE WHEN is_current THEN 1 ELSE 0 END) FROM dim_customer"
            ),
            ["500|500"]
        );
        // 23 orders have no customer: the unknown member -1; the rest point at their customer.
        assert_eq!(
            t.rows("SELECT count(*) FROM fact_orders WHERE customer_sk = -1"),
            ["23"]
        );
        assert_eq!(
            t.rows(
                "SELECT count(*) FROM fact_orders f JOIN dim_customer d \
                 ON d.customer_sk = f.customer_sk AND d.customer_id = f.customer_id"
            ),
            ["2977"]
        );
        assert_aggregate_matches_fact(t);
        assert_eq!(orders_in(t, "2025-08", "GB"), ["32"]);
        assert_eq!(orders_in(t, "2025-08", "US"), ["44"]);
        let sk_of_3 = t.rows("SELECT customer_sk FROM dim_customer WHERE customer_id = 3");
        let run1 = run_id(&day1.stderr);
        assert_eq!(
            t.rows(&format!(
                "SELECT count(*), sum(CASE WHEN status = 'passed' THEN 1 ELSE 0 END) \
                 FROM {checks} WHERE run_id = '{run1}'"
            )),
            [CHECKS_PER_RUN]
        );
        assert_eq!(
            t.rows(&format!(
                "SELECT count(*) FROM {checks} WHERE run_id = '{run1}' AND task = 'fact_orders' \
                 AND check_name LIKE 'relationships%'"
            )),
            ["1"]
        );

        // Day 2: seven customers changed a tracked column on 2025-07-01, one an email, two
        // are new.
        let day2 = exec_demo(t, &["--param", "day=2"]);
        assert!(
            !day2.stderr.contains("Applied migration"),
            "{}",
            day2.stderr
        );
        assert_eq!(
            t.rows(
                "SELECT count(*), sum(CASE WHEN is_current THEN 1 ELSE 0 END), \
                 sum(CASE WHEN valid_to IS NULL THEN 0 ELSE 1 END) FROM dim_customer"
            ),
            ["509|502|7"]
        );
        // Customer 3 moved from the US to GB: the old version keeps its surrogate key and
        // ends where the new one starts.
        assert_eq!(
            t.rows(
                "SELECT country, is_current FROM dim_customer WHERE customer_id = 3 ORDER BY valid_from"
            ),
            [
                format!("US|{}", if t.is_postgres() { "f" } else { "0" }),
                format!("GB|{yes}")
            ]
        );
        assert_eq!(
            t.rows("SELECT customer_sk FROM dim_customer WHERE customer_id = 3 AND NOT is_current"),
            sk_of_3
        );
        assert_eq!(
            t.rows(
                "SELECT count(*) FROM dim_customer a JOIN dim_customer b \
                 ON a.customer_id = b.customer_id AND a.valid_to = b.valid_from"
            ),
            ["7"]
        );
        // The corrected email changed the one version in place.
        assert_eq!(
            t.rows("SELECT count(*), max(email) FROM dim_customer WHERE customer_id = 5"),
            ["1|customer5@example.org"]
        );
        // The changed customers' 24 orders before July point at their old versions, the 21
        // from July on at the new ones.
        assert_eq!(
            t.rows(&format!(
                "SELECT sum(CASE WHEN d.is_current THEN 0 ELSE 1 END), \
                 sum(CASE WHEN d.is_current THEN 1 ELSE 0 END) FROM fact_orders f \
                 JOIN dim_customer d ON d.customer_sk = f.customer_sk \
                 WHERE d.customer_id IN {CHANGED}"
            )),
            ["24|21"]
        );
        assert_eq!(
            t.rows(
                "SELECT count(*) FROM fact_orders f JOIN dim_customer d \
                 ON d.customer_sk = f.customer_sk AND d.customer_id = f.customer_id \
                 AND d.valid_from <= f.created_at \
                 AND (d.valid_to IS NULL OR f.created_at < d.valid_to)"
            ),
            ["2977"]
        );
        assert_eq!(
            t.rows("SELECT count(*) FROM fact_orders WHERE customer_sk = -1"),
            ["23"]
        );
        // Sales follow the country at the time of the order: customers 3 and 7 moved from
        // the US to GB.
        assert_aggregate_matches_fact(t);
        assert_eq!(orders_in(t, "2025-08", "GB"), ["35"]);
        assert_eq!(orders_in(t, "2025-08", "US"), ["41"]);
        let run2 = run_id(&day2.stderr);
        assert_ne!(run1, run2);
        assert_eq!(
            t.rows(&format!(
                "SELECT count(*), sum(CASE WHEN status = 'passed' THEN 1 ELSE 0 END) \
                 FROM {checks} WHERE run_id = '{run2}'"
            )),
            [CHECKS_PER_RUN]
        );
    });
}
