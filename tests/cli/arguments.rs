//! Arguments too big for the dates and counts they become, and a standard output that closes
//! early: clear errors (exit 2) or a quiet end, never a panic (exit 101).

use std::process::{Command, Stdio};

use crate::support::{Sandbox, BIN};

const SCRIPT: &str = "projects/ops_backfill/project.rhai";

fn no_panic(what: &str, stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{what}: {stderr}"
    );
}

#[test]
fn numbers_past_the_calendar_or_a_limit_are_usage_errors() {
    let s = Sandbox::with_project("ops_backfill");
    for (args, message) in [
        (
            vec!["report", "--days", "100000000"],
            "--days 100000000 is more than a report covers: give at most 36500",
        ),
        (
            vec![
                "backfill",
                SCRIPT,
                "--from",
                "0001-01-01",
                "--to",
                "9999-12-31",
                "--days",
                "4294967295",
                "--dry-run",
            ],
            "--days 4294967295 is longer than any range of dates: give at most 3652500",
        ),
        (
            vec![
                "plan",
                SCRIPT,
                "--from",
                "0001-01-01",
                "--to",
                "9999-12-31",
                "--days",
                "4294967295",
            ],
            "--days 4294967295 is longer than any range of dates",
        ),
        (
            vec!["runs", "--limit", "18446744073709551615"],
            "--limit 18446744073709551615 is more than etl runs shows",
        ),
    ] {
        let ran = s.etl(&args).status(2).stderr_contains(message).run();
        no_panic(&args.join(" "), &ran.stderr);
    }
    // The largest accepted values work: one window from the first date to the last.
    s.etl(&[
        "backfill",
        SCRIPT,
        "--from",
        "0001-01-01",
        "--to",
        "9999-12-31",
        "--days",
        "3652500",
        "--dry-run",
    ])
    .stdout_contains("0001-01-01")
    .run();
    s.etl(&["report", "--days", "36500", "--out", "r.html"])
        .run();
}

/// Runs etl with a standard output whose reader is already gone.
fn with_closed_stdout(s: &Sandbox, args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(BIN)
        .args(args)
        .current_dir(s.root())
        .env_remove("ETL_ENV")
        .env_remove("ETL_CONFIG")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_standard_output_ends_every_printing_command_quietly() {
    let s = Sandbox::with_project("ops_backfill");
    s.exec("ops_backfill").run();
    for args in [
        vec!["defs", "--stdout"],
        vec!["plan", SCRIPT],
        vec!["runs"],
        vec!["export", "cron", "ops_backfill"],
        vec!["export", "schtasks", "ops_backfill"],
        vec!["report", "--out", "-"],
        vec!["check", SCRIPT],
        vec![
            "backfill",
            SCRIPT,
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-10",
            "--days",
            "3",
            "--dry-run",
        ],
        vec!["launcher", "ops_backfill", "--os", "unix"],
        vec!["new", "fresh"],
        vec!["defs", "--out", "defs"],
        vec!["--help"],
    ] {
        let (code, stderr) = with_closed_stdout(&s, &args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        no_panic(&format!("{args:?}"), &stderr);
        assert!(!stderr.contains("error:"), "{args:?}: {stderr}");
    }
    assert!(s.exists("launchers/run_ops_backfill.sh"));
    assert!(s.exists("projects/fresh/project.rhai"));
}
