//! `salesforce://` sources, tested against a protocol-faithful local server for API v61.0
//! (`org.rs`), not a real org. The real `etl` binary loads into a throwaway PostgreSQL
//! database or the SQLite warehouse; each test checks what arrived, the audit table, and
//! what the loader sent to the org.

#[path = "../common/mod.rs"]
mod common;
mod org;
mod server;

mod bulk;
mod catalog;
mod failures;
mod reads;
mod throughput;

use std::process::Command;

use common::PgTestDb;
pub use org::{account, ts, Org};

const BIN: &str = env!("CARGO_BIN_EXE_etl");

/// A folder with `etl.toml` (the SQLite warehouse unless PostgreSQL is given), the `sf`
/// connection pointing at the org, and `projects/crm/project.rhai`.
pub struct Sandbox {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

pub struct Run {
    pub code: i32,
    pub output: String,
}

impl Sandbox {
    pub fn new(org: &Org, script: &str) -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("etl-sf-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(
            dir.path().join("etl.toml"),
            "[env.dev.connections]\nwarehouse = \"sqlite://metadata/warehouse.db\"\n",
        )
        .expect("etl.toml");
        let s = Sandbox {
            dir,
            env: vec![
                ("ETL_CONN_SF".into(), org.url()),
                ("SF_CLIENT_ID".into(), org::CLIENT_ID.into()),
                ("SF_CLIENT_SECRET".into(), org::CLIENT_SECRET.into()),
            ],
        };
        s.script(script);
        s
    }

    pub fn on_postgres(org: &Org, script: &str, db: &PgTestDb) -> Sandbox {
        Sandbox::new(org, script).env("ETL_CONN_WAREHOUSE", db.url())
    }

    pub fn env(mut self, name: &str, value: &str) -> Sandbox {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn script(&self, text: &str) {
        let dir = self.dir.path().join("projects/crm");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("project.rhai"), text).expect("script");
    }

    pub fn etl(&self, args: &[&str]) -> Run {
        self.run(Command::new(BIN), args)
    }

    /// `etl ARGS...` under `/usr/bin/time`, which adds `PEAK_RSS_KB=` to the output.
    pub fn timed(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new("/usr/bin/time");
        cmd.args(["-f", "PEAK_RSS_KB=%M", BIN]);
        self.run(cmd, args)
    }

    fn run(&self, mut cmd: Command, args: &[&str]) -> Run {
        cmd.current_dir(self.dir.path())
            .env_remove("ETL_ENV")
            .env_remove("ETL_CONFIG")
            .args(args);
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
        self.etl(&["exec", "projects/crm/project.rhai"])
    }

    /// Rows of a query on the SQLite warehouse, every value as text.
    pub fn sqlite(&self, sql: &str) -> Vec<String> {
        let db = rusqlite::Connection::open(self.dir.path().join("metadata/warehouse.db"))
            .expect("warehouse");
        let mut stmt = db.prepare(sql).expect("prepare");
        let n = stmt.column_count();
        stmt.query_map([], |row| {
            let mut fields = Vec::new();
            for i in 0..n {
                fields.push(match row.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => "NULL".to_string(),
                    rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                    rusqlite::types::ValueRef::Real(f) => f.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    rusqlite::types::ValueRef::Blob(b) => format!("{b:?}"),
                });
            }
            Ok(fields.join("|"))
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

/// Accounts 1..=n, a second apart from 2024-03-01T10:00:00.250Z.
pub fn accounts(n: u32) -> Vec<org::Account> {
    let start = ts("2024-03-01T10:00:00.250Z");
    (1..=n)
        .map(|i| {
            let at = start + chrono::Duration::seconds(i64::from(i));
            account(i, &at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        })
        .collect()
}

/// A project loading `from` into `into` (key Id, cursor SystemModstamp unless `extra` says).
pub fn project(from: &str, into: &str, extra: &str) -> String {
    format!(
        r#"project("crm", #{{ target: "warehouse" }});
let sf = connect("sf");
let dw = connect("warehouse");
task("accounts", |run| {{
    dw.load(#{{ from: {from}, into: "{into}", key: ["Id"]{extra} }})
}});
"#
    )
}
