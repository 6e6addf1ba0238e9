//! SQL per dialect: `x.postgres.sql` (or `.sqlite.sql`) beside `x.sql` is chosen by the
//! connection's dialect, for migrations and for `run_file`.

use crate::support::each_target;

#[test]
fn a_migration_runs_its_dialects_variant_when_there_is_one() {
    each_target("dialect_migration", |t| {
        t.migration(
            "001_kind.sql",
            "CREATE TABLE kind (v TEXT);\nINSERT INTO kind VALUES ('portable');",
        );
        t.migration(
            "001_kind.postgres.sql",
            "CREATE TABLE kind (v text);\nINSERT INTO kind VALUES ('postgres');",
        );
        t.migrate(&[]).run();
        let (value, file) = if t.is_postgres() {
            ("postgres", "migrations/001_kind.postgres.sql")
        } else {
            ("portable", "migrations/001_kind.sql")
        };
        assert_eq!(t.rows("SELECT v FROM kind"), [value]);
        assert_eq!(t.rows(&format!("SELECT file FROM {}", t.table())), [file]);
    });
}

#[test]
fn run_file_picks_the_connections_dialect_and_names_another_dialects_file() {
    each_target("dialect_run_file", |t| {
        t.write(
            "projects/demo/sql/kind.sql",
            "CREATE TABLE kind AS SELECT 'portable' AS v;",
        );
        t.write(
            "projects/demo/sql/kind.postgres.sql",
            "CREATE TABLE kind AS SELECT 'postgres'::text AS v;",
        );
        t.task("dw.run_file(\"sql/kind.sql\");");
        t.exec(&[]).run();
        let value = if t.is_postgres() {
            "postgres"
        } else {
            "portable"
        };
        assert_eq!(t.rows("SELECT v FROM kind"), [value]);

        // Only another dialect's file: the error names it.
        let (other, missing) = if t.is_postgres() {
            ("sqlite", "postgres")
        } else {
            ("postgres", "sqlite")
        };
        t.write(&format!("projects/demo/sql/only.{other}.sql"), "SELECT 1;");
        t.task("dw.run_file(\"sql/only.sql\");");
        t.exec(&[])
            .status(1)
            .stderr_contains(&format!("only.{other}.sql"))
            .stderr_contains(&format!("only.{missing}.sql"))
            .run();
    });
}
