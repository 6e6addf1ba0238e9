//! Exit codes of `etl migrate` for what the user must fix versus what failed.

use crate::support::{each_target, Target};

/// Bad file names exit 2 before any database is touched, naming the files.
#[test]
fn bad_migration_names_exit_2_naming_the_files() {
    let t = Target::new(None);
    t.migration("001_a.sql", "SELECT 1;");
    t.migration("001_b.sql", "SELECT 1;");
    t.migration("fix.sql", "SELECT 1;");
    t.migrate(&[])
        .status(2)
        .stderr_contains("001_a.sql")
        .stderr_contains("001_b.sql")
        .stderr_contains("fix.sql")
        .run();
    assert!(!t.path("metadata/warehouse.db").exists());
}

/// A project without a migrations folder touches no database.
#[test]
fn a_project_without_migrations_touches_no_database() {
    let t = Target::new(None);
    t.migrate(&[]).stdout_contains("has no migrations").run();
    assert!(!t.path("metadata/warehouse.db").exists());
    t.exec(&[]).run();
    assert!(!t.has_table("etl_migrations"));
}

/// A MySQL/MariaDB target is refused before anything runs: its DDL commits on its own.
#[test]
fn a_mysql_target_is_refused() {
    let my = crate::common::MyTestDb::new("migrate_mysql");
    let t = Target::new(None);
    t.write(
        "etl.toml",
        &format!("[env.dev.connections]\nwarehouse = \"{}\"\n", my.url()),
    );
    t.migration("001_items.sql", "CREATE TABLE items (id INTEGER);");
    t.migrate(&[])
        .status(2)
        .stderr_contains("MySQL/MariaDB")
        .stderr_contains("rolled back")
        .run();
    assert_eq!(
        my.scalar(&format!(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = '{}'",
            my.name()
        ))
        .as_deref(),
        Some("0")
    );
}

/// A record whose file is gone is a warning; the rest still applies.
#[test]
fn a_record_whose_file_is_gone_is_a_warning() {
    each_target("missing_file", |t| {
        t.migration("1_a.sql", "CREATE TABLE a (id INTEGER);");
        t.migrate(&[]).run();
        std::fs::remove_file(t.path("projects/demo/migrations/1_a.sql")).expect("rm");
        t.migration("2_b.sql", "CREATE TABLE b (id INTEGER);");
        t.migrate(&[])
            .stderr_contains("its file migrations/1_a.sql is gone")
            .stdout_contains("file missing")
            .run();
        assert!(t.has_table("b"));
    });
}

/// A wrong `migrations` option is a script error at `project(...)`.
#[test]
fn a_wrong_migrations_option_is_a_script_error() {
    let t = Target::new(None);
    t.project_options("migrations: #{ pending: \"sometimes\" }");
    t.etl(&["check", "projects/demo/project.rhai"])
        .status(2)
        .stderr_contains("pending must be \"apply\" or \"refuse\"")
        .run();
}

/// Each backfill window is a run: the first applies the migration, the others find it applied.
#[test]
fn backfill_windows_apply_pending_migrations_once() {
    each_target("backfill", |t| {
        t.migration("001_items.sql", "CREATE TABLE items (id INTEGER);");
        t.task("dw.execute(\"INSERT INTO items VALUES (1)\");");
        t.etl(&[
            "backfill",
            "projects/demo/project.rhai",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-03",
            "--days",
            "1",
        ])
        .run();
        assert_eq!(t.rows("SELECT count(*) FROM items"), ["2"]);
        assert_eq!(t.recorded(), ["001_items"]);
    });
}
