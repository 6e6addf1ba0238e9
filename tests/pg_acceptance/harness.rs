//! A sandbox folder with copies of fixture projects, a builder-free runner for the `etl` binary
//! (waited for, or spawned to be disturbed mid-load), and readers for the warehouse: records,
//! checksums, the audit table and the server's view of the load (`pg_stat_activity`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::common::{copy_dir, PgTestDb};

pub const BIN: &str = env!("CARGO_BIN_EXE_etl");

/// How long any wait may take before the test gives up (a hang guard, not a timing assertion).
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A temporary working directory with an `etl.toml` (no connections: the environment supplies
/// them) and copies of fixture projects.
pub struct Sandbox {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

/// What a finished run left: exit code (None when killed by a signal) and its output.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub output: String,
}

impl Sandbox {
    /// `warehouse` becomes ETL_CONN_WAREHOUSE, `src` ETL_CONN_SRC.
    pub fn new(projects: &[&str], warehouse: &PgTestDb, src: &PgTestDb) -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("etl-pga-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(dir.path().join("etl.toml"), "[env.dev.connections]\n").expect("etl.toml");
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/projects");
        for p in projects {
            copy_dir(&root.join(p), &dir.path().join("projects").join(p));
        }
        Sandbox {
            dir,
            env: vec![
                ("ETL_CONN_WAREHOUSE".into(), warehouse.url().into()),
                ("ETL_CONN_SRC".into(), src.url().into()),
            ],
        }
    }

    /// Replaces the sandbox's `etl.toml`.
    pub fn configure(&self, toml: &str) {
        std::fs::write(self.dir.path().join("etl.toml"), toml).expect("etl.toml");
    }

    /// `etl exec projects/PROJECT/project.rhai ARGS...`, output (stdout and stderr) into `log`.
    fn command(&self, project: &str, args: &[&str], log: &Path) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .arg("exec")
            .arg(format!("projects/{project}/project.rhai"))
            .args(args)
            .stdin(Stdio::null());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("ETL_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("NO_COLOR", "1");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        // A file, not a pipe: a child nobody reads from can never block on a full pipe.
        let out = File::create(log).expect("output file");
        cmd.stdout(out.try_clone().expect("dup output file"))
            .stderr(out);
        cmd
    }

    fn output_file(&self) -> PathBuf {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        self.dir
            .path()
            .join(format!("run-{}.out", N.fetch_add(1, Ordering::Relaxed)))
    }

    /// Runs to the end.
    pub fn exec(&self, project: &str, args: &[&str]) -> Ran {
        self.spawn(project, args).wait()
    }

    /// Starts a run to disturb while it loads; killed (SIGKILL) if the test drops it unfinished.
    pub fn spawn(&self, project: &str, args: &[&str]) -> Running {
        let log = self.output_file();
        let child = self
            .command(project, args, &log)
            .spawn()
            .expect("start etl");
        Running {
            child: Some(child),
            log,
            what: format!("etl exec {project} {}", args.join(" ")),
        }
    }
}

/// A spawned `etl` process.
pub struct Running {
    child: Option<Child>,
    log: PathBuf,
    what: String,
}

impl Running {
    /// The exit status once it ended, without waiting.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .expect("child")
            .try_wait()
            .expect("poll etl")
    }

    /// Output so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to a generous bound) for the end of the run.
    pub fn wait(mut self) -> Ran {
        let deadline = Instant::now() + Duration::from_secs(300);
        let status = loop {
            if let Some(status) = self.try_wait() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not end:\n{}",
                self.what,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        self.child = None;
        Ran {
            code: status.code(),
            output: self.output(),
        }
    }

    /// SIGKILL, then reap it.
    pub fn kill(mut self) -> Ran {
        let mut child = self.child.take().expect("child");
        child.kill().expect("SIGKILL etl");
        let status = child.wait().expect("reap etl");
        Ran {
            code: status.code(),
            output: self.output(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A failed assertion must not leave a loader running against a database being dropped.
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Ran {
    pub fn ok(self) -> Ran {
        assert_eq!(self.code, Some(0), "etl failed:\n{}", self.output);
        self
    }

    /// Exit code 1: a task failed.
    pub fn failed(self) -> Ran {
        assert_eq!(
            self.code,
            Some(1),
            "expected a failed run:\n{}",
            self.output
        );
        self
    }

    pub fn contains(&self, text: &str) -> &Ran {
        assert!(
            self.output.contains(text),
            "expected {text:?} in:\n{}",
            self.output
        );
        self
    }

    /// `figures TASK: rows=R inserted=I updated=U` as logged by the fixture projects.
    pub fn figures(&self, task: &str) -> (u64, u64, u64) {
        let marker = format!("figures {task}: ");
        let line = self
            .output
            .lines()
            .find_map(|l| l.split_once(marker.as_str()).map(|(_, rest)| rest))
            .unwrap_or_else(|| panic!("no {marker:?} line in:\n{}", self.output));
        let field = |name: &str| -> u64 {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
        };
        (field("rows"), field("inserted"), field("updated"))
    }
}

/// Polls `ready` until it is true; panics with `what` after [`DEADLINE`].
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until the run's COPY into the warehouse is under way on the server, and returns the
/// backend's pid. Panics if the run ends first (the load was too quick to catch).
pub fn wait_for_copy(dw: &PgTestDb, run: &mut Running) -> i64 {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(pid) = copy_backend(dw) {
            return pid;
        }
        if let Some(status) = run.try_wait() {
            panic!(
                "etl ended ({status}) before its COPY was seen:\n{}",
                run.output()
            );
        }
        assert!(
            Instant::now() < deadline,
            "no COPY into the warehouse within {DEADLINE:?}:\n{}",
            run.output()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The backend of an active `COPY ... FROM STDIN` in the warehouse database, if any.
pub fn copy_backend(dw: &PgTestDb) -> Option<i64> {
    dw.query(&format!(
        "SELECT pid FROM pg_stat_activity WHERE datname = '{}' AND state = 'active' \
         AND query ILIKE 'COPY%FROM STDIN%' AND pid <> pg_backend_pid()",
        dw.name()
    ))
    .into_iter()
    .next()
    .map(|r| r[0].as_deref().expect("pid").parse().expect("pid"))
}

/// Rows of a query, each as `a|b|c` (NULL as `NULL`).
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

pub fn count(db: &PgTestDb, table: &str) -> i64 {
    db.scalar(&format!("SELECT count(*) FROM {table}"))
        .expect("count")
        .parse()
        .expect("count")
}

/// Row count and an md5 over every record's text in key order: equal fingerprints mean equal
/// contents.
pub fn fingerprint(db: &PgTestDb, table: &str) -> String {
    text(
        db,
        &format!(
            "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t.id)), '-') FROM {table} t"
        ),
    )
    .remove(0)
}

/// Rows in `a` missing from `b` plus rows in `b` missing from `a` (multiset difference, so a
/// duplicate counts as a difference too).
pub fn differences(db: &PgTestDb, a: &str, b: &str) -> i64 {
    db.scalar(&format!(
        "SELECT (SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}) x) \
              + (SELECT count(*) FROM (SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a}) y)"
    ))
    .expect("difference count")
    .parse()
    .expect("difference count")
}

/// Leftovers of a load: a `__etl_new` table being built, or a stage.
pub fn leftover_tables(db: &PgTestDb) -> Vec<String> {
    text(
        db,
        "SELECT schemaname || '.' || tablename FROM pg_tables \
         WHERE tablename LIKE '%etl_new%' OR tablename LIKE '%etl_stage%' ORDER BY 1",
    )
}

/// A record of `etl.etl_runs`.
#[derive(Clone, Debug)]
pub struct Audit {
    pub run_id: String,
    pub status: String,
    pub load_type: String,
    pub previous_max_date: Option<String>,
    pub data_max_date: Option<String>,
    pub number_of_records: Option<i64>,
    pub error_message: Option<String>,
    pub ended: bool,
}

/// The audit records of loads into `table`, oldest first.
pub fn audit(dw: &PgTestDb, table: &str) -> Vec<Audit> {
    dw.query(&format!(
        "SELECT run_id, status, load_type, previous_max_date, data_max_date, number_of_records, \
         error_message, end_script_execution_time IS NOT NULL \
         FROM etl.etl_runs WHERE target_table = '{table}' ORDER BY id"
    ))
    .into_iter()
    .map(|r| {
        let mut r = r.into_iter();
        let mut next = || r.next().expect("column");
        Audit {
            run_id: next().expect("run_id"),
            status: next().expect("status"),
            load_type: next().expect("load_type"),
            previous_max_date: next(),
            data_max_date: next(),
            number_of_records: next().map(|n| n.parse().expect("number_of_records")),
            error_message: next(),
            ended: next().as_deref() == Some("t"),
        }
    })
    .collect()
}

pub fn statuses(records: &[Audit]) -> Vec<&str> {
    records.iter().map(|r| r.status.as_str()).collect()
}

/// The incremental watermark as the loader computes it: the greatest `data_max_date` of the
/// successful records of this project and table.
pub fn watermark(dw: &PgTestDb, project: &str, table: &str) -> Option<String> {
    dw.scalar(&format!(
        "SELECT max(data_max_date) FROM etl.etl_runs \
         WHERE project = '{project}' AND target_table = '{table}' AND status = 'success'"
    ))
}
