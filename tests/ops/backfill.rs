//! `etl backfill` on the SQLite warehouse: windows, replace semantics with and without a key,
//! failure and `--resume`, the incremental watermark afterwards, `--parallel`.

use crate::support::{Run, Sandbox, Warehouse};

pub const SCRIPT: &str = "projects/ops_backfill/project.rhai";
/// January 2025 in windows of 3 days: [01, 04), [04, 07), ..., [28, 31): 10 windows.
pub const JAN: [&str; 6] = ["--from", "2025-01-01", "--to", "2025-01-31", "--days", "3"];
pub const WINDOWS: [(&str, &str); 10] = [
    ("2025-01-01", "2025-01-04"),
    ("2025-01-04", "2025-01-07"),
    ("2025-01-07", "2025-01-10"),
    ("2025-01-10", "2025-01-13"),
    ("2025-01-13", "2025-01-16"),
    ("2025-01-16", "2025-01-19"),
    ("2025-01-19", "2025-01-22"),
    ("2025-01-22", "2025-01-25"),
    ("2025-01-25", "2025-01-28"),
    ("2025-01-28", "2025-01-31"),
];

fn backfill<'a>(s: &'a Sandbox, args: &[&str]) -> Run<'a> {
    s.etl(&["backfill", SCRIPT]).args(args)
}

fn table(w: &Warehouse, name: &str) -> Vec<Vec<String>> {
    w.rows(&format!(
        "SELECT id, updated_at, amount FROM \"{name}\" ORDER BY id, updated_at"
    ))
    .into_iter()
    .map(|r| {
        r.into_iter()
            .map(|v| v.unwrap_or_else(|| "NULL".into()))
            .collect()
    })
    .collect()
}

/// (task, target, status, load_type, start, end) of the backfill records, in order.
fn b_records(w: &Warehouse) -> Vec<[String; 6]> {
    w.rows(
        "SELECT task, coalesce(target_table, '-'), status, load_type, start_load_date, end_load_date \
         FROM etl_runs WHERE load_type = 'B' ORDER BY id",
    )
    .into_iter()
    .map(|r| {
        let v: Vec<String> = r.into_iter().map(|v| v.unwrap_or_else(|| "NULL".into())).collect();
        [v[0].clone(), v[1].clone(), v[2].clone(), v[3].clone(), v[4].clone(), v[5].clone()]
    })
    .collect()
}

fn csv_rows(s: &Sandbox) -> usize {
    s.read("projects/ops_backfill/data/orders.csv")
        .lines()
        .count()
        - 1
}

#[test]
fn ten_windows_fill_a_table_with_a_key_and_one_without() {
    let s = Sandbox::with_project("ops_backfill");
    backfill(&s, &JAN)
        .stderr_contains("10 windows, 10 to run (0 done earlier), 1 at once")
        .stderr_contains("Backfill succeeded: 10 windows run")
        .run();
    let w = s.warehouse();
    assert_eq!(w.count("orders"), 90);
    assert_eq!(w.count("orders_log"), 90);
    assert_eq!(table(&w, "orders"), table(&w, "orders_log"));
    assert_eq!(csv_rows(&s), 90);

    // Per window and table: a load record with the window (timestamp cursor: its own form),
    // and per task a task-level marker with the window as given.
    let records = b_records(&w);
    assert_eq!(records.len(), 40, "{records:#?}");
    for (since, until) in WINDOWS {
        for (task, target) in [("keyed", "orders"), ("log", "orders_log")] {
            let load: Vec<_> = records
                .iter()
                .filter(|r| r[0] == task && r[1] == target && r[4] == format!("{since} 00:00:00"))
                .collect();
            assert_eq!(load.len(), 1, "{task} {since}: {records:#?}");
            assert_eq!(load[0][2], "success");
            assert_eq!(load[0][5], format!("{until} 00:00:00"));
            let marker: Vec<_> = records
                .iter()
                .filter(|r| r[0] == task && r[1] == "-" && r[4] == since && r[5] == until)
                .collect();
            assert_eq!(marker.len(), 1, "{task} {since}: {records:#?}");
        }
    }
    // Each window is a run of its own.
    let runs = w.scalar_i64("SELECT count(DISTINCT run_id) FROM etl_runs");
    assert_eq!(runs, 10);
    // The rows of each window went in with that window: 9 rows (3 days x 3).
    let per_window = w.rows(
        "SELECT number_of_records FROM etl_runs WHERE target_table = 'orders_log' ORDER BY id",
    );
    assert!(
        per_window.iter().all(|r| r[0].as_deref() == Some("9")),
        "{per_window:?}"
    );
    // The boundary row at midnight belongs to the window it starts, not the one before.
    let first = w.rows(
        "SELECT data_min_date, data_max_date FROM etl_runs WHERE target_table = 'orders' ORDER BY id LIMIT 1",
    );
    assert_eq!(
        first[0],
        [
            Some("2025-01-01 00:00:00".into()),
            Some("2025-01-03 23:00:00".into())
        ]
    );
}

