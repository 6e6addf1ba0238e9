//! `http_json` against a real HTTP server written in the test (`server.rs`), loaded by the
//! real `etl` binary into a throwaway PostgreSQL database or the SQLite warehouse. Each test
//! is an API with one behaviour (a pagination style, failures, auth) and checks what arrived.

#[path = "../common/mod.rs"]
mod common;
mod server;

mod auth;
mod failures;
mod incremental;
mod paging;
mod throughput;

use std::path::PathBuf;
use std::process::Command;

use common::PgTestDb;

pub use server::{Reply, Request, Server};

const BIN: &str = env!("CARGO_BIN_EXE_etl");

/// A folder with `etl.toml` (the SQLite warehouse unless a PostgreSQL URL is given) and one
/// project, `projects/api/project.rhai`.
pub struct Sandbox {
    dir: tempfile::TempDir,
    warehouse: Option<String>,
    env: Vec<(String, String)>,
}

pub struct Run {
    pub code: i32,
    pub output: String,
}

impl Sandbox {
    pub fn new(script: &str) -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("etl-http-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(
            dir.path().join("etl.toml"),
            "[env.dev.connections]\nwarehouse = \"sqlite://metadata/warehouse.db\"\n",
        )
        .expect("etl.toml");
        let s = Sandbox {
            dir,
            warehouse: None,
            env: Vec::new(),
        };
        s.script(script);
        s
    }

    /// Loads go to `db` instead of SQLite.
    pub fn on_postgres(script: &str, db: &PgTestDb) -> Sandbox {
        let mut s = Sandbox::new(script);
        s.warehouse = Some(db.url().to_string());
        s
    }

    pub fn env(mut self, name: &str, value: &str) -> Sandbox {
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn script(&self, text: &str) {
        let dir = self.dir.path().join("projects/api");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("project.rhai"), text).expect("script");
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `etl ARGS...`, stdout and stderr together.
    pub fn etl(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .env_remove("ETL_ENV")
            .env_remove("ETL_CONFIG")
            .args(args);
        if let Some(url) = &self.warehouse {
            cmd.env("ETL_CONN_WAREHOUSE", url);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("running etl");
        let mut output = String::from_utf8_lossy(&out.stderr).into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stdout));
        Run {
            code: out.status.code().unwrap_or(-1),
            output,
        }
    }

    pub fn exec(&self) -> Run {
        self.etl(&["exec", "projects/api/project.rhai"])
    }

    /// Rows of a query on the SQLite warehouse, every value as text.
    pub fn sqlite(&self, sql: &str) -> Vec<Vec<String>> {
        let db = rusqlite::Connection::open(self.path("metadata/warehouse.db")).expect("warehouse");
        let mut stmt = db.prepare(sql).expect("prepare");
        let n = stmt.column_count();
        stmt.query_map([], |row| {
            (0..n)
                .map(|i| {
                    Ok(match row.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => "NULL".to_string(),
                        rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                        rusqlite::types::ValueRef::Real(f) => f.to_string(),
                        rusqlite::types::ValueRef::Text(t) => {
                            String::from_utf8_lossy(t).into_owned()
                        }
                        rusqlite::types::ValueRef::Blob(b) => format!("{b:?}"),
                    })
                })
                .collect()
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
    }
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "etl failed:\n{}", self.output);
        self
    }

    pub fn failed(self) -> Run {
        assert_ne!(self.code, 0, "expected a failed run:\n{}", self.output);
        self
    }

    pub fn contains(self, text: &str) -> Run {
        assert!(
            self.output.contains(text),
            "expected {text:?} in:\n{}",
            self.output
        );
        self
    }

    pub fn lacks(self, text: &str) -> Run {
        assert!(
            !self.output.contains(text),
            "{text:?} must not appear in:\n{}",
            self.output
        );
        self
    }
}

/// Records `{id, name, amount}` with ids `from..=to`; amounts keep a trailing zero (n.50).
pub fn items(from: u64, to: u64) -> Vec<String> {
    (from..=to)
        .map(|i| format!(r#"{{"id": {i}, "name": "item {i}", "amount": {i}.50}}"#))
        .collect()
}

/// Up to `size` records of `all` from `start`, as a JSON array.
pub fn slice(all: &[String], start: usize, size: usize) -> String {
    let end = (start + size).min(all.len());
    format!("[{}]", all.get(start..end).unwrap_or_default().join(", "))
}
