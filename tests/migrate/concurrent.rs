//! Two `etl migrate` processes at once apply each migration exactly once: the second waits for
//! the set's lock, then finds the record and skips.

use std::time::{Duration, Instant};

use crate::common::PgTestDb;
use crate::support::Target;

fn two_migrations(t: &Target) {
    t.migration("1_hits.sql", "CREATE TABLE hits (n INTEGER);");
    t.migration("2_hit.sql", "INSERT INTO hits VALUES (1);");
}

/// PostgreSQL: the test holds the set's advisory lock until both processes wait for it
/// (two ungranted advisory locks in pg_locks), then lets them race.
#[test]
fn two_concurrent_migrates_apply_each_file_once_on_postgres() {
    let t = Target::new(Some(PgTestDb::new("migrate_concurrent")));
    two_migrations(&t);
    let crate::support::Db::Postgres(pg) = &t.db else {
        unreachable!()
    };
    pg.execute("SELECT pg_advisory_lock(hashtextextended('etl_migrations/demo', 0))");
    let mut a = t.migrate(&[]).cmd.spawn().expect("start etl");
    let mut b = t.migrate(&[]).cmd.spawn().expect("start etl");
    let started = Instant::now();
    loop {
        let waiting = pg.scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        );
        if waiting.as_deref() == Some("2") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "both processes should wait for the lock (waiting: {waiting:?})"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    pg.execute("SELECT pg_advisory_unlock(hashtextextended('etl_migrations/demo', 0))");
    assert!(a.wait().expect("wait").success());
    assert!(b.wait().expect("wait").success());
    assert_eq!(t.rows("SELECT count(*) FROM hits"), ["1"]);
    assert_eq!(t.recorded(), ["1_hits", "2_hit"]);
}

/// SQLite: BEGIN IMMEDIATE serializes the two processes' migrations.
#[test]
fn two_concurrent_migrates_apply_each_file_once_on_sqlite() {
    let t = Target::new(None);
    two_migrations(&t);
    let mut a = t.migrate(&[]).cmd.spawn().expect("start etl");
    let mut b = t.migrate(&[]).cmd.spawn().expect("start etl");
    assert!(a.wait().expect("wait").success());
    assert!(b.wait().expect("wait").success());
    assert_eq!(t.rows("SELECT count(*) FROM hits"), ["1"]);
    assert_eq!(t.recorded(), ["1_hits", "2_hit"]);
}
