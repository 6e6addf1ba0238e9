//! SIGKILL of `etl exec` loading the embedded SQLite warehouse, from MariaDB and from a CSV
//! file, full and incremental: 16 kill points. SQLite shows no load in progress to another
//! process (the write transaction is private until COMMIT), so besides the audit record and
//! the stalled MariaDB read these kills fall at shares of an undisturbed run's duration; the
//! report gives the size of the write-ahead log at each kill (a load's uncommitted pages
//! spill there).

use crate::kill_data::Source;
use crate::kill_load::{run, Point, Scenario};
use crate::warehouse::Warehouse;

#[test]
fn kills_of_a_full_load_from_mariadb_into_sqlite() {
    let s = Scenario {
        name: "kill_lite_my_full",
        source: Source::MySql,
        load_type: "F",
        rows: 40_000,
        parallel: 1,
        points: &[
            Point::Running,
            Point::SourceStalled(0.0),
            Point::SourceStalled(0.5),
            Point::Elapsed(0.8),
            Point::Committed,
        ],
    };
    run(&s, Warehouse::sqlite());
}

#[test]
fn kills_of_an_incremental_load_from_mariadb_into_sqlite() {
    let s = Scenario {
        name: "kill_lite_my_incr",
        source: Source::MySql,
        load_type: "I",
        rows: 40_000,
        parallel: 1,
        points: &[
            Point::SourceStalled(0.6),
            Point::Elapsed(0.5),
            Point::Committed,
        ],
    };
    run(&s, Warehouse::sqlite());
}

#[test]
fn kills_of_a_full_load_from_csv_into_sqlite() {
    let s = Scenario {
        name: "kill_lite_csv_full",
        source: Source::Csv,
        load_type: "F",
        rows: 60_000,
        parallel: 1,
        points: &[
            Point::Running,
            Point::Elapsed(0.3),
            Point::Elapsed(0.6),
            Point::Elapsed(0.9),
            Point::Committed,
        ],
    };
    run(&s, Warehouse::sqlite());
}

#[test]
fn kills_of_an_incremental_load_from_csv_into_sqlite() {
    let s = Scenario {
        name: "kill_lite_csv_incr",
        source: Source::Csv,
        load_type: "I",
        rows: 60_000,
        parallel: 1,
        points: &[Point::Elapsed(0.4), Point::Elapsed(0.8), Point::Committed],
    };
    run(&s, Warehouse::sqlite());
}

/// Issue 11 item 6: PostgreSQL marks the record of a run that died mid-load `failed` when the
/// next load of the table takes its lock; SQLite leaves it `running` for ever.
#[test]
fn the_next_run_closes_a_killed_runs_record_on_sqlite() {
    let s = Scenario {
        name: "kill_lite_stale",
        source: Source::MySql,
        load_type: "F",
        rows: 20_000,
        parallel: 1,
        points: &[Point::SourceStalled(0.5)],
    };
    let outcomes = run(&s, Warehouse::sqlite());
    assert!(!outcomes[0].committed);
    assert_eq!(outcomes[0].records_after_recovery, ["failed"]);
}
