//! SIGKILL of `etl exec` loading PostgreSQL, from MariaDB and from a CSV file, full and
//! incremental, on one COPY stream and on three: 24 kill points spread from the audit record's
//! insert to after the commit.

use crate::kill_data::Source;
use crate::kill_load::{run, Point, Scenario};
use crate::warehouse::Warehouse;

#[test]
fn kills_of_a_full_load_from_mariadb_into_postgres() {
    let s = Scenario {
        name: "kill_pg_my_full",
        source: Source::MySql,
        load_type: "F",
        rows: 40_000,
        parallel: 1,
        points: &[
            Point::Running,
            Point::SourceStalled(0.0),
            Point::SourceStalled(0.5),
            Point::Copied(0.8),
            Point::FinishBlocked,
            Point::Committed,
        ],
    };
    run(&s, Warehouse::pg(s.name));
}

#[test]
fn kills_of_an_incremental_load_from_mariadb_into_postgres() {
    let s = Scenario {
        name: "kill_pg_my_incr",
        source: Source::MySql,
        load_type: "I",
        rows: 40_000,
        parallel: 1,
        points: &[
            Point::SourceStalled(0.6),
            Point::Copied(0.5),
            Point::FinishBlocked,
            Point::Committed,
        ],
    };
    run(&s, Warehouse::pg(s.name));
}

#[test]
fn kills_of_a_full_load_from_csv_into_postgres() {
    let s = Scenario {
        name: "kill_pg_csv_full",
        source: Source::Csv,
        load_type: "F",
        rows: 60_000,
        parallel: 1,
        points: &[
            Point::Running,
            Point::Copied(0.1),
            Point::Copied(0.6),
            Point::FinishBlocked,
            Point::Elapsed(0.5),
        ],
    };
    run(&s, Warehouse::pg(s.name));
}

#[test]
fn kills_of_an_incremental_load_from_csv_into_postgres() {
    let s = Scenario {
        name: "kill_pg_csv_incr",
        source: Source::Csv,
        load_type: "I",
        rows: 60_000,
        parallel: 1,
        points: &[
            Point::Copied(0.4),
            Point::FinishBlocked,
            Point::Elapsed(0.7),
        ],
    };
    run(&s, Warehouse::pg(s.name));
}

/// Three COPY streams commit their rows into the new table before the swap: a kill leaves
/// the target as it was (or as loaded, once the swap committed), and the new table it may
/// leave behind is dropped by the next run.
#[test]
fn kills_of_a_full_load_over_three_copy_streams_into_postgres() {
    let s = Scenario {
        name: "kill_pg_csv_parallel",
        source: Source::Csv,
        load_type: "F",
        rows: 60_000,
        parallel: 3,
        points: &[
            Point::Running,
            Point::Copied(0.1),
            Point::Copied(0.3),
            Point::FinishBlocked,
            Point::Elapsed(0.6),
            Point::Committed,
        ],
    };
    run(&s, Warehouse::pg(s.name));
}