#[test]
fn rerunning_a_window_replaces_it_without_duplicates() {
    let s = Sandbox::with_project("ops_backfill");
    backfill(&s, &JAN).run();
    let before = table(&s.warehouse(), "orders");

    // In window 2 ([01-04, 01-07)): row 10 changes, row 11 disappears from the source.
    let csv = "projects/ops_backfill/data/orders.csv";
    let text = s.read(csv);
    let text = text.replace(
        "10,2025-01-04 00:00:00,370.10",
        "10,2025-01-04 00:00:00,999.99",
    );
    let text = text.replace("11,2025-01-04 08:00:00,507.11\n", "");
    s.write(csv, text);
    backfill(
        &s,
        &["--from", "2025-01-04", "--to", "2025-01-07", "--days", "3"],
    )
    .stderr_contains("Backfill succeeded: 1 window run")
    .run();
    let w = s.warehouse();
    // Without a key the window is replaced exactly: the change is in, the removed row out.
    let log = table(&w, "orders_log");
    assert_eq!(log.len(), 89);
    assert!(log.contains(&vec![
        "10".into(),
        "2025-01-04 00:00:00".into(),
        "999.99".into()
    ]));
    assert!(!log.iter().any(|r| r[0] == "11"));
    assert_eq!(
        w.scalar_i64("SELECT count(DISTINCT id) FROM orders_log"),
        89
    );
    // With a key the window is merged: the change is in, nothing is duplicated, and a row
    // the source no longer has stays (a merge never deletes).
    let keyed = table(&w, "orders");
    assert_eq!(keyed.len(), 90);
    assert!(keyed.contains(&vec![
        "10".into(),
        "2025-01-04 00:00:00".into(),
        "999.99".into()
    ]));
    let unchanged: Vec<_> = before.iter().filter(|r| r[0] != "10").collect();
    assert!(unchanged.iter().all(|r| keyed.contains(r)));

    // The whole range again: the same tables, no duplicates.
    let log_before = table(&w, "orders_log");
    backfill(&s, &JAN).run();
    let w = s.warehouse();
    assert_eq!(table(&w, "orders_log"), log_before);
    assert_eq!(table(&w, "orders"), keyed);
}

