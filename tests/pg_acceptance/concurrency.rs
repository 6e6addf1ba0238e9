//! Loads of one table at the same time take turns: a second load, of the same project or of
//! another one, waits for the first to commit (never a deadlock, never interleaved rows), then
//! runs; both succeed. How long a load may wait is bounded (tests/postgres/main.rs).

use crate::common::PgTestDb;
use crate::harness::{audit, count, statuses, wait_for_copy, wait_until, Sandbox};
use crate::swap::big_table;

/// Whether a session of this database waits on an advisory lock (the load lock).
fn waiting_for_the_load_lock(dw: &PgTestDb) -> bool {
    dw.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
    )
    .as_deref()
        != Some("0")
}

#[test]
fn a_second_run_of_the_project_waits_for_the_first_and_both_succeed() {
    let dw = PgTestDb::new("pga_concurrent");
    let src = PgTestDb::new("pga_concurrent_src");
    src.execute(&big_table(300_000));
    let s = Sandbox::new(&["pga_full"], &dw, &src);

    let mut first = s.spawn("pga_full", &[]);
    wait_for_copy(&dw, &mut first);
    let second = s.spawn("pga_full", &[]);
    wait_until("the second run waits for the load lock", || {
        waiting_for_the_load_lock(&dw)
    });
    let first = first.wait().ok();
    let second = second.wait().ok();
    second.contains("Another load of app.target is running; waiting for it to finish");
    assert_eq!(first.figures("load"), (300_000, 300_000, 0));
    assert_eq!(second.figures("load"), (300_000, 300_000, 0));
    assert_eq!(count(&dw, "app.target"), 300_000);
    let records = audit(&dw, "app.target");
    assert_eq!(statuses(&records), ["success", "success"], "{records:#?}");
}

#[test]
fn two_projects_loading_one_table_take_turns_instead_of_deadlocking() {
    let dw = PgTestDb::new("pga_two_projects");
    let src = PgTestDb::new("pga_two_projects_src");
    src.execute(&big_table(300_000));
    let s = Sandbox::new(&["pga_full", "pga_merge_same"], &dw, &src);
    s.exec("pga_full", &[]).ok();

    // A full reload (its swap takes an exclusive lock) while another project merges into
    // the same table: keyed by project, their locks let both in, and they deadlocked.
    let mut full = s.spawn("pga_full", &[]);
    wait_for_copy(&dw, &mut full);
    let merge = s.spawn("pga_merge_same", &[]);
    wait_until("the merge waits for the load lock", || {
        waiting_for_the_load_lock(&dw)
    });
    let full = full.wait().ok();
    let merge = merge.wait().ok();
    for ran in [&full, &merge] {
        assert!(!ran.output.contains("40P01"), "{}", ran.output);
    }
    merge.contains("Another load of app.target is running; waiting for it to finish");
    assert_eq!(
        merge.figures("merge"),
        (100, 0, 0),
        "the merged rows were already there"
    );
    assert_eq!(count(&dw, "app.target"), 300_000);
    assert_eq!(
        statuses(&audit(&dw, "app.target")),
        ["success", "success", "success"]
    );
}
