//! `etl report`: the HTML page of the run history, for a history made of real runs and of
//! records inserted into etl_runs (older runs, backfill windows, failures).

use chrono::{DateTime, Duration, Utc};

use crate::support::{Sandbox, Warehouse};
use crate::wellformed;

struct Rec<'a> {
    run: &'a str,
    project: &'a str,
    task: &'a str,
    status: &'a str,
    load_type: &'a str,
    table: Option<&'a str>,
    window: (Option<&'a str>, Option<&'a str>),
    max: Option<&'a str>,
    rows: Option<i64>,
    start: DateTime<Utc>,
    seconds: i64,
    error: Option<&'a str>,
}

fn insert(w: &Warehouse, r: &Rec) {
    let t = |d: DateTime<Utc>| d.format("%Y-%m-%d %H:%M:%S%.f+00:00").to_string();
    w.conn
        .execute(
            "INSERT INTO etl_runs (run_id, project, task, status, load_type, environment, script_version, \
             target_database, target_table, start_load_date, end_load_date, data_max_date, number_of_records, \
             start_script_execution_time, end_script_execution_time, error_message) \
             VALUES (?1, ?2, ?3, ?4, ?5, 'prod', '1.0.0', 'warehouse', ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            rusqlite::params![
                r.run,
                r.project,
                r.task,
                r.status,
                r.load_type,
                r.table,
                r.window.0,
                r.window.1,
                r.max,
                r.rows,
                t(r.start),
                t(r.start + Duration::seconds(r.seconds)),
                r.error
            ],
        )
        .expect("insert");
}

/// Two projects: `notify_shop` from real runs (a success, a failure), `sales_backfill` from
/// inserted records: three backfill windows, a failed window, incremental runs of a numeric
/// cursor, and a failure 40 days ago.
fn history() -> Sandbox {
    let s = Sandbox::with_project("notify_shop");
    s.exec("notify_shop").run();
    s.exec("notify_shop")
        .args(&["--param", "fail=yes"])
        .status(1)
        .run();
    let w = s.warehouse();
    let now = Utc::now();
    let day = |d: i64| now - Duration::days(d);
    let backfill = [
        (
            "bf-1",
            "2024-01-01",
            "2024-01-11",
            "2024-01-10",
            1000,
            "success",
            None,
        ),
        (
            "bf-2",
            "2024-01-11",
            "2024-01-21",
            "2024-01-20",
            1500,
            "success",
            None,
        ),
        (
            "bf-3",
            "2024-01-21",
            "2024-02-01",
            "2024-01-31",
            1200,
            "success",
            None,
        ),
        (
            "bf-4",
            "2024-02-01",
            "2024-02-11",
            "2024-02-10",
            0,
            "failed",
            Some("data/sales.csv:7: column 'amount': value < 0 is not allowed"),
        ),
    ];
    for (i, (run, from, to, max, rows, status, error)) in backfill.into_iter().enumerate() {
        insert(
            &w,
            &Rec {
                run,
                project: "sales_backfill",
                task: "sales",
                status,
                load_type: "B",
                table: Some("dw.sales"),
                window: (Some(from), Some(to)),
                max: Some(max),
                rows: Some(rows),
                start: day(10) + Duration::hours(i as i64),
                seconds: 30 + 10 * i as i64,
                error,
            },
        );
    }
    for (run, max, d) in [("inc-1", "9", 5), ("inc-2", "10", 4)] {
        insert(
            &w,
            &Rec {
                run,
                project: "sales_backfill",
                task: "events",
                status: "success",
                load_type: "I",
                table: Some("dw.events"),
                window: (Some("8"), None),
                max: Some(max),
                rows: Some(7),
                start: day(d),
                seconds: 3,
                error: None,
            },
        );
    }
    insert(
        &w,
        &Rec {
            run: "old-1",
            project: "sales_backfill",
            task: "legacy",
            status: "failed",
            load_type: "F",
            table: Some("dw.legacy"),
            window: (None, None),
            max: Some("2023-12-31"),
            rows: Some(0),
            start: day(40),
            seconds: 1,
            error: Some("an ancient failure"),
        },
    );
    insert(
        &w,
        &Rec {
            run: "old-2",
            project: "sales_backfill",
            task: "legacy",
            status: "success",
            load_type: "F",
            table: Some("dw.legacy"),
            window: (None, None),
            max: Some("2023-12-30"),
            rows: Some(5),
            start: day(41),
            seconds: 1,
            error: None,
        },
    );
    s
}