#[test]
fn a_failed_window_stops_the_backfill_and_resume_finishes_it() {
    let s = Sandbox::with_project("ops_backfill");
    let ran = backfill(&s, &JAN)
        .args(&["--param", "fail_since=2025-01-10"])
        .status(1)
        .stderr_contains("Window 4/10 failed (keyed did not succeed): no further window starts")
        .stderr_contains("Backfill failed: 1 window failed (4/10 (2025-01-10 .. 2025-01-13)), 6 not run, 3 succeeded")
        .stderr_contains("--resume")
        .run();
    assert!(
        ran.stderr.contains("window 2025-01-10 fails on purpose"),
        "{}",
        ran.stderr
    );
    let w = s.warehouse();
    assert_eq!(w.count("orders"), 27, "windows 1-3");
    // The other task of window 4 succeeded; window 4 is still not done as a whole.
    assert_eq!(w.count("orders_log"), 36, "windows 1-4");

    let listing = backfill(&s, &JAN)
        .args(&["--resume", "--dry-run"])
        .run()
        .stdout;
    let actions: Vec<&str> = listing
        .lines()
        .filter(|l| l.contains("/10 "))
        .map(|l| {
            if l.contains("skip: done by run") {
                "skip"
            } else {
                "run"
            }
        })
        .collect();
    assert_eq!(
        actions,
        ["skip", "skip", "skip", "run", "run", "run", "run", "run", "run", "run"],
        "{listing}"
    );
    assert_eq!(
        s.warehouse().count("orders"),
        27,
        "a dry run writes nothing"
    );

    backfill(&s, &JAN)
        .args(&["--resume"])
        .stderr_contains("10 windows, 7 to run (3 done earlier)")
        .stderr_contains("Backfill succeeded: 7 windows run, 3 done earlier")
        .run();
    let w = s.warehouse();
    assert_eq!(w.count("orders"), 90);
    assert_eq!(
        w.count("orders_log"),
        90,
        "window 4 of orders_log replaced, not doubled"
    );
    assert_eq!(table(&w, "orders"), table(&w, "orders_log"));
    // Windows 1-3 were not loaded again: one load each into orders.
    let loads = w.rows(
        "SELECT start_load_date, count(*) FROM etl_runs WHERE target_table = 'orders' AND status = 'success' GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(loads.len(), 10);
    assert!(
        loads.iter().all(|r| r[1].as_deref() == Some("1")),
        "{loads:?}"
    );

    // Everything done: a further --resume runs nothing.
    backfill(&s, &JAN)
        .args(&["--resume"])
        .stderr_contains("10 windows, 0 to run (10 done earlier)")
        .run();
}

#[test]
fn keep_going_runs_the_other_windows_and_reports_the_failures() {
    let s = Sandbox::with_project("ops_backfill");
    backfill(&s, &JAN)
        .args(&["--keep-going", "--param", "fail_since=2025-01-10"])
        .status(1)
        .stderr_contains("Backfill failed: 1 window failed (4/10 (2025-01-10 .. 2025-01-13)), 0 not run, 9 succeeded")
        .stderr_lacks("no further window starts")
        .run();
    assert_eq!(s.warehouse().count("orders"), 81);
}

#[test]
fn an_incremental_run_after_a_backfill_continues_from_the_greatest_watermark() {
    let s = Sandbox::with_project("ops_backfill");
    backfill(&s, &JAN).run();

    let csv = "projects/ops_backfill/data/orders.csv";
    let mut text = s.read(csv);
    text.push_str("91,2025-02-01 10:00:00,1.00\n92,2025-02-02 10:00:00,2.00\n");
    s.write(csv, text);
    s.exec("ops_backfill").args(&["--load-type", "I"]).run();
    let w = s.warehouse();
    let inc = w.rows(
        "SELECT target_table, previous_max_date, data_max_date, number_of_records FROM etl_runs \
         WHERE load_type = 'I' AND target_table IS NOT NULL ORDER BY target_table",
    );
    let row = |t: &str, prev: &str, max: &str, n: &str| {
        vec![
            Some(t.to_string()),
            Some(prev.to_string()),
            Some(max.to_string()),
            Some(n.to_string()),
        ]
    };
    assert_eq!(
        inc,
        [
            // With a key the boundary row is read again (and merged idempotently).
            row("orders", "2025-01-30 23:00:00", "2025-02-02 10:00:00", "3"),
            row(
                "orders_log",
                "2025-01-30 23:00:00",
                "2025-02-02 10:00:00",
                "2"
            ),
        ]
    );
    assert_eq!(w.count("orders"), 92);
    assert_eq!(w.count("orders_log"), 92);

    // A backfill of an old window afterwards does not move the watermark back: the next
    // incremental run reads only from the greatest data_max_date.
    backfill(
        &s,
        &["--from", "2025-01-01", "--to", "2025-01-04", "--days", "3"],
    )
    .run();
    s.exec("ops_backfill").args(&["--load-type", "I"]).run();
    let w = s.warehouse();
    let last = w.rows(
        "SELECT target_table, previous_max_date, number_of_records FROM etl_runs \
         WHERE load_type = 'I' AND target_table IS NOT NULL ORDER BY id DESC LIMIT 2",
    );
    for r in &last {
        assert_eq!(r[1].as_deref(), Some("2025-02-02 10:00:00"), "{last:?}");
    }
    assert_eq!(w.count("orders"), 92);
    assert_eq!(w.count("orders_log"), 92, "no row appended twice");
}

#[test]
fn three_windows_at_once_give_the_same_tables_as_one_at_a_time() {
    let sequential = Sandbox::with_project("ops_backfill");
    backfill(&sequential, &JAN).run();
    let parallel = Sandbox::with_project("ops_backfill");
    backfill(&parallel, &JAN)
        .args(&["--parallel", "3"])
        .stderr_contains("3 at once")
        .stderr_contains("Backfill succeeded: 10 windows run")
        .run();
    let (a, b) = (sequential.warehouse(), parallel.warehouse());
    for t in ["orders", "orders_log"] {
        assert_eq!(table(&a, t), table(&b, t), "{t}");
    }
    assert_eq!(b_records(&b).len(), 40);
    assert_eq!(
        b.scalar_i64("SELECT count(*) FROM etl_runs WHERE status <> 'success'"),
        0
    );
    // Lines of each window carry the window.
    assert!(parallel
        .logs("ops_backfill")
        .contains("window{w=7/10 2025-01-19..2025-01-22}: Task started."));
}

#[test]
fn dry_run_lists_the_windows_and_writes_nothing() {
    let s = Sandbox::with_project("ops_backfill");
    let out = backfill(
        &s,
        &[
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-08",
            "--days",
            "3",
            "--dry-run",
        ],
    )
    .stdout_contains("Backfill of project 'ops_backfill' (tasks: keyed, log): 3 windows, 3 to run.")
    .run()
    .stdout;
    let windows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.contains("/3 "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        windows,
        [
            ["1/3", "2025-01-01", "2025-01-04", "run"],
            ["2/3", "2025-01-04", "2025-01-07", "run"],
            ["3/3", "2025-01-07", "2025-01-08", "run"],
        ]
    );
    assert!(!s.exists("metadata/warehouse.db") || !s.warehouse().table_exists("orders"));
    // --task narrows what a window runs.
    s.etl(&[
        "backfill",
        SCRIPT,
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-02",
        "--days",
        "1",
        "--task",
        "log",
        "--dry-run",
    ])
    .stdout_contains("(tasks: log): 1 window, 1 to run.")
    .run();
}

#[test]
fn bad_arguments_are_usage_errors() {
    let s = Sandbox::with_project("ops_backfill");
    for (args, message) in [
        (
            vec!["--from", "2025-01-32", "--to", "2025-02-01", "--days", "1"],
            "--from '2025-01-32' is not a date: write YYYY-MM-DD",
        ),
        (
            vec!["--from", "2025-02-01", "--to", "2025-01-01", "--days", "1"],
            "--to 2025-01-01 must be after --from 2025-02-01",
        ),
        (
            vec!["--from", "2025-01-01", "--to", "2025-02-01", "--days", "0"],
            "--days must be 1 or more",
        ),
        (
            vec![
                "--from",
                "2025-01-01",
                "--to",
                "2025-02-01",
                "--days",
                "1",
                "--parallel",
                "0",
            ],
            "--parallel must be 1 or more",
        ),
        (
            vec![
                "--from",
                "2025-01-01",
                "--to",
                "2025-02-01",
                "--days",
                "1",
                "--task",
                "nope",
            ],
            "--task nope: no such task (tasks: keyed, log)",
        ),
        (
            vec![
                "--from",
                "2025-01-01",
                "--to",
                "2025-02-01",
                "--days",
                "1",
                "--param",
                "novalue",
            ],
            "--param 'novalue' must look like KEY=VALUE",
        ),
    ] {
        backfill(&s, &args).status(2).stderr_contains(message).run();
    }
    s.etl(&["backfill", SCRIPT, "--from", "2025-01-01"])
        .status(2)
        .stderr_contains("--to <DATE>")
        .run();
}

#[test]
fn a_load_that_cannot_be_cut_into_windows_fails_with_what_to_do() {
    let s = Sandbox::with_project("ops_backfill");
    s.write(
        "projects/ops_backfill/project.rhai",
        r#"project("ops_backfill");
let dw = connect("warehouse");
task("by_id", |run| dw.load(#{ from: csv_file("data/orders.csv"), into: "by_id", cursor: "id" }));
task("no_cursor", |run| dw.load(#{ from: csv_file("data/orders.csv"), into: "no_cursor" }));
"#,
    );
    let ran = backfill(
        &s,
        &["--from", "2025-01-01", "--to", "2025-01-02", "--days", "1"],
    )
    .status(1)
    .run();
    assert!(
        ran.stderr.contains("backfill window on cursor 'id': the cursor's type is integer; a backfill cuts a range of dates, so the cursor must be a date or timestamp column"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("a backfill window needs a `cursor` to know which rows are in it"),
        "{}",
        ran.stderr
    );
}

/// `etl exec --from/--to` (what an Airflow task runs): one window of load type B, written
/// with an offset as Airflow's `ts` gives it, loads and audits exactly what the backfill
/// window [01-04, 01-07) does, and replaces it when run again.
#[test]
fn exec_with_from_and_to_runs_one_backfill_window() {
    let s = Sandbox::with_project("ops_backfill");
    let window = [
        "--from",
        "2025-01-04T00:00:00+00:00",
        "--to",
        "2025-01-07T00:00:00+00:00",
    ];
    for _ in 0..2 {
        s.etl(&["exec", SCRIPT, "--no-retries"])
            .args(&window)
            .env("TZ", "UTC")
            .stderr_contains("window 2025-01-04 .. 2025-01-07")
            .run();
    }
    let w = s.warehouse();
    assert_eq!(w.count("orders_log"), 9, "the window's rows, once");
    assert_eq!(w.count("orders"), 9);
    let ids = w.rows("SELECT min(id), max(id) FROM orders_log");
    assert_eq!(ids[0], [Some("10".into()), Some("18".into())]);
    let records = b_records(&w);
    assert_eq!(
        records.len(),
        8,
        "2 runs x 2 tasks x (load + marker): {records:#?}"
    );
    for r in &records {
        assert_eq!(r[2], "success", "{r:?}");
        assert!(
            r[4].starts_with("2025-01-04") && r[5].starts_with("2025-01-07"),
            "{r:?}"
        );
    }
    s.etl(&["exec", SCRIPT, "--from", "2025-01-04", "--load-type", "I"])
        .status(2)
        .stderr_contains("--to")
        .run();
}

/// The backfill project (projects/backfill) started as any project is, through
/// launchers/run.sh with params, backfills another project exactly as `etl backfill` does:
/// the same rows, the same B records with the same windows. Outside `etl exec` its
/// `run_backfill()` is refused.
#[test]
fn the_backfill_project_runs_another_projects_backfill_like_etl_backfill() {
    let direct = Sandbox::with_project("ops_backfill");
    backfill(&direct, &JAN).run();

    let s = crate::launchers::sandbox(&["ops_backfill"]);
    s.add_project(
        &crate::support::repo().join("projects/backfill"),
        "backfill",
    );
    let ran = crate::launchers::launch(
        &s,
        "run.sh",
        &[
            "backfill",
            "--param",
            "project_name=ops_backfill",
            "--param",
            "start_date=2025-01-01",
            "--param",
            "end_date=2025-01-31",
            "--param",
            "load_days=3",
        ],
        &[],
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("Backfill succeeded: 10 windows run"),
        "{}",
        ran.stderr
    );
    let (w, want) = (s.warehouse(), direct.warehouse());
    assert_eq!(table(&w, "orders"), table(&want, "orders"));
    assert_eq!(table(&w, "orders_log"), table(&want, "orders_log"));
    // The same records; the two tasks of a window run at once, so their order may differ.
    let sorted = |w: &crate::support::Warehouse| {
        let mut r = b_records(w);
        r.sort();
        r
    };
    assert_eq!(sorted(&w), sorted(&want));
    // Ten window runs of ops_backfill, and the run of the backfill project itself.
    assert_eq!(
        w.scalar_i64("SELECT count(DISTINCT run_id) FROM etl_runs WHERE project = 'ops_backfill'"),
        10
    );

    s.etl(&["backfill", "projects/backfill/project.rhai"])
        .args(&["--from", "2025-01-01", "--to", "2025-01-02", "--days", "1"])
        .args(&[
            "--param",
            "project_name=ops_backfill",
            "--param",
            "start_date=2025-01-01",
        ])
        .args(&["--param", "end_date=2025-01-02"])
        .status(1)
        .stderr_contains("run_backfill() runs only in a run started by `etl exec`")
        .run();
}
