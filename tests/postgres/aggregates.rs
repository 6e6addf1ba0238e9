//! Aggregates, `lookback` and `scd1(#{ soft_delete })` on PostgreSQL (fixtures
//! tests/projects/dw_agg and dw_scd1; the same runs on SQLite in tests/cli/aggregates.rs and
//! tests/cli/scd1.rs).

use crate::common::{text, PgTestDb};
use crate::Sandbox;

const HEADER: &str = "id,sale_day,country,amount,updated_at\n";
const FIRST: &str = "1,2025-01-01,FR,10,2025-01-01 10:00:00\n\
                     2,2025-01-01,DE,20,2025-01-01 11:00:00\n\
                     3,2025-01-02,FR,5,2025-01-02 09:00:00\n\
                     4,2025-02-10,FR,7,2025-02-10 09:00:00\n";
/// Sale 3 moves from 2 to 3 January.
const MOVED: &str = "1,2025-01-01,FR,10,2025-01-01 10:00:00\n\
                     2,2025-01-01,DE,20,2025-01-01 11:00:00\n\
                     3,2025-01-03,FR,5,2025-02-11 09:00:00\n\
                     4,2025-02-10,FR,7,2025-02-10 09:00:00\n";

fn sales(s: &Sandbox, rows: &str) {
    s.write("projects/dw_agg/data/sales.csv", &format!("{HEADER}{rows}"));
}

fn daily(db: &PgTestDb) -> Vec<String> {
    text(
        db,
        "SELECT concat_ws(' ', day, country, amount, orders) FROM agg_sales_daily ORDER BY day, country",
    )
}

fn monthly(db: &PgTestDb) -> Vec<String> {
    text(
        db,
        "SELECT concat_ws(' ', month, country, amount) FROM agg_sales_monthly ORDER BY month, country",
    )
}

#[test]
fn only_touched_windows_are_rebuilt_and_a_failed_rebuild_changes_nothing() {
    let db = PgTestDb::new("agg_windows");
    let s = Sandbox::new(&db, &["dw_agg"]);
    sales(&s, FIRST);
    s.exec("dw_agg", &["--load-type", "I"])
        .ok()
        .contains("daily: Rebuilt all of agg_sales_daily (the table did not exist): 4 rows");
    // Rows of windows no load touches, altered behind etl's back.
    db.execute("UPDATE agg_sales_daily SET amount = 999 WHERE day = '2025-02-10'");
    db.execute("UPDATE agg_sales_monthly SET amount = 999 WHERE month = '2025-02-01'");

    // The aggregate SQL forgets its window: refused, and nothing changes.
    sales(&s, MOVED);
    let before = daily(&db);
    s.exec("dw_agg", &["--load-type", "I", "--param", "bad=yes"])
        .failed()
        .contains("rows outside the window [2025-01-02, 2025-01-04)");
    assert_eq!(daily(&db), before);
    assert_eq!(
        text(
            &db,
            "SELECT status FROM etl.etl_runs WHERE target_table = 'agg_sales_daily' ORDER BY id DESC LIMIT 1"
        ),
        ["failed"]
    );

    // The next run owes the windows the failed one did not rebuild.
    s.exec("dw_agg", &["--load-type", "I"])
        .ok()
        .contains("daily: Rebuilt 1 window(s) of agg_sales_daily: [2025-01-02, 2025-01-04)")
        .contains("monthly: No load touched fact_sales since the last rebuild of agg_sales_monthly: nothing to do.");
    assert_eq!(
        daily(&db),
        [
            "2025-01-01 DE 20 1",
            "2025-01-01 FR 10 1",
            "2025-01-03 FR 5 1",
            "2025-02-10 FR 999 1"
        ],
        "2 January lost the sale, 3 January got it, 10 February was not rebuilt"
    );
    assert_eq!(
        monthly(&db),
        ["2025-01-01 DE 20", "2025-01-01 FR 15", "2025-02-01 FR 999"]
    );

    // A full run rebuilds everything.
    s.exec("dw_agg", &["--load-type", "F"])
        .ok()
        .contains("daily: Rebuilt all of agg_sales_daily (a full run (--load-type F))");
    assert_eq!(daily(&db)[3], "2025-02-10 FR 7 1");
}

#[test]
fn lookback_catches_a_late_row_and_the_watermark_stays() {
    let db = PgTestDb::new("agg_lookback");
    let s = Sandbox::new(&db, &["dw_agg"]);
    sales(&s, FIRST);
    s.exec("dw_agg", &["--load-type", "I"]).ok();
    sales(
        &s,
        &format!("{FIRST}5,2025-02-10,DE,1,2025-02-10 08:00:00\n"),
    );
    s.exec("dw_agg", &["--load-type", "I"]).ok();
    assert_eq!(text(&db, "SELECT count(*) FROM fact_sales"), ["4"]);
    s.exec(
        "dw_agg",
        &["--load-type", "I", "--param", "lookback=2 hours"],
    )
    .ok();
    assert_eq!(
        text(
            &db,
            "SELECT concat_ws(' ', count(*), count(DISTINCT id)) FROM fact_sales"
        ),
        ["5 5"],
        "the late row is loaded once"
    );
    assert_eq!(
        text(
            &db,
            "SELECT data_max_date FROM etl.etl_runs WHERE target_table = 'fact_sales' ORDER BY id DESC LIMIT 1"
        ),
        ["2025-02-10 09:00:00"]
    );
    assert!(daily(&db).contains(&"2025-02-10 DE 1 1".to_string()));
    assert!(monthly(&db).contains(&"2025-02-01 DE 1".to_string()));
}

#[test]
fn scd1_stamps_a_missing_key_and_clears_it_when_it_comes_back() {
    let db = PgTestDb::new("scd1_soft_delete");
    let s = Sandbox::new(&db, &["dw_scd1"]);
    let load = |rows: &str, expect: &str| {
        s.write(
            "projects/dw_scd1/data/customers.csv",
            &format!("customer_id,name\n{rows}"),
        );
        s.exec("dw_scd1", &[]).ok().contains(expect);
    };
    let gone = || {
        text(
            &db,
            "SELECT concat_ws(' ', customer_id, name, deleted_at IS NOT NULL) FROM dim_customer ORDER BY customer_id",
        )
    };
    load("1,Ann\n2,Bob\n", "scd1: 2 inserted, 0 updated");
    load("1,Ann\n", "scd1: 0 inserted, 1 updated");
    assert_eq!(gone(), ["1 Ann f", "2 Bob t"]);
    assert_eq!(
        text(&db, "SELECT data_type FROM information_schema.columns WHERE table_name = 'dim_customer' AND column_name = 'deleted_at'"),
        ["timestamp with time zone"]
    );
    load("1,Ann\n2,Bob\n", "scd1: 0 inserted, 1 updated");
    assert_eq!(gone(), ["1 Ann f", "2 Bob f"]);
}
