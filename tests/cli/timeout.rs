//! A task's `timeout`: each attempt that outlives it is stopped (the script at its next
//! operation, a load rolling back), the task fails with a record saying it timed out, its
//! dependants are skipped and the rest of the run goes on.

use crate::support::Sandbox;

#[test]
fn a_task_past_its_timeout_fails_and_the_run_goes_on() {
    let s = Sandbox::with_project("timeout_spin");
    let ran = s
        .exec("timeout_spin")
        .status(1)
        .stderr_contains("task 'spin' timed out after 0.5s (its timeout option)")
        .stderr_contains("Skipped: it runs after 'spin'")
        .stderr_contains("steady ran")
        .run();
    let w = s.warehouse();
    assert_eq!(w.count("attempts"), 2, "each attempt ran and was stopped");
    let spin_row = ran
        .stderr
        .lines()
        .find(|l| l.starts_with("spin "))
        .unwrap_or_default()
        .to_string();
    assert!(
        spin_row.contains("failed") && spin_row.trim_end().ends_with('2'),
        "summary: {spin_row}"
    );
    let records: Vec<(String, String, String)> = w
        .audit()
        .into_iter()
        .map(|r| (r.task, r.status, r.error_message.unwrap_or_default()))
        .collect();
    assert_eq!(records.len(), 2, "{records:#?}");
    assert!(
        records
            .iter()
            .any(|(t, s, e)| t == "spin" && s == "failed" && e.contains("timed out after 0.5s")),
        "{records:#?}"
    );
    assert!(
        records
            .iter()
            .any(|(t, s, _)| t == "steady" && s == "success"),
        "{records:#?}"
    );
}

#[test]
fn a_load_stopped_by_its_timeout_rolls_back() {
    let s = Sandbox::with_project("timeout_load");
    s.exec("timeout_load").args(&["--task", "seed"]).run();
    assert_eq!(s.warehouse().count("big"), 2);

    s.exec("timeout_load")
        .args(&["--task", "slow"])
        .status(1)
        .stderr_contains("task 'slow' timed out after 1s")
        .run();
    let w = s.warehouse();
    assert_eq!(w.count("big"), 2, "the target keeps its previous contents");
    assert!(
        !w.table_exists("big__etl_new"),
        "no half-built table is left"
    );
    let statuses: Vec<(String, String)> =
        w.audit().into_iter().map(|r| (r.task, r.status)).collect();
    // The load's own record, then the task's, which says why.
    assert_eq!(
        statuses,
        [
            ("seed".to_string(), "success".to_string()),
            ("slow".to_string(), "failed".to_string()),
            ("slow".to_string(), "failed".to_string()),
        ]
    );
    let task_record = w.audit().pop().expect("records");
    assert_eq!(task_record.target_table, None);
    assert!(task_record
        .error_message
        .unwrap_or_default()
        .contains("task 'slow' timed out after 1s"),);
}

#[test]
fn a_bad_timeout_is_refused_before_anything_runs() {
    let s = Sandbox::with_project("timeout_spin");
    let script = s.read("projects/timeout_spin/project.rhai");
    let seconds = "task 'spin': timeout must be a number of seconds above 0 and at most 2592000";
    for (bad, says) in [
        ("0", seconds),
        ("-1", seconds),
        ("3000000", seconds),
        (
            "\"5m\"",
            "task 'spin': option 'timeout' must be a number, not string",
        ),
    ] {
        s.write(
            "projects/timeout_spin/project.rhai",
            script.replace("timeout: 0.5", &format!("timeout: {bad}")),
        );
        s.check("timeout_spin")
            .status(2)
            .stderr_contains(says)
            .run();
    }
}