#[test]
fn the_report_shows_runs_failures_and_watermarks_per_project() {
    let s = history();
    s.etl(&["report", "--days", "30", "--out", "out/report.html"])
        .stdout_contains("Wrote out/report.html (")
        .run();
    let html = s.read("out/report.html");
    wellformed::check(&html);
    wellformed::check_self_contained(&html);

    for project in ["notify_shop", "sales_backfill"] {
        assert!(html.contains(&format!("<h2>{project}</h2>")), "{project}");
    }
    // Three charts per project: runs over time, rows per run, duration per run.
    assert_eq!(html.matches("<svg").count(), 6);
    assert_eq!(html.matches("</svg>").count(), 6);
    assert!(html.contains("aria-label=\"Rows loaded per run of sales_backfill\""));
    assert!(html.contains("aria-label=\"Duration per run of notify_shop in seconds\""));
    // sales_backfill: 6 runs in the period, one failed (the 40-day-old ones are outside it).
    assert!(html.contains("6 runs: 5 succeeded, 1 failed."), "{html}");
    assert!(html.contains("2 runs: 1 succeeded, 1 failed."), "{html}");

    // Failures with their errors, escaped; the old one is outside the period.
    assert!(html.contains("value &lt; 0 is not allowed"));
    assert!(html.contains("no such table: missing_table"));
    assert!(html.contains("projects/notify_shop/project.rhai:19:12"));
    assert!(!html.contains("an ancient failure"));

    // Watermarks: the greatest data_max_date of successful loads (numeric for numbers), over
    // the whole history read; a failed window does not move it.
    assert!(
        html.contains("<td>dw.sales</td><td>warehouse</td><td class=\"watermark\">2024-01-31</td>"),
        "{html}"
    );
    assert!(
        html.contains("<td>dw.events</td><td>warehouse</td><td class=\"watermark\">10</td>"),
        "{html}"
    );
    assert!(
        html.contains(
            "<td>dw.legacy</td><td>warehouse</td><td class=\"watermark\">2023-12-30</td>"
        ),
        "{html}"
    );
    assert!(
        html.contains(
            "<td>orders</td><td>warehouse</td><td class=\"watermark\">2025-01-03 10:00:00</td>"
        ),
        "{html}"
    );
    // Backfill windows in the run list and the hover texts.
    assert!(html.contains("<td>2024-01-11..2024-01-21</td>"), "{html}");
    assert!(html.contains("window 2024-01-21..2024-02-01"), "{html}");

    // `etl runs` still prints the history as a table.
    s.etl(&["runs", "--project", "sales_backfill"])
        .stdout_contains("dw.sales")
        .stdout_contains("2024-01-01..2024-01-11")
        .run();
}

#[test]
fn the_report_can_be_limited_to_a_project_and_written_to_stdout() {
    let s = history();
    let ran = s
        .etl(&[
            "report",
            "--project",
            "sales_backfill",
            "--days",
            "60",
            "--out",
            "-",
        ])
        .run();
    let html = ran.stdout;
    wellformed::check(&html);
    assert!(html.contains("<h2>sales_backfill</h2>") && !html.contains("notify_shop"));
    assert!(html.contains("an ancient failure"), "60 days include it");
    assert_eq!(html.matches("<svg").count(), 3);

    // The default place: METADATA/report.html.
    s.etl(&["report"]).run();
    assert!(s
        .read("metadata/report.html")
        .contains("<h2>notify_shop</h2>"));
}

#[test]
fn a_report_without_history_is_still_a_page() {
    let s = Sandbox::new();
    s.etl(&["report", "--out", "r.html"]).run();
    let html = s.read("r.html");
    wellformed::check(&html);
    assert!(html.contains("No runs recorded."));
    s.etl(&["report", "--connection", "nowhere"])
        .status(2)
        .stderr_contains("no connection named 'nowhere'")
        .run();
}

#[test]
fn a_report_of_an_unreachable_database_exits_1_and_writes_nothing() {
    let s = Sandbox::new();
    // Nothing listens on port 1: the connection is refused at once.
    s.etl(&["report", "--out", "r.html"])
        .env("ETL_CONN_WAREHOUSE", "postgres://postgres@127.0.0.1:1/dw")
        .status(1)
        .stderr_contains("error: connection 'warehouse'")
        .stderr_contains("refused")
        .run();
    assert!(!s.exists("r.html"));
}
