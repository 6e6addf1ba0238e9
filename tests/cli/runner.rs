//! The runner: failures skip dependants, retries, task selection, params and the run context,
//! dry runs, the operation limit, and script output in the log.

use crate::support::{Sandbox, ETL_TOML};

#[test]
fn failed_task_skips_its_dependants_and_independent_tasks_still_run() {
    let s = Sandbox::with_project("runner_failure");
    let ran = s
        .exec("runner_failure")
        .status(1)
        .stderr_contains("Run failed")
        .run();
    let at = "projects/runner_failure/project.rhai:7:8";
    assert!(ran.stderr.contains(at), "{}", ran.stderr);

    let w = s.warehouse();
    assert_eq!(w.count("customers"), 2, "the independent task ran");
    assert!(!w.table_exists("report"), "the dependant did not run");

    let audit = w.audit();
    let broken: Vec<_> = audit.iter().filter(|r| r.task == "broken").collect();
    assert_eq!(broken.len(), 1, "{audit:#?}");
    assert_eq!(broken[0].status, "failed");
    let message = broken[0].error_message.as_deref().unwrap_or_default();
    assert!(
        message.contains(at) && message.contains("no such table: no_such_table"),
        "{message}"
    );
    assert!(
        !audit.iter().any(|r| r.task == "report"),
        "a skipped task has no record: {audit:#?}"
    );
    assert_eq!(w.audit_of("customers")[0].status, "success");

    let log = s.logs("runner_failure");
    assert!(
        log.contains(at) && log.contains("no such table: no_such_table"),
        "{log}"
    );
    assert!(
        log.contains("Skipped: it runs after 'broken', which did not succeed"),
        "{log}"
    );
}

#[test]
fn retries_make_three_attempts() {
    let s = Sandbox::with_project("runner_retries");
    s.exec("runner_retries")
        .stderr_contains("ready after 3 attempts")
        .run();
    let w = s.warehouse();
    assert_eq!(w.count("attempts"), 3);
    let audit = w.audit();
    assert_eq!(
        audit.len(),
        1,
        "one record for the task, not one per attempt: {audit:#?}"
    );
    assert_eq!(audit[0].status, "success");
    let log = s.logs("runner_retries");
    for n in 1..=2 {
        let failure = format!("project.rhai:12:9: the source is not ready yet (attempt {n})");
        assert_eq!(log.matches(&failure).count(), 1, "{log}");
    }
    assert!(log.contains("will retry"), "{log}");
}

fn tasks_that_ran(s: &Sandbox) -> Vec<String> {
    let mut ran: Vec<String> = s
        .warehouse()
        .rows("SELECT task FROM ran")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    ran.sort();
    ran
}

#[test]
fn task_option_runs_only_that_task() {
    let s = Sandbox::with_project("runner_selection");
    s.exec("runner_selection")
        .args(&["--task", "publish"])
        .run();
    assert_eq!(tasks_that_ran(&s), ["publish"]);
}

#[test]
fn task_option_with_deps_runs_its_dependencies_too() {
    let s = Sandbox::with_project("runner_selection");
    s.exec("runner_selection")
        .args(&["--task", "publish", "--with-deps"])
        .run();
    assert_eq!(tasks_that_ran(&s), ["extract", "publish", "transform"]);
}

#[test]
fn unknown_task_option_is_a_usage_error() {
    let s = Sandbox::with_project("runner_selection");
    s.exec("runner_selection")
        .args(&["--task", "pubish"])
        .status(2)
        .stderr_contains("--task pubish: no such task")
        .run();
}

#[test]
fn run_context_and_params_reach_the_task() {
    let s = Sandbox::with_project("runner_context");
    s.exec("runner_context")
        .args(&["--param", "region=emea", "--load-type", "I"])
        .run();
    let w = s.warehouse();
    let run_id = w.audit()[0].run_id.clone();
    assert!(!run_id.is_empty());
    let row: Vec<String> = w
        .rows("SELECT * FROM context")
        .remove(0)
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(
        row,
        [
            run_id.as_str(),
            "runner_context",
            "dev",
            "I",
            "emea",
            "false"
        ]
    );
}

#[test]
fn print_output_lands_in_the_log() {
    let s = Sandbox::with_project("runner_context");
    s.exec("runner_context")
        .args(&["--param", "region=apac"])
        .run();
    let log = s.logs("runner_context");
    assert!(log.contains("hello from inspect"), "{log}");
}

#[test]
fn dry_run_writes_nothing() {
    let s = Sandbox::with_project("runner_dry_run");
    s.exec("runner_dry_run")
        .arg("--dry-run")
        .stderr_contains("Dry run: would load")
        .stderr_contains("Dry run: would execute CREATE TABLE item_summary")
        .run();
    // Nothing may be written: no target table, no SQL effect, no audit record (the database
    // file itself need not even exist).
    let written: Vec<String> = if s.exists("metadata/warehouse.db") {
        let w = s.warehouse();
        w.rows("SELECT name FROM sqlite_master WHERE type = 'table'")
            .into_iter()
            .map(|r| r[0].clone().unwrap())
            .filter(|t| t != "etl_runs" || !w.audit().is_empty())
            .collect()
    } else {
        Vec::new()
    };
    assert_eq!(written, Vec::<String>::new());
}

#[test]
fn runaway_loop_is_stopped_by_the_operation_limit() {
    let s = Sandbox::with_project("runner_runaway");
    s.write(
        "etl.toml",
        format!("{ETL_TOML}\n[limits]\nmax_operations = 100000\n"),
    );
    let ran = s.exec("runner_runaway").status(1).run();
    assert!(ran.stderr.contains("Too many operations"), "{}", ran.stderr);
    let at = "projects/runner_runaway/project.rhai:";
    assert!(ran.stderr.contains(at), "{}", ran.stderr);
    let audit = s.warehouse().audit();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].status, "failed");
    assert!(
        audit[0]
            .error_message
            .as_deref()
            .unwrap_or_default()
            .contains("Too many operations"),
        "{audit:#?}"
    );
}

/// Two tasks calling `dw.load(...)` on the same top-level `dw` at the same time: Rhai shares
/// a captured variable between closures, so without per-task copies the second call fails
/// with "Data race detected".
#[test]
fn independent_tasks_share_a_connection_in_parallel() {
    let s = Sandbox::with_project("runner_parallel");
    let rows: String = (1..=10_000)
        .map(|i| format!("{i},name {i},{}.{:02}\n", i % 1000, i % 100))
        .collect();
    s.write(
        "projects/runner_parallel/data/rows.csv",
        format!("id,name,amount\n{rows}"),
    );
    s.exec("runner_parallel")
        .args(&["--jobs", "2"])
        .stderr_lacks("Data race")
        .run();
    let w = s.warehouse();
    assert_eq!(w.count("left_copy"), 10_000);
    assert_eq!(w.count("right_copy"), 10_000);
    let statuses: Vec<String> = w.audit().into_iter().map(|r| r.status).collect();
    assert_eq!(statuses, ["success", "success"]);
}
