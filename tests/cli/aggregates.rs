//! Aggregates rebuilt only in the windows the run's loads touched, on the embedded SQLite
//! warehouse (tests/postgres/aggregates.rs runs the same fixture on PostgreSQL), and
//! `lookback` re-reading a margin below the watermark for late rows.

use crate::support::Sandbox;

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
    s.write("projects/dw_agg/data/sales.csv", format!("{HEADER}{rows}"));
}

fn daily(s: &Sandbox) -> Vec<String> {
    s.warehouse()
        .rows("SELECT day, country, amount, orders FROM agg_sales_daily ORDER BY day, country")
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| v.unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The latest audit record of an aggregate table.
fn last_note(s: &Sandbox, table: &str) -> (String, Option<String>) {
    let r = s.warehouse().audit_of(table);
    let last = r.last().expect("an audit record");
    (last.status.clone(), last.error_message.clone())
}

#[test]
fn only_touched_windows_are_rebuilt_and_a_moved_row_fixes_both_days() {
    let s = Sandbox::with_project("dw_agg");
    sales(&s, FIRST);
    s.exec("dw_agg")
        .args(&["--load-type", "I"])
        .stderr_contains("daily: Rebuilt all of agg_sales_daily (the table did not exist): 4 rows")
        .run();
    assert_eq!(
        daily(&s),
        [
            "2025-01-01 DE 20 1",
            "2025-01-01 FR 10 1",
            "2025-01-02 FR 5 1",
            "2025-02-10 FR 7 1"
        ]
    );
    // A row of a window no load will touch, altered behind etl's back: it stays altered
    // unless its window is rebuilt.
    s.warehouse()
        .conn
        .execute(
            "UPDATE agg_sales_daily SET amount = 999 WHERE day = '2025-02-10'",
            [],
        )
        .unwrap();

    sales(&s, MOVED);
    s.exec("dw_agg")
        .args(&["--load-type", "I"])
        .stderr_contains("daily: Rebuilt 1 window(s) of agg_sales_daily: [2025-01-02, 2025-01-04)")
        .stderr_contains(
            "monthly: Rebuilt 1 window(s) of agg_sales_monthly: [2025-01-01, 2025-02-01)",
        )
        .run();
    assert_eq!(
        daily(&s),
        [
            "2025-01-01 DE 20 1",
            "2025-01-01 FR 10 1",
            "2025-01-03 FR 5 1",
            "2025-02-10 FR 999 1"
        ],
        "2 January lost the sale, 3 January got it, 10 February was not rebuilt"
    );
    let touched = s.warehouse().rows(
        "SELECT day FROM etl_touched WHERE read_table = 'fact_sales' AND day IS NOT NULL \
         AND run_id = (SELECT max(run_id) FROM etl_touched) ORDER BY day",
    );
    assert_eq!(
        touched,
        [
            [Some("2025-01-02".to_string())],
            [Some("2025-01-03".to_string())]
        ],
        "the run records the days it touched, before and after the move"
    );

    // The same file again: the boundary row is merged again unchanged, which touches nothing.
    s.exec("dw_agg")
        .args(&["--load-type", "I"])
        .stderr_contains("daily: No load touched fact_sales since the last rebuild of agg_sales_daily: nothing to do.")
        .run();
    let (status, note) = last_note(&s, "agg_sales_daily");
    assert_eq!(status, "success");
    assert!(note.unwrap().contains("nothing to do"));
    assert_eq!(daily(&s)[3], "2025-02-10 FR 999 1");

    // A full run rebuilds everything.
    s.exec("dw_agg")
        .args(&["--load-type", "F"])
        .stderr_contains("daily: Rebuilt all of agg_sales_daily (a full run (--load-type F))")
        .run();
    assert_eq!(daily(&s)[3], "2025-02-10 FR 7 1");
}

#[test]
fn a_failed_aggregate_leaves_its_table_and_keeps_the_touches_for_the_next_run() {
    let s = Sandbox::with_project("dw_agg");
    sales(&s, FIRST);
    s.exec("dw_agg").args(&["--load-type", "I"]).run();
    let before = daily(&s);

    sales(&s, MOVED);
    s.exec("dw_agg")
        .args(&["--load-type", "I", "--param", "bad=yes"])
        .status(1)
        .stderr_contains("sql/agg_no_window.sql returned")
        .stderr_contains("rows outside the window [2025-01-02, 2025-01-04)")
        .stderr_contains(
            "filter the rows it reads with `day >= :window_start AND day < :window_end`",
        )
        .run();
    assert_eq!(daily(&s), before, "the failed rebuild changed nothing");
    let (status, _) = last_note(&s, "agg_sales_daily");
    assert_eq!(status, "failed");

    // The facts moved in the failed run; the next run's load changes nothing, but the
    // aggregate still owes the windows of the failed run.
    s.exec("dw_agg")
        .args(&["--load-type", "I"])
        .stderr_contains("daily: Rebuilt 1 window(s) of agg_sales_daily: [2025-01-02, 2025-01-04)")
        .run();
    assert_eq!(daily(&s)[2], "2025-01-03 FR 5 1");
}

#[test]
fn lookback_catches_a_late_row_without_duplicates_and_keeps_the_watermark() {
    let s = Sandbox::with_project("dw_agg");
    sales(&s, FIRST);
    s.exec("dw_agg").args(&["--load-type", "I"]).run();
    let late = format!("{FIRST}5,2025-02-10,DE,1,2025-02-10 08:00:00\n");
    sales(&s, &late);
    // Without a lookback the late row (below the watermark) is never read.
    s.exec("dw_agg").args(&["--load-type", "I"]).run();
    assert_eq!(s.warehouse().count("fact_sales"), 4);

    s.exec("dw_agg")
        .args(&["--load-type", "I", "--param", "lookback=2 hours"])
        .run();
    let w = s.warehouse();
    assert_eq!(w.count("fact_sales"), 5, "the late row is loaded");
    assert_eq!(
        w.scalar_i64("SELECT count(DISTINCT id) FROM fact_sales"),
        5,
        "rows read again are merged, not duplicated"
    );
    let audit = w.audit_of("fact_sales");
    let last = audit.last().unwrap();
    assert_eq!(
        last.data_max_date.as_deref(),
        Some("2025-02-10 09:00:00"),
        "the watermark does not move back"
    );
    assert_eq!(
        daily(&s).last().unwrap(),
        "2025-02-10 FR 7 1",
        "the aggregate rebuilt 10 February with the late row"
    );
    assert!(daily(&s).contains(&"2025-02-10 DE 1 1".to_string()));

    // The plan shows the margin.
    s.etl(&[
        "plan",
        "projects/dw_agg/project.rhai",
        "--load-type",
        "I",
        "--param",
        "lookback=2 hours",
    ])
    .stdout_contains("lookback 2 hours below the watermark 2025-02-10 09:00:00")
    .run();
}

#[test]
fn lookback_is_refused_where_rows_read_again_would_be_appended() {
    let s = Sandbox::with_project("dw_agg");
    sales(&s, FIRST);
    s.exec("dw_agg").args(&["--load-type", "I"]).run();
    s.exec("dw_agg")
        .args(&["--load-type", "I", "--param", "lookback=2 hours", "--param", "append=yes"])
        .status(1)
        .stderr_contains("lookback \"2 hours\" cannot be used here: without a key the rows read again would be appended twice")
        .run();
    let w = s.warehouse();
    assert_eq!(w.count("fact_sales"), 4, "nothing was appended");
    assert_eq!(w.audit_of("fact_sales").last().unwrap().status, "failed");
}
