//! The shipped demo: its migration creates the summary table, then the run fills it, on the
//! embedded SQLite warehouse and (`--env prod`) on PostgreSQL.

use std::path::Path;

use crate::common::copy_dir;
use crate::support::each_target;

#[test]
fn the_demo_runs_on_sqlite_and_on_postgres_with_its_migration() {
    each_target("demo", |t| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        copy_dir(&repo.join("projects/demo"), &t.path("projects/demo"));
        copy_dir(&repo.join("stdlib"), &t.path("stdlib"));
        let mut run = t.exec(&[]);
        if t.is_postgres() {
            // The shipped etl.toml's prod environment, its warehouse given as operators do.
            std::fs::copy(repo.join("etl.toml"), t.path("etl.toml")).expect("etl.toml");
            let crate::support::Db::Postgres(pg) = &t.db else {
                unreachable!()
            };
            run = t.exec(&["--env", "prod"]);
            run.cmd.env("ETL_CONN_WAREHOUSE", pg.url());
        }
        run.stderr_contains("Applied migration 001_sales_by_country")
            .stderr_contains("Run succeeded")
            .run();
        assert_eq!(t.rows("SELECT sum(orders) FROM sales_by_country"), ["3000"]);
        let file = if t.is_postgres() {
            "migrations/001_sales_by_country.postgres.sql"
        } else {
            "migrations/001_sales_by_country.sql"
        };
        assert_eq!(t.rows(&format!("SELECT file FROM {}", t.table())), [file]);
        // Revenue is exact on both: the sum of the loaded amounts.
        assert_eq!(
            t.rows("SELECT sum(revenue) = (SELECT sum(amount) FROM orders) FROM sales_by_country"),
            [if t.is_postgres() { "t" } else { "1" }]
        );
    });
}
