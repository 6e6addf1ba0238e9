//! Tracked SQL migrations through the real binary (`etl migrate`, `etl exec`, `etl plan`),
//! each scenario on the embedded SQLite warehouse and on a throwaway PostgreSQL database,
//! asserting on the database itself: the migrated tables and the `etl_migrations` records.

#[path = "../common/mod.rs"]
mod common;
mod concurrent;
mod demo;
mod dialects;
mod runs;
mod support;

use support::{each_target, sha256};

/// 9_ runs before 10_ (10_ inserts into 9_'s table), each once, with its record.
#[test]
fn migrations_apply_once_in_numeric_order_with_their_records() {
    each_target("order", |t| {
        t.migration(
            "9_create_items.sql",
            "CREATE TABLE items (id INTEGER, name TEXT);",
        );
        t.migration(
            "10_seed_items.sql",
            "INSERT INTO items VALUES (1, 'first');",
        );
        t.migrate(&[]).stdout_contains("0 pending").run();
        assert_eq!(t.rows("SELECT id, name FROM items"), ["1|first"]);
        let records = t.rows(&format!(
            "SELECT project, name, file, checksum, \
             CASE WHEN duration_ms >= 0 AND run_id <> '' THEN 'ok' ELSE 'bad' END \
             FROM {} ORDER BY name",
            t.table()
        ));
        assert_eq!(
            records,
            [
                format!(
                    "demo|10_seed_items|migrations/10_seed_items.sql|{}|ok",
                    sha256("INSERT INTO items VALUES (1, 'first');")
                ),
                format!(
                    "demo|9_create_items|migrations/9_create_items.sql|{}|ok",
                    sha256("CREATE TABLE items (id INTEGER, name TEXT);")
                ),
            ]
        );
        // A second run applies nothing: still one row.
        t.migrate(&[]).stdout_contains("0 pending").run();
        assert_eq!(t.rows("SELECT count(*) FROM items"), ["1"]);
    });
}

/// An applied file that changed stops `etl migrate` (exit 2) and `etl exec` (exit 1, its
/// tasks skipped), naming the file and both checksums.
#[test]
fn a_changed_applied_migration_is_refused_naming_both_checksums() {
    each_target("changed", |t| {
        let old = "CREATE TABLE items (id INTEGER);";
        t.migration("001_items.sql", old);
        t.migrate(&[]).run();
        let new = "CREATE TABLE items (id INTEGER, extra TEXT);";
        t.migration("001_items.sql", new);
        t.migrate(&[])
            .status(2)
            .stderr_contains("migrations/001_items.sql")
            .stderr_contains(&sha256(old))
            .stderr_contains(&sha256(new))
            .stderr_contains("new migration")
            .run();
        t.task("dw.execute(\"CREATE TABLE task_ran (x INTEGER)\");");
        t.exec(&[])
            .status(1)
            .stderr_contains("changed after it was applied")
            .stderr_contains("skipped")
            .run();
        assert!(!t.has_table("task_ran"), "the task must not run");
    });
}

/// A failing migration leaves nothing (its table, its record) and later ones do not run; once
/// fixed, it and the later ones apply.
#[test]
fn a_failing_migration_is_rolled_back_and_stops_the_later_ones() {
    each_target("failing", |t| {
        t.migration("1_ok.sql", "CREATE TABLE ok_table (id INTEGER);");
        t.migration(
            "2_bad.sql",
            "CREATE TABLE half_done (id INTEGER);\nINSERT INTO no_such_table VALUES (1);",
        );
        t.migration("3_later.sql", "CREATE TABLE later (id INTEGER);");
        t.migrate(&[])
            .status(1)
            .stderr_contains("migrations/2_bad.sql")
            .stderr_contains("rolled back")
            .run();
        assert!(t.has_table("ok_table"));
        assert!(!t.has_table("half_done"), "2_bad must be rolled back");
        assert!(!t.has_table("later"), "3_later must not run");
        assert_eq!(t.recorded(), ["1_ok"]);
        t.migration("2_bad.sql", "CREATE TABLE half_done (id INTEGER);");
        t.migrate(&[]).stdout_contains("0 pending").run();
        assert_eq!(t.recorded(), ["1_ok", "2_bad", "3_later"]);
        assert!(t.has_table("half_done") && t.has_table("later"));
    });
}

