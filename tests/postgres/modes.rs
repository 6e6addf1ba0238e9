//! Run modes that cannot write, on PostgreSQL. The fixture `pg_run_modes` makes every kind of
//! write a script can: a load, `execute`, `run_file`, custom audit records and an UPDATE hidden
//! in `query`. A normal run makes them all; a dry run and `etl plan` make none (statements and
//! audit records are logged or shown, the hidden UPDATE is refused by the server). Sample runs
//! (`etl watch --limit`) are in tests/dev/watch.rs.

use crate::common::{text, PgTestDb};
use crate::Sandbox;

const SOURCE: &str = "CREATE SCHEMA src; \
    CREATE TABLE src.items (id int PRIMARY KEY, name text, updated_at timestamp); \
    INSERT INTO src.items VALUES (1, 'a', '2024-01-01'), (2, 'b', '2024-01-02'), (3, 'c', '2024-01-03');";

fn prepared(test: &str) -> (PgTestDb, Sandbox) {
    let db = PgTestDb::new(test);
    db.execute(SOURCE);
    let s = Sandbox::new(&db, &["pg_run_modes"]);
    (db, s)
}

/// Tables outside the source schema, as `schema.table`.
fn tables(db: &PgTestDb) -> Vec<String> {
    text(
        db,
        "SELECT table_schema || '.' || table_name FROM information_schema.tables \
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'src') ORDER BY 1",
    )
}

fn names(db: &PgTestDb) -> Vec<String> {
    text(db, "SELECT name FROM src.items ORDER BY id")
}

fn assert_nothing_written(db: &PgTestDb) {
    assert_eq!(names(db), ["a", "b", "c"], "a source row was changed");
    assert!(
        tables(db).is_empty(),
        "tables were created: {:?}",
        tables(db)
    );
}

#[test]
fn a_normal_run_makes_every_write_of_the_fixture() {
    let (db, s) = prepared("modes_normal");
    s.exec("pg_run_modes", &[]).ok();
    assert_eq!(
        names(&db),
        [
            "changed by execute",
            "changed by run_file",
            "changed by query"
        ]
    );
    assert_eq!(
        tables(&db),
        ["app.items", "app.made_by_run_file", "etl.etl_runs"]
    );
    assert_eq!(
        text(
            &db,
            "SELECT data_max_date FROM etl.etl_runs WHERE task = 'audit' AND target_table = 'app.items'"
        ),
        ["2099-01-01"]
    );
}

#[test]
fn a_dry_run_writes_nothing_and_says_what_it_would_do() {
    let (db, s) = prepared("modes_dry");
    let run = s.exec("pg_run_modes", &["--dry-run"]).failed();
    run.contains("Dry run: would load table src.items on connection 'warehouse' into app.items")
        .contains("Dry run: would execute UPDATE src.items SET name = 'changed by execute'")
        .contains("Dry run: would run sql/touch.sql")
        .contains("Dry run: would insert an etl_runs record")
        // The UPDATE inside query() reaches the server, which refuses it.
        .contains("query_write")
        .contains("cannot execute UPDATE in a read-only transaction")
        .contains("(a dry run runs queries read-only; a query that writes belongs in execute() or run_file()")
        .contains("SQLSTATE 25006");
    assert_nothing_written(&db);
}

#[test]
fn plan_shows_each_write_and_runs_none() {
    let (db, s) = prepared("modes_plan");
    let run = s.etl(&["plan", "projects/pg_run_modes/project.rhai"]);
    assert_eq!(
        run.code, 1,
        "the refused query fails its task:\n{}",
        run.stderr
    );
    run.contains("load table src.items on connection 'warehouse' -> warehouse.app.items (full, key id, cursor updated_at)")
        // The statement the PostgreSQL source itself runs for a full read.
        .contains("COPY \"src\".\"items\" TO STDOUT (FORMAT binary)")
        .contains("(planner estimate)")
        .contains("CREATE TABLE \"app\".\"items\"")
        .contains("sql on warehouse: execute: UPDATE src.items SET name = 'changed by execute' WHERE id = 1")
        .contains("sql on warehouse: run_file: sql/touch.sql (2 statements, not parsed further)")
        .contains("sql on warehouse: insert an etl_runs record")
        .contains("sql on warehouse: update etl_runs record 0")
        .contains("cannot execute UPDATE in a read-only transaction");
    assert_nothing_written(&db);

    // With a watermark in the audit table, an incremental plan binds it in the source query
    // and still writes nothing.
    s.exec("pg_run_modes", &["--task", "load"]).ok();
    let before = text(&db, "SELECT count(*) FROM etl.etl_runs");
    let run = s.etl(&[
        "plan",
        "projects/pg_run_modes/project.rhai",
        "--load-type",
        "I",
        "--task",
        "load",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.contains(
        "SELECT * FROM \"src\".\"items\" WHERE (\"updated_at\" >= '2024-01-03 00:00:00' OR \"updated_at\" IS NULL)",
    )
    .contains("window: updated_at >= '2024-01-03 00:00:00' (watermark from etl_runs)");
    assert_eq!(text(&db, "SELECT count(*) FROM etl.etl_runs"), before);
}
