//! Exit codes of `etl migrate` for what the user must fix versus what failed.

use crate::support::Target;

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
