//! `etl schedule`: projects run on their schedule, edits are picked up without a restart, a
//! broken edit keeps the last good version, new project folders are found, runs never overlap,
//! SIGTERM stops cleanly (cancelling what outlasts the grace period), missed runs follow the
//! project's policy.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::Sandbox;

/// The scheduler running in a sandbox, its console in `scheduler.txt`.
struct Scheduler<'a> {
    sandbox: &'a Sandbox,
    child: Child,
}

impl<'a> Scheduler<'a> {
    fn start(s: &'a Sandbox, args: &[&str]) -> Scheduler<'a> {
        let out = File::create(s.path("scheduler.txt")).expect("console file");
        let child = s
            .etl(&["schedule", "projects", "--poll", "0.2"])
            .args(args)
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::from(out))
            .spawn()
            .expect("start etl schedule");
        Scheduler { sandbox: s, child }
    }

    fn console(&self) -> String {
        std::fs::read_to_string(self.sandbox.path("scheduler.txt")).unwrap_or_default()
    }

    /// Waits (a hang guard, not a timing assertion) until `ok` holds.
    fn wait_for(&mut self, what: &str, limit: Duration, mut ok: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + limit;
        while !ok(self) {
            if let Some(status) = self.child.try_wait().expect("poll") {
                panic!(
                    "etl schedule exited ({status}) while waiting for {what}:\n{}",
                    self.console()
                );
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for_console(&mut self, text: &str, limit: Duration) {
        self.wait_for(&format!("{text:?} on the console"), limit, |s| {
            s.console().contains(text)
        });
    }

    /// SIGTERM, then the exit code (the process must exit within `limit`).
    fn terminate(mut self, limit: Duration) -> (Option<i32>, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll") {
                return (status.code(), self.console());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "etl schedule did not stop within {limit:?} of SIGTERM:\n{}",
                    self.console()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Scheduler<'_> {
    fn drop(&mut self) {
        // A failed assertion must not leave the process behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// (project, version) of the ticks recorded so far, in order; empty before the first.
fn ticks(s: &Sandbox) -> Vec<(String, String)> {
    let path = s.path("metadata/warehouse.db");
    let Ok(conn) = rusqlite::Connection::open(&path) else {
        return Vec::new();
    };
    let Ok(mut stmt) = conn.prepare("SELECT project, version FROM ticks ORDER BY rowid") else {
        return Vec::new();
    };
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

fn count(ticks: &[(String, String)], project: &str, version: &str) -> usize {
    ticks
        .iter()
        .filter(|(p, v)| p == project && v == version)
        .count()
}

fn log_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|e| e.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn read_all(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .collect()
}

const SCRIPT: &str = "projects/ops_schedule/project.rhai";
const SECONDS: Duration = Duration::from_secs(10);

#[test]
fn runs_on_schedule_reloads_edits_keeps_the_last_good_version_and_stops_on_sigterm() {
    let s = Sandbox::with_project("ops_schedule");
    let mut sched = Scheduler::start(&s, &["--grace", "5"]);
    sched.wait_for("a run of version A", SECONDS, |_| {
        count(&ticks(&s), "ops_schedule", "A") >= 1
    });
    assert!(
        sched.console().contains("schedule \"*/2 * * * * *\" (UTC)"),
        "{}",
        sched.console()
    );

    // An edit is used from the next run, without a restart.
    s.write(
        SCRIPT,
        s.read(SCRIPT)
            .replace("const VERSION = \"A\"", "const VERSION = \"B\""),
    );
    sched.wait_for("a run of version B", SECONDS, |_| {
        count(&ticks(&s), "ops_schedule", "B") >= 1
    });
    sched.wait_for_console("Reloaded project 'ops_schedule' v1.0.0", SECONDS);
    let versions: Vec<String> = ticks(&s).into_iter().map(|(_, v)| v).collect();
    let first_b = versions.iter().position(|v| v == "B").unwrap();
    assert!(versions[first_b..].iter().all(|v| v == "B"), "{versions:?}");

    // A script that no longer compiles: the error is logged, the last good version runs on.
    let good = s.read(SCRIPT);
    s.write(SCRIPT, good.replace("task(\"tick\"", "task(\"tick\" oops"));
    sched.wait_for_console(
        "The edited script of project 'ops_schedule' does not compile; the scheduler keeps its last good version (v1.0.0)",
        SECONDS,
    );
    let b_before = count(&ticks(&s), "ops_schedule", "B");
    sched.wait_for("another run of the last good version", SECONDS, |_| {
        count(&ticks(&s), "ops_schedule", "B") > b_before
    });
    assert!(
        sched.console().contains(&format!("{SCRIPT}:")),
        "the error names the script:\n{}",
        sched.console()
    );

    // A new project folder is picked up.
    s.write(
        "projects/ops_schedule_new/project.rhai",
        good.replace("project(\"ops_schedule\"", "project(\"ops_schedule_new\""),
    );
    sched.wait_for("a run of the new project", SECONDS, |_| {
        count(&ticks(&s), "ops_schedule_new", "B") >= 1
    });

    let (code, console) = sched.terminate(SECONDS);
    assert_eq!(code, Some(0), "{console}");
    assert!(
        console.contains("SIGTERM: stopping") && console.contains("Scheduler stopped."),
        "{console}"
    );

    // Each run has a log file of its own; the scheduler's log has its own lines only.
    let runs = log_files(&s.path("metadata/logs/ops_schedule"));
    assert!(runs.len() >= 3, "{runs:?}");
    let run_log = read_all(&runs);
    assert!(run_log.contains("Task started. task=tick"), "{run_log}");
    assert!(!run_log.contains("Starting the scheduled run"), "{run_log}");
    let own = read_all(&log_files(&s.path("metadata/schedule")));
    assert!(
        own.contains("Starting the scheduled run of project 'ops_schedule'"),
        "{own}"
    );
    assert!(!own.contains("Task started."), "{own}");
    let state = s.read("metadata/schedule/state.json");
    assert!(
        state.contains("\"ops_schedule\"") && state.contains("\"ops_schedule_new\""),
        "{state}"
    );
    assert!(state.contains("\"last_status\": \"success\""), "{state}");
}

/// The slow fixture with `rows` rows in its CSV (about 70,000 rows a second in a debug build).
fn slow_project(rows: u32) -> Sandbox {
    let s = Sandbox::with_project("ops_schedule_slow");
    std::fs::create_dir_all(s.path("projects/ops_schedule_slow/data")).unwrap();
    let mut csv = std::io::BufWriter::new(
        File::create(s.path("projects/ops_schedule_slow/data/big.csv")).unwrap(),
    );
    writeln!(csv, "id,n").unwrap();
    for id in 1..=rows {
        writeln!(csv, "{id},{}", id % 97).unwrap();
    }
    csv.into_inner().unwrap().sync_all().unwrap();
    s
}

#[test]
fn sigterm_lets_a_run_finish_within_the_grace_period() {
    let s = slow_project(150_000);
    let mut sched = Scheduler::start(&s, &["--grace", "60"]);
    let run_logs = s.path("metadata/logs/ops_schedule_slow");
    sched.wait_for("the load to be under way", Duration::from_secs(20), |_| {
        read_all(&log_files(&run_logs)).contains("load is under way")
    });
    let (code, console) = sched.terminate(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{console}");
    assert!(
        console.contains("waiting up to 60s for the running runs of: ops_schedule_slow"),
        "{console}"
    );
    assert!(
        console.contains("Scheduled run of project 'ops_schedule_slow' succeeded"),
        "{console}"
    );
    assert!(!console.contains("Cancelling"), "{console}");
    let w = s.warehouse();
    assert_eq!(w.count("big"), 150_000, "the run finished its load");
    assert_eq!(w.audit_of("big")[0].status, "success");
}

#[test]
fn sigterm_cancels_a_run_that_outlasts_the_grace_period_and_runs_never_overlap() {
    let s = slow_project(400_000);

    let mut sched = Scheduler::start(&s, &["--grace", "1"]);
    let run_logs = s.path("metadata/logs/ops_schedule_slow");
    sched.wait_for(
        "the load to be under way (in the run's own log)",
        Duration::from_secs(20),
        |_| read_all(&log_files(&run_logs)).contains("load is under way"),
    );
    sched.wait_for_console(
        "is still going: this occurrence is skipped (runs of a project never overlap)",
        SECONDS,
    );
    let (code, console) = sched.terminate(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{console}");
    for text in [
        "SIGTERM: stopping. No new run starts; waiting up to 1s for the running runs of: ops_schedule_slow",
        "Cancelling the runs of: ops_schedule_slow",
        "Scheduled run of project 'ops_schedule_slow' failed",
        "Scheduler stopped.",
    ] {
        assert!(console.contains(text), "{text:?} missing:\n{console}");
    }
    assert_eq!(
        console.matches("Starting the scheduled run").count(),
        1,
        "{console}"
    );
    let w = s.warehouse();
    assert!(
        !w.table_exists("big"),
        "the cancelled full load rolled back"
    );
    let audit = w.audit_of("big");
    assert_eq!(audit.len(), 1, "{audit:#?}");
    assert_eq!(audit[0].status, "failed");
    assert!(
        audit[0]
            .error_message
            .as_deref()
            .unwrap_or_default()
            .contains("cancel"),
        "{audit:#?}"
    );
    let own = read_all(&log_files(&s.path("metadata/schedule")));
    assert!(
        !own.contains("load is under way"),
        "run lines stay in the run's log"
    );
}

#[test]
fn runs_missed_while_stopped_are_run_once_or_skipped_as_each_project_says() {
    let s = Sandbox::new();
    let script = |name: &str, missed: &str| {
        format!(
            "project(\"{name}\", #{{ schedule: \"0 3 * * *\", timezone: \"UTC\", missed: \"{missed}\" }});\n\
             let dw = connect(\"warehouse\");\n\
             task(\"tick\", |run| {{\n\
                 dw.execute(\"CREATE TABLE IF NOT EXISTS ticks (project TEXT, run_id TEXT, version TEXT, load_type TEXT)\");\n\
                 dw.execute(\"INSERT INTO ticks VALUES (:p, :id, 'A', :lt)\", #{{ p: run.project, id: run.id, lt: run.load_type }});\n\
             }});\n"
        )
    };
    s.write("projects/once/project.rhai", script("once", "run_once"));
    s.write("projects/skip/project.rhai", script("skip", "skip"));
    // The last occurrence handled: three daily runs ago.
    let now = chrono::Utc::now();
    let mut latest = now.date_naive().and_hms_opt(3, 0, 0).unwrap().and_utc();
    if latest > now {
        latest -= chrono::Duration::days(1);
    }
    let last = (latest - chrono::Duration::days(3)).to_rfc3339();
    s.write(
        "metadata/schedule/state.json",
        format!("{{\"projects\": {{\"once\": {{\"last_due\": \"{last}\"}}, \"skip\": {{\"last_due\": \"{last}\"}}}}}}"),
    );
    let mut sched = Scheduler::start(&s, &[]);
    sched.wait_for("the run_once project's run", SECONDS, |_| {
        count(&ticks(&s), "once", "A") == 1
    });
    sched.wait_for_console("Scheduled run of project 'once' succeeded", SECONDS);
    let (code, console) = sched.terminate(SECONDS);
    assert_eq!(code, Some(0), "{console}");
    assert!(
        console.contains("Project 'once' missed 3 runs while the scheduler was not running")
            && console.contains("running once now (missed: \"run_once\")"),
        "{console}"
    );
    assert!(
        console.contains("Project 'skip' missed 3 runs while the scheduler was not running")
            && console.contains("skipped (missed: \"skip\""),
        "{console}"
    );
    assert_eq!(count(&ticks(&s), "skip", "A"), 0);
    let state = s.read("metadata/schedule/state.json");
    let skipped_to = latest.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert!(
        state.contains(&skipped_to),
        "skip records the last missed occurrence as handled: {state}"
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    let s = Sandbox::new();
    s.etl(&["schedule", "nowhere"])
        .status(2)
        .stderr_contains("nowhere is not a folder: give the folder that holds the projects")
        .run();
    s.write("projects/.keep", "");
    s.etl(&["schedule", "projects", "--timezone", "Mars/Base"])
        .status(2)
        .stderr_contains("--timezone: 'Mars/Base' is not a time zone")
        .run();
    s.etl(&["schedule", "projects", "--grace=-1"])
        .status(2)
        .stderr_contains("the grace period must be 0 to 86400 seconds")
        .run();
}
