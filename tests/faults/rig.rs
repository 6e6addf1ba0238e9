//! A sandbox folder holding an `etl.toml` and project folders, and the `etl` binary run in it:
//! to the end, or spawned to be killed. Nothing waits a fixed time for something to happen:
//! [`wait_until`] polls with a deadline (a hang guard, never a timing assertion).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_etl");

/// How long any wait may take before the test gives up.
pub const DEADLINE: Duration = Duration::from_secs(120);

pub struct Sandbox {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

/// A finished run: exit code (None when a signal ended it) and everything it printed.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub output: String,
}

impl Sandbox {
    /// An empty sandbox; `etl.toml` names no connection (the environment supplies them).
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("etl-faults-")
            .tempdir()
            .expect("temp dir");
        let s = Sandbox {
            dir,
            env: Vec::new(),
        };
        s.write("etl.toml", "[env.dev.connections]\n");
        s
    }

    /// Copies `tests/projects/NAME` into `projects/NAME`.
    pub fn with_fixture(self, name: &str) -> Sandbox {
        let from = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/projects")
            .join(name);
        crate::common::copy_dir(&from, &self.path(&format!("projects/{name}")));
        self
    }

    /// `ETL_CONN_<NAME>` for every run.
    pub fn connection(mut self, name: &str, url: &str) -> Sandbox {
        self.env
            .push((format!("ETL_CONN_{}", name.to_uppercase()), url.to_string()));
        self
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, content).unwrap_or_else(|e| panic!("writing {}: {e}", p.display()));
    }

    /// `etl ARGS...` in the sandbox, output (stdout then stderr, interleaved as written) in
    /// a file: a child nobody reads from never blocks on a full pipe.
    fn command(&self, args: &[&str], log: &Path) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
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
        let out = File::create(log).expect("output file");
        cmd.stdout(out.try_clone().expect("dup output file"))
            .stderr(out);
        cmd
    }

    fn output_file(&self) -> PathBuf {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        self.path(&format!("run-{}.out", N.fetch_add(1, Ordering::Relaxed)))
    }

    /// Runs `etl ARGS...` to the end.
    pub fn etl(&self, args: &[&str]) -> Ran {
        self.spawn(args).wait()
    }

    /// `etl exec projects/PROJECT/project.rhai ARGS...` to the end.
    pub fn exec(&self, project: &str, args: &[&str]) -> Ran {
        let script = format!("projects/{project}/project.rhai");
        let mut all = vec!["exec", script.as_str()];
        all.extend_from_slice(args);
        self.etl(&all)
    }

    /// Starts `etl ARGS...`; killed with SIGKILL if dropped while still running.
    pub fn spawn(&self, args: &[&str]) -> Running {
        let log = self.output_file();
        let child = self.command(args, &log).spawn().expect("start etl");
        Running {
            child: Some(child),
            log,
            what: format!("etl {}", args.join(" ")),
            started: Instant::now(),
        }
    }
}

pub struct Running {
    child: Option<Child>,
    log: PathBuf,
    what: String,
    pub started: Instant,
}

impl Running {
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .expect("child")
            .try_wait()
            .expect("poll etl")
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics with the run's output when it has ended: a kill point must find it alive.
    pub fn assert_alive(&mut self, waiting_for: &str) {
        if let Some(status) = self.try_wait() {
            panic!(
                "{} ended ({status}) while the test waited for {waiting_for}:\n{}",
                self.what,
                self.output()
            );
        }
    }

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
            std::thread::sleep(Duration::from_millis(10));
        };
        self.child = None;
        Ran {
            code: status.code(),
            output: self.output(),
        }
    }

    /// SIGKILL, then reap.
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
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Ran {
    /// Asserts the exit code, showing the output when it differs.
    pub fn code(self, code: i32) -> Ran {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit code {code}:\n{}",
            self.output
        );
        self
    }

    pub fn ok(self) -> Ran {
        self.code(0)
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

/// Polls `ready` until true; panics naming `what` after [`DEADLINE`].
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}