/// --dry-run applies nothing; --to NNN applies up to NNN; a pending migration numbered below
/// an applied one is refused with a new number suggested.
#[test]
fn dry_run_lists_and_to_stops_at_a_number() {
    each_target("dry_to", |t| {
        t.migration("1_a.sql", "CREATE TABLE a (id INTEGER);");
        t.migration("2_b.sql", "CREATE TABLE b (id INTEGER);");
        t.migrate(&["--dry-run"])
            .stdout_contains("2 pending")
            .stdout_contains("migrations/2_b.sql")
            .run();
        assert!(!t.has_table("a"));
        t.migrate(&["--to", "1"]).stdout_contains("1 pending").run();
        assert!(t.has_table("a") && !t.has_table("b"));
        assert_eq!(t.recorded(), ["1_a"]);
        t.migrate(&[]).run();
        t.migration("0_early.sql", "CREATE TABLE early (id INTEGER);");
        t.migrate(&[])
            .status(2)
            .stderr_contains("0_early")
            .stderr_contains("give it a number above 2 (e.g. 3_early.sql)")
            .run();
    });
}

/// `etl exec` applies pending migrations before its first task, recorded with the run's id.
#[test]
fn exec_applies_pending_migrations_first_with_the_runs_id() {
    each_target("exec_first", |t| {
        t.migration("001_items.sql", "CREATE TABLE items (id INTEGER);");
        t.task("dw.execute(\"INSERT INTO items VALUES (7)\");");
        let ran = t
            .exec(&[])
            .stderr_contains("Applied migration 001_items")
            .run();
        assert_eq!(t.rows("SELECT id FROM items"), ["7"]);
        let run_id = support::run_id(&ran.stderr);
        assert_eq!(
            t.rows(&format!("SELECT run_id FROM {}", t.table())),
            [run_id.as_str()]
        );
    });
}

/// `etl plan` and `etl exec --dry-run` list pending migrations and apply none.
#[test]
fn plan_and_dry_run_list_pending_migrations() {
    each_target("plan", |t| {
        t.migration("001_items.sql", "CREATE TABLE items (id INTEGER);");
        t.task("dw.execute(\"INSERT INTO items VALUES (7)\");");
        t.etl(&["plan", "projects/demo/project.rhai"])
            .stdout_contains("1 pending")
            .stdout_contains("migrations/001_items.sql")
            .run();
        t.exec(&["--dry-run"])
            .stderr_contains(
                "Pending migrations (not applied by this run): migrations/001_items.sql",
            )
            .run();
        assert!(!t.has_table("items"));
    });
}

/// `migrations: #{ pending: "refuse" }`: a run fails while any is pending; `etl migrate`
/// applies them, then runs work.
#[test]
fn the_refuse_option_fails_runs_until_migrations_are_applied() {
    each_target("refuse", |t| {
        t.project_options("migrations: #{ pending: \"refuse\" }");
        t.migration("001_items.sql", "CREATE TABLE items (id INTEGER);");
        t.task("dw.execute(\"INSERT INTO items VALUES (7)\");");
        t.exec(&[])
            .status(1)
            .stderr_contains("pending migrations")
            .stderr_contains("etl migrate")
            .run();
        assert!(!t.has_table("items"));
        t.migrate(&[]).run();
        t.exec(&[]).run();
        assert_eq!(t.rows("SELECT id FROM items"), ["7"]);
    });
}

/// A shared set under $ETL_STDLIB/migrations/NAME applies once per database, recorded under
/// `etl/NAME`, whichever project includes it first.
#[test]
fn shared_sets_apply_once_per_database() {
    each_target("shared", |t| {
        t.shared(
            "calendar",
            "001_calendar.sql",
            "CREATE TABLE calendar (day TEXT);\nINSERT INTO calendar VALUES ('2026-01-01');",
        );
        t.project_options("migrations: #{ include: [\"etl/calendar\"] }");
        t.migration("001_items.sql", "CREATE TABLE items (id INTEGER);");
        t.exec(&[]).run();
        t.second_project("other", "migrations: #{ include: [\"etl/calendar\"] }");
        t.etl(&["exec", "projects/other/project.rhai"]).run();
        assert_eq!(t.rows("SELECT count(*) FROM calendar"), ["1"]);
        assert_eq!(
            t.rows(&format!(
                "SELECT project, name FROM {} ORDER BY project, name",
                t.table()
            )),
            ["demo|001_items", "etl/calendar|001_calendar"]
        );
    });
}
