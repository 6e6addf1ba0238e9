// Shared helpers for integration tests. Each test binary (`mod common;`) uses only a
// subset, so unused items are expected.
#![allow(dead_code, unused_imports)]

pub mod db;
pub mod proxy;
pub mod sandbox;
pub mod venv;

pub use db::{MyTestDb, PgTestDb};

use std::path::Path;

/// Copies a fixture folder (a project with its data/ and sql/) into a test's sandbox.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Rows of a query as `a|b|NULL` lines.
pub fn text(db: &PgTestDb, sql: &str) -> Vec<String> {
    db.query(sql)
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// Each row of a table as PostgreSQL prints the whole record (every column's own text form,
/// NULL and "" told apart).
pub fn records(db: &PgTestDb, table: &str) -> Vec<String> {
    text(db, &format!("SELECT x::text FROM {table} x ORDER BY id"))
}

/// `name type` of each column of a table, as PostgreSQL declares it.
pub fn column_types(db: &PgTestDb, table: &str) -> Vec<String> {
    text(
        db,
        &format!(
            "SELECT attname || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        ),
    )
}
