//! A folder to run the real `etl` binary in against a local stand-in for a remote source
//! (fakesnow, bqemulator, the MS-TDS test server): `etl.toml` with the SQLite warehouse by
//! default, the source's URL in its `ETL_CONN_<NAME>` variable, projects written by the test.

use std::process::{Child, Command, ExitStatus};
use std::time::Duration;

use super::PgTestDb;

const BIN: &str = env!("CARGO_BIN_EXE_etl");

/// What a run printed (stderr, then stdout) and its exit code.
pub struct Run {
    pub code: i32,
    pub output: String,
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
}

pub fn assert_contains(output: &str, text: &str) {
    assert!(output.contains(text), "expected {text:?} in:\n{output}");
}

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    /// Variables every run gets (the connections' URLs).
    pub env: Vec<(String, String)>,
}

impl Sandbox {
    /// A sandbox whose connection `conn_var` (`ETL_CONN_SF`, ...) is `url`.
    pub fn new(prefix: &str, conn_var: &str, url: &str) -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("temp dir");
        std::fs::write(
            dir.path().join("etl.toml"),
            "[env.dev.connections]\nwarehouse = \"sqlite://metadata/warehouse.db\"\n",
        )
        .expect("etl.toml");
        Sandbox {
            dir,
            env: vec![(conn_var.into(), url.into())],
        }
    }

    /// The warehouse on a throwaway PostgreSQL database instead of SQLite.
    pub fn on_postgres(mut self, db: &PgTestDb) -> Sandbox {
        self.env
            .push(("ETL_CONN_WAREHOUSE".into(), db.url().to_string()));
        self
    }

    pub fn project(&self, name: &str, script: &str) {
        let dir = self.dir.path().join("projects").join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("project.rhai"), script).expect("script");
    }

    pub fn exec(&self, project: &str, env: &[(&str, &str)]) -> Run {
        self.exec_with(project, &[], env)
    }

    /// `etl ARGS` in the sandbox with its variables. Settings of the developer's own
    /// environment (ETL_ENV, ETL_CONFIG, GOOGLE_APPLICATION_CREDENTIALS) are not passed on.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .env_remove("ETL_ENV")
            .env_remove("ETL_CONFIG")
            .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
            .args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// `etl exec` with `args`, or `etl plan` when the first of them is "plan".
    pub fn exec_with(&self, project: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let command = if args.first() == Some(&"plan") {
            "plan"
        } else {
            "exec"
        };
        let script = format!("projects/{project}/project.rhai");
        let mut cmd = self.command(&[command, &script]);
        cmd.args(args.iter().filter(|a| **a != "plan"));
        for (k, v) in env {
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

    /// Rows of a query on the SQLite warehouse as `a|b|NULL` lines.
    pub fn sqlite(&self, sql: &str) -> Vec<String> {
        let db = rusqlite::Connection::open(self.dir.path().join("metadata/warehouse.db"))
            .expect("warehouse");
        let mut stmt = db.prepare(sql).expect("prepare");
        let n = stmt.column_count();
        stmt.query_map([], |row| {
            Ok((0..n)
                .map(|i| match row.get_ref(i).expect("value") {
                    rusqlite::types::ValueRef::Null => "NULL".to_string(),
                    rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                    rusqlite::types::ValueRef::Real(f) => f.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    rusqlite::types::ValueRef::Blob(b) => format!("{b:?}"),
                })
                .collect::<Vec<_>>()
                .join("|"))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
    }
}

/// The peak resident memory of a child, sampled from /proc until it exits (VmHWM only grows,
/// so the last sample is the peak up to a few milliseconds before the end).
pub fn peak_rss_kib(child: &mut Child) -> (ExitStatus, u64) {
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_file) {
            if let Some(kb) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
        }
        if let Some(status) = child.try_wait().expect("wait") {
            return (status, peak);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
