//! Files a run leaves: output files, log retention, `etl new` scaffolds, `etl runs`.

use crate::support::Sandbox;

#[test]
fn output_files_are_deleted_when_not_kept() {
    let s = Sandbox::with_project("files_output");
    s.exec("files_output")
        .stderr_contains("exported ")
        .stderr_contains("Wrote 2 rows")
        .run();
    assert_eq!(
        s.files_in("metadata/output/files_output"),
        Vec::<String>::new()
    );
}

#[test]
fn log_retention_keeps_the_newest_runs() {
    let s = Sandbox::with_project("files_retention");
    let dir = "metadata/logs/files_retention";
    for day in 1..=5 {
        s.write(
            &format!("{dir}/files_retention_2020010{day}_000000.log"),
            "an old run\n",
        );
    }
    s.write(
        &format!("{dir}/other_20200101_000000.log"),
        "another project's log\n",
    );
    s.exec("files_retention").run();
    let logs = s.files_in(dir);
    assert_eq!(logs.len(), 4, "{logs:?}");
    assert_eq!(
        logs[..2],
        [
            "files_retention_20200104_000000.log",
            "files_retention_20200105_000000.log"
        ]
    );
    let this_run = &logs[2];
    assert!(
        this_run.starts_with("files_retention_") && !this_run.starts_with("files_retention_2020"),
        "{logs:?}"
    );
    assert!(s
        .read(&format!("{dir}/{this_run}"))
        .contains("nothing to do"));
    assert_eq!(
        logs[3], "other_20200101_000000.log",
        "another project's logs stay"
    );
}

#[test]
fn new_project_runs_as_generated() {
    let s = Sandbox::new();
    s.etl(&["new", "shop"])
        .stdout_contains("Created projects/shop/project.rhai")
        .run();
    s.check("shop")
        .stdout_contains("project 'shop' v0.1.0 is valid: 2 tasks")
        .run();
    s.exec("shop").stderr_contains("Run succeeded").run();
    let w = s.warehouse();
    assert_eq!(w.count("shop_example"), 3);
    assert_eq!(w.count("shop_summary"), 2);
    s.etl(&["new", "shop"])
        .status(2)
        .stderr_contains("already exists")
        .run();
}

#[test]
fn runs_prints_the_audit_history() {
    let s = Sandbox::with_demo();
    s.exec("demo").run();
    let ran = s.etl(&["runs", "--project", "demo"]).run();
    let out = &ran.stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("id")
            && lines[0].contains("run_id")
            && lines[0].contains("status")
            && lines[0].contains("rows"),
        "{out}"
    );
    let run_id = &s.warehouse().audit()[0].run_id;
    let records: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains(run_id.as_str()))
        .collect();
    assert_eq!(records.len(), 6, "{out}");
    assert!(
        records
            .iter()
            .any(|l| l.contains("orders") && l.contains("success") && l.contains("3000")),
        "{out}"
    );
    assert!(
        records
            .iter()
            .any(|l| l.contains("customers") && l.contains("500")),
        "{out}"
    );
    // Newest first.
    assert!(records[0].contains("export"), "{out}");

    let other = s.etl(&["runs", "--project", "nope"]).run();
    assert_eq!(
        other
            .stdout
            .lines()
            .filter(|l| l.contains(run_id.as_str()))
            .count(),
        0
    );
}

#[test]
fn runs_exits_1_when_the_database_is_unreachable_and_2_when_the_connection_is_misconfigured() {
    let s = Sandbox::new();
    // Nothing listens on port 1: the connection is refused at once. A database that cannot
    // be reached is a failed connection, as for a task: exit 1.
    s.etl(&["runs"])
        .env("ETL_CONN_WAREHOUSE", "postgres://postgres@127.0.0.1:1/dw")
        .status(1)
        .stderr_contains("error: connection 'warehouse'")
        .stderr_contains("refused")
        .run();
    // A connection the configuration does not name, or cannot read, is the user's to fix.
    s.etl(&["runs", "--connection", "nowhere"])
        .status(2)
        .stderr_contains("error: configuration: no connection named 'nowhere'")
        .run();
    s.etl(&["runs"])
        .env("ETL_CONN_WAREHOUSE", "nosuchdb://host/dw")
        .status(2)
        .stderr_contains("connection 'warehouse'")
        .run();
}

/// The run ids in every log of `dir`.
fn run_ids(s: &Sandbox, dir: &str) -> Vec<String> {
    let mut ids: Vec<String> = s
        .files_in(dir)
        .iter()
        .flat_map(|f| {
            s.read(&format!("{dir}/{f}"))
                .lines()
                .filter(|l| l.contains("started"))
                .filter_map(|l| l.split("run_id=").nth(1))
                .map(|r| r.split_whitespace().next().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

#[test]
fn two_runs_started_in_the_same_second_keep_their_own_log_and_output() {
    let logs = "metadata/logs/files_same_second";
    let outputs = "metadata/output/files_same_second";
    // Two processes started together nearly always start in the same second; when they
    // straddle one, the pair is tried again (the run ids tell the seconds apart).
    for _ in 0..10 {
        let s = Sandbox::with_project("files_same_second");
        let mut a = s.exec("files_same_second").command();
        let mut b = s.exec("files_same_second").command();
        let (mut a, mut b) = (a.spawn().unwrap(), b.spawn().unwrap());
        assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
        let ids = run_ids(&s, logs);
        assert_eq!(ids.len(), 2, "two runs: {ids:?}");
        let second = |id: &str| id.split('-').next().unwrap_or_default().to_string();
        if second(&ids[0]) != second(&ids[1]) {
            continue;
        }
        let log_files = s.files_in(logs);
        assert_eq!(log_files.len(), 2, "one log per run: {log_files:?}");
        for f in &log_files {
            let text = s.read(&format!("{logs}/{f}"));
            assert_eq!(text.matches("Run of project").count(), 1, "{f}:\n{text}");
        }
        let out_files = s.files_in(outputs);
        assert_eq!(out_files.len(), 2, "one output per run: {out_files:?}");
        // Each name carries its run's id suffix, and sorts by start time.
        for id in &ids {
            let suffix = id.rsplit('-').next().unwrap();
            assert!(
                log_files
                    .iter()
                    .any(|f| f.ends_with(&format!("_{suffix}.log")))
                    && out_files
                        .iter()
                        .any(|f| f.ends_with(&format!("_{suffix}.csv"))),
                "{id}: {log_files:?} {out_files:?}"
            );
        }
        return;
    }
    panic!("ten pairs of runs started in different seconds: the case was never tested");
}
