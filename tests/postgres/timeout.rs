//! A task's `timeout` on PostgreSQL: the statement the task waits for is cancelled on the
//! server (not merely abandoned), the task fails saying it timed out, the run goes on.

use std::time::{Duration, Instant};

use crate::common::{text, PgTestDb};
use crate::Sandbox;

/// Statements of this test's database still sleeping on the server, waited for until none is
/// left (the cancel request travels on its own connection) or a generous bound passes.
fn sleepers_left(db: &PgTestDb) -> Vec<String> {
    let sql = "SELECT query FROM pg_stat_activity WHERE datname = current_database() \
               AND pid <> pg_backend_pid() AND query LIKE '%pg_sleep(600)%'";
    let bound = Instant::now() + Duration::from_secs(60);
    loop {
        let left = text(db, sql);
        if left.is_empty() || Instant::now() > bound {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn audit(db: &PgTestDb) -> Vec<String> {
    text(
        db,
        "SELECT task || '|' || status || '|' || coalesce(error_message, '') FROM etl.etl_runs ORDER BY id",
    )
}

#[test]
fn a_timeout_cancels_the_statement_on_the_server() {
    let db = PgTestDb::new("pg_timeout_sleep");
    let s = Sandbox::new(&db, &["pg_timeout"]);
    s.exec("pg_timeout", &["--task", "sleep", "--task", "steady"])
        .failed()
        .contains("task 'sleep' timed out after 1s (its timeout option)");
    assert_eq!(sleepers_left(&db), Vec::<String>::new());
    assert_eq!(text(&db, "SELECT n FROM steady"), ["1"]);
    let records = audit(&db);
    assert_eq!(records.len(), 2, "{records:#?}");
    assert!(
        records
            .iter()
            .any(|r| r.starts_with("sleep|failed|") && r.contains("timed out after 1s")),
        "{records:#?}"
    );
    assert!(records.iter().any(|r| r.starts_with("steady|success|")));
}

/// A load whose source query has not sent a row yet: the load's wait for the next batch and the
/// source's query both end at the timeout (the query cancelled on the server), and the load's
/// record says failed although its task's cancellation token has fired.
#[test]
fn a_timeout_cancels_a_load_waiting_for_its_source() {
    let db = PgTestDb::new("pg_timeout_extract");
    let s = Sandbox::new(&db, &["pg_timeout"]);
    s.exec("pg_timeout", &["--task", "extract"])
        .failed()
        .contains("task 'extract' timed out after 1s (its timeout option)");
    assert_eq!(sleepers_left(&db), Vec::<String>::new());
    let records = audit(&db);
    assert!(
        records.iter().all(|r| !r.contains("|running|")) && !records.is_empty(),
        "{records:#?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r.starts_with("extract|failed|") && r.contains("timed out after 1s")),
        "{records:#?}"
    );
}
