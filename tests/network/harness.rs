//! The sandbox of the network fault tests: the `net_faults` fixture project, one PostgreSQL
//! database (source tables and warehouse) and one MariaDB database, each reachable directly or
//! through a [`Proxy`]; runs of `etl exec` spawned so the test can disturb them mid-load.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::proxy::Proxy;
use crate::common::{copy_dir, MyTestDb, PgTestDb};

pub const BIN: &str = env!("CARGO_BIN_EXE_etl");

/// A hang guard for every wait, far above any timeout the tests configure.
pub const DEADLINE: Duration = Duration::from_secs(180);

/// Rows in each source table: enough for a transfer the proxy can slow into seconds.
pub const ROWS: u64 = 200_000;

pub struct Net {
    dir: tempfile::TempDir,
    pub pg: PgTestDb,
    pub my: MyTestDb,
}

/// Which URL each connection gets for one run.
pub struct Urls {
    pub warehouse: String,
    pub src: String,
    pub my: String,
}

impl Net {
    pub fn new(test: &str) -> Net {
        let pg = PgTestDb::new(test);
        pg.execute(&format!(
            "CREATE TABLE public.big (id bigint PRIMARY KEY, qty int, amount numeric(12,2), note text, updated_at timestamp);
             INSERT INTO public.big SELECT i, i % 100, i * 0.5, 'note ' || i, timestamp '2024-01-01' + i * interval '1 minute'
             FROM generate_series(1, {ROWS}) AS i;"
        ));
        let my = MyTestDb::new(test);
        my.execute(&format!(
            "CREATE TABLE big (id bigint PRIMARY KEY, qty int, amount decimal(12,2), note text, updated_at datetime);
             INSERT INTO big SELECT seq, seq % 100, seq * 0.5, CONCAT('note ', seq), '2024-01-01' + INTERVAL seq MINUTE
             FROM seq_1_to_{ROWS};"
        ));
        let dir = tempfile::Builder::new()
            .prefix("etl-net-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(dir.path().join("etl.toml"), "[env.dev.connections]\n").expect("etl.toml");
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/projects/net_faults");
        copy_dir(&root, &dir.path().join("projects/net_faults"));
        Net { dir, pg, my }
    }

    /// Replaces the sandbox's etl.toml.
    pub fn configure(&self, toml: &str) {
        std::fs::write(self.dir.path().join("etl.toml"), toml).expect("etl.toml");
    }

    /// Every connection straight to its server.
    pub fn direct(&self) -> Urls {
        Urls {
            warehouse: self.pg.url().to_string(),
            src: self.pg.url().to_string(),
            my: self.my.url().to_string(),
        }
    }

    /// A proxy in front of the PostgreSQL server.
    pub fn pg_proxy(&self) -> Proxy {
        Proxy::for_url(self.pg.url())
    }

    /// A proxy in front of the MariaDB server.
    pub fn my_proxy(&self) -> Proxy {
        Proxy::for_url(self.my.url())
    }

    /// `etl exec projects/net_faults/project.rhai --task TASK`, output into a file.
    pub fn spawn(&self, urls: &Urls, task: &str) -> Running {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let log = self
            .dir
            .path()
            .join(format!("run-{}.out", N.fetch_add(1, Ordering::Relaxed)));
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .args(["exec", "projects/net_faults/project.rhai", "--task", task])
            .stdin(Stdio::null());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("ETL_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("NO_COLOR", "1")
            .env("ETL_CONN_WAREHOUSE", &urls.warehouse)
            .env("ETL_CONN_SRC", &urls.src)
            .env("ETL_CONN_MY", &urls.my);
        // A file, not a pipe: a child nobody reads from never blocks on a full pipe.
        let out = File::create(&log).expect("output file");
        cmd.stdout(out.try_clone().expect("dup")).stderr(out);
        Running {
            child: Some(cmd.spawn().expect("start etl")),
            log,
            what: format!("etl exec --task {task}"),
        }
    }

    /// Runs to the end.
    pub fn exec(&self, urls: &Urls, task: &str) -> Ran {
        self.spawn(urls, task).wait()
    }
}

pub struct Running {
    child: Option<Child>,
    log: PathBuf,
    what: String,
}

#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub output: String,
}

impl Running {
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn ended(&mut self) -> bool {
        self.child
            .as_mut()
            .expect("child")
            .try_wait()
            .expect("poll etl")
            .is_some()
    }

    /// Ctrl-C: the run is cancelled.
    pub fn interrupt(&self) {
        let pid = self.child.as_ref().expect("child").id();
        let ok = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill -INT {pid}");
    }

    /// Polls until `ready` holds; panics if the run ends first or the hang guard passes.
    pub fn wait_for(&mut self, what: &str, mut ready: impl FnMut(&str) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let out = self.output();
            if ready(&out) {
                return;
            }
            assert!(
                !self.ended(),
                "{} ended before {what}:\n{}",
                self.what,
                self.output()
            );
            assert!(
                Instant::now() < deadline,
                "{what}: not within {DEADLINE:?}:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the end (a run that outlives the hang guard fails the test).
    pub fn wait(mut self) -> Ran {
        let deadline = Instant::now() + DEADLINE;
        let mut child = self.child.take().expect("child");
        let status = loop {
            if let Some(s) = child.try_wait().expect("poll etl") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} hung past {DEADLINE:?}:\n{}", self.what, self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Ran {
            code: status.code(),
            output: self.output(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
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
}

/// Polls `ready` until it holds; panics after the hang guard.
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sessions of the test database other than the test's own (an `etl` run's, or what is left
/// of one behind a stalled proxy).
pub fn pg_sessions(pg: &PgTestDb) -> i64 {
    pg.scalar(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
        pg.name()
    ))
    .expect("count")
    .parse()
    .expect("count")
}

/// Waits until no session but the test's own uses the test database (what a failed run left
/// behind a healed proxy ends); the hang guard's message lists the sessions left.
pub fn wait_sessions_end(pg: &PgTestDb) {
    let deadline = Instant::now() + DEADLINE;
    while pg_sessions(pg) > 0 {
        if Instant::now() > deadline {
            let left = pg.query(&format!(
                "SELECT concat_ws(' | ', pid, application_name, client_port, state, wait_event, \
                 now() - state_change, query) FROM pg_stat_activity \
                 WHERE datname = '{}' AND pid <> pg_backend_pid()",
                pg.name()
            ));
            panic!("sessions left after {DEADLINE:?}: {left:#?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether a `COPY ... FROM STDIN` into the warehouse is running.
pub fn copy_running(pg: &PgTestDb) -> bool {
    pg.scalar(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND state = 'active' \
         AND query ILIKE 'COPY%FROM STDIN%'",
        pg.name()
    ))
    .as_deref()
        != Some("0")
}

/// Count and sums of a table's columns: equal for equal contents, on either server.
pub fn summary_pg(pg: &PgTestDb, table: &str) -> String {
    pg.scalar(&format!(
        "SELECT count(*) || ':' || coalesce(sum(id), 0) || ':' || coalesce(sum(qty), 0) || ':' \
         || coalesce(sum(amount), 0) || ':' || coalesce(sum(length(note)), 0) FROM {table}"
    ))
    .expect("summary")
}

pub fn summary_my(my: &MyTestDb, table: &str) -> String {
    my.scalar(&format!(
        "SELECT CONCAT(count(*), ':', coalesce(sum(id), 0), ':', coalesce(sum(qty), 0), ':', \
         coalesce(sum(amount), 0), ':', coalesce(sum(length(note)), 0)) FROM {table}"
    ))
    .expect("summary")
}
