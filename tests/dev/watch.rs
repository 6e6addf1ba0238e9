//! `etl watch` as a child process. The tests wait on the watcher's `--events` file (what it
//! did, in order), never on time: the deadline below only guards against a hang.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::PgTestDb;
use crate::support::{script, Sandbox};

const HANG_GUARD: Duration = Duration::from_secs(120);

/// A running `etl watch` in a sandbox.
struct Watch<'a> {
    sandbox: &'a Sandbox,
    child: Child,
    stdin: Option<ChildStdin>,
    events: PathBuf,
}

impl<'a> Watch<'a> {
    fn start(sandbox: &'a Sandbox, project: &str, extra: &[&str]) -> Watch<'a> {
        Watch::start_with(sandbox, project, extra, &[])
    }

    fn start_with(
        sandbox: &'a Sandbox,
        project: &str,
        extra: &[&str],
        envs: &[(&str, &str)],
    ) -> Watch<'a> {
        // A file per watcher, so a second one never reads the first one's events.
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let events = format!("events-{n}.jsonl");
        let mut args = vec!["watch", "--events", &events];
        let path = script(project);
        args.push(&path);
        args.extend_from_slice(extra);
        let mut run = sandbox.etl(&args).env("USER", "Test.User");
        for (k, v) in envs {
            run = run.env(k, v);
        }
        let mut cmd = run.command();
        let out = std::fs::File::create(sandbox.path("watch.out")).unwrap();
        let err = std::fs::File::create(sandbox.path("watch.err")).unwrap();
        cmd.stdin(Stdio::piped()).stdout(out).stderr(err);
        let mut child = cmd.spawn().expect("start etl watch");
        let stdin = child.stdin.take();
        let w = Watch {
            sandbox,
            child,
            stdin,
            events: sandbox.path(&events),
        };
        w.wait_for("ready", |_| true);
        w
    }

    fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.events)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until an event named `name` satisfying `pred` is in the file; returns it.
    fn wait_for(&self, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            if let Some(e) = self
                .events()
                .into_iter()
                .find(|e| e["event"] == name && pred(e))
            {
                return e;
            }
            assert!(
                start.elapsed() < HANG_GUARD,
                "no {name} event; events:\n{}\nstdout:\n{}\nstderr:\n{}",
                std::fs::read_to_string(&self.events).unwrap_or_default(),
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The tasks of run `n` once it has ended.
    fn run(&self, n: u64) -> Vec<String> {
        self.wait_for("run_end", |e| e["run"] == n);
        let start = self.wait_for("run_start", |e| e["run"] == n);
        start["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect()
    }

    fn runs_started(&self) -> usize {
        self.events()
            .iter()
            .filter(|e| e["event"] == "run_start")
            .count()
    }

    fn stdout(&self) -> String {
        self.sandbox.read("watch.out")
    }

    fn stderr(&self) -> String {
        self.sandbox.read("watch.err")
    }

    fn key(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Rewrites a file of the sandbox (as an editor saving it).
    fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.sandbox.read(rel);
        assert!(text.contains(from), "{rel} lacks {from:?}");
        self.sandbox.write(rel, text.replacen(from, to, 1));
    }

    fn quit(mut self) {
        self.key("q");
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < HANG_GUARD, "etl watch did not quit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

const PROJECT: &str = "projects/dev_watch/project.rhai";

#[test]
fn an_edit_reruns_the_changed_task_and_its_dependants_only() {
    let s = Sandbox::with_project("dev_watch");
    let mut w = Watch::start(&s, "dev_watch", &[]);
    assert_eq!(w.run(1), ["extract", "transform", "report", "side"]);
    assert_eq!(s.warehouse().count("items"), 4);

    // The closure of `report` changes: only it re-runs (it has no dependants).
    w.edit(PROJECT, "report: ${n} rows", "report has ${n} rows");
    assert_eq!(w.run(2), ["report"]);

    // `extract` changes: it and everything after it, not `side`.
    w.edit(
        PROJECT,
        "into: \"items\", key: [\"id\"]",
        "into: \"items\", key: [\"id\"], batch_rows: 2",
    );
    assert_eq!(w.run(3), ["extract", "transform", "report"]);

    // Whitespace and comments change no task.
    w.edit(PROJECT, "task(\"side\"", "// a comment\n\ntask(\"side\"");
    w.wait_for("nothing_to_run", |_| true);

    // r + Enter: everything.
    w.key("r");
    assert_eq!(w.run(4), ["extract", "transform", "report", "side"]);
    let out = w.stdout();
    assert!(out.contains("items: no change"), "{out}");
    w.quit();
}

#[test]
fn a_broken_edit_keeps_the_last_good_version_and_the_fix_reruns() {
    let s = Sandbox::with_project("dev_watch");
    let w = Watch::start(&s, "dev_watch", &[]);
    w.run(1);
    w.edit(
        PROJECT,
        "log_info(`report: ${n} rows`);",
        "log_info(`report: ${n} rows`;",
    );
    let e = w.wait_for("compile_error", |_| true);
    let error = e["error"].as_str().unwrap();
    assert!(error.contains("project.rhai:16:"), "{error}");
    let err = w.stderr();
    assert!(
        err.contains("project.rhai:16:") && err.contains(" ^"),
        "{err}"
    );
    assert!(
        w.stdout().contains("keeping the last good version"),
        "{}",
        w.stdout()
    );
    assert_eq!(w.runs_started(), 1, "nothing runs on a broken script");

    // The fix, with the intended change: `report` re-runs on the new version.
    w.edit(
        PROJECT,
        "log_info(`report: ${n} rows`;",
        "log_info(`report now: ${n} rows`);",
    );
    assert_eq!(w.run(2), ["report"]);
    assert!(s.logs("dev_watch").contains("report now: 3 rows"));
    w.quit();
}

#[test]
fn module_and_sql_edits_rerun_the_tasks_that_use_them() {
    let s = Sandbox::with_project("dev_watch");
    let w = Watch::start(&s, "dev_watch", &[]);
    w.run(1);
    w.edit(
        "projects/dev_watch/helpers.rhai",
        "VALUES (:what)",
        "VALUES (:what || '!')",
    );
    assert_eq!(w.run(2), ["side"]);
    w.edit(
        "projects/dev_watch/sql/transform.sql",
        "sum(qty) AS qty",
        "sum(qty) AS qty, count(*) AS n",
    );
    assert_eq!(w.run(3), ["transform", "report"]);
    assert_eq!(
        s.warehouse().columns("items_total"),
        ["category", "qty", "n"]
    );
    // A data file a task reads counts as its input too.
    s.write(
        "projects/dev_watch/data/items.csv",
        "id,category,qty\n1,a,3\n2,a,40\n3,b,5\n5,d,1\n",
    );
    assert_eq!(w.run(4), ["extract", "transform", "report"]);
    let out = w.stdout();
    assert!(out.contains("items: +1 -1 ~1 rows"), "{out}");
    w.quit();
}

#[test]
fn a_sample_run_writes_only_to_the_scratch_tables() {
    let s = Sandbox::with_project("dev_watch");
    let w = Watch::start(&s, "dev_watch", &["--limit", "2", "--task", "extract"]);
    assert_eq!(w.run(1), ["extract"]);
    let dw = s.warehouse();
    // USER=Test.User -> etl_dev_test_user
    assert_eq!(dw.count("etl_dev_test_user__items"), 2);
    assert!(
        !dw.table_exists("items"),
        "a sample run never writes the production table"
    );
    // Its audit record is in the scratch audit table: the production watermark never moves.
    let audit = dw.audit_table("etl_dev_test_user__etl_runs");
    assert_eq!(audit.len(), 1);
    assert_eq!(
        audit[0].target_table.as_deref(),
        Some("etl_dev_test_user__items")
    );
    assert!(
        dw.audit().is_empty(),
        "a sample run writes no production audit record"
    );
    w.edit(
        PROJECT,
        "key: [\"id\"] })",
        "key: [\"id\"], batch_rows: 1 })",
    );
    assert_eq!(w.run(2), ["extract"]);
    assert!(!s.warehouse().table_exists("items"));
    w.quit();

    // Raw SQL is not run in a sample run: it would name production tables.
    let w = Watch::start(&s, "dev_watch", &["--scratch", "dev_x", "--task", "side"]);
    assert_eq!(w.run(1), ["side"]);
    assert!(!s.warehouse().table_exists("notes"));
    assert!(
        w.stderr().contains("Sample run: not running execute("),
        "{}",
        w.stderr()
    );
    w.quit();
}

#[test]
fn a_sample_run_on_postgres_loads_into_the_scratch_schema() {
    let db = PgTestDb::new("dev_watch_scratch");
    let s = Sandbox::with_project("dev_watch");
    let w = Watch::start_with(
        &s,
        "dev_watch",
        &["--limit", "3", "--task", "extract"],
        &[("ETL_CONN_WAREHOUSE", db.url())],
    );
    assert_eq!(w.run(1), ["extract"]);
    assert_eq!(
        db.scalar("SELECT count(*) FROM etl_dev_test_user.items")
            .as_deref(),
        Some("3")
    );
    assert_eq!(
        db.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'items' AND table_schema <> 'etl_dev_test_user'"
        )
        .as_deref(),
        Some("0"),
        "a sample run never writes the production table"
    );
    w.quit();
}

#[test]
fn a_sample_run_on_postgres_keeps_every_write_away_from_production() {
    let db = PgTestDb::new("dev_watch_modes");
    db.execute(
        "CREATE SCHEMA src; CREATE TABLE src.items (id int PRIMARY KEY, name text, updated_at timestamp); \
         INSERT INTO src.items VALUES (1, 'a', '2024-01-01'), (2, 'b', '2024-01-02'), (3, 'c', '2024-01-03');",
    );
    let s = Sandbox::with_project("pg_run_modes");
    let w = Watch::start_with(
        &s,
        "pg_run_modes",
        &["--limit", "2", "--scratch", "dev_x"],
        &[("ETL_CONN_WAREHOUSE", db.url())],
    );
    w.run(1);
    let stderr = w.stderr();
    w.quit();
    let q = |sql: &str| -> Vec<String> {
        db.query(sql)
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|v| v.unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    };
    // The load went to the scratch schema, two rows at most.
    assert_eq!(q("SELECT count(*) FROM dev_x.app__items"), ["2"]);
    // Raw SQL did not run; the UPDATE hidden in a query was refused by the server.
    assert_eq!(q("SELECT name FROM src.items ORDER BY id"), ["a", "b", "c"]);
    assert!(
        stderr.contains("Sample run: not running execute(UPDATE src.items"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Sample run: not running run_file(\"sql/touch.sql\")"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cannot execute UPDATE in a read-only transaction"),
        "{stderr}"
    );
    // Every audit record, the script's own too, is in the scratch audit table: the production
    // watermark of app.items cannot move to 2099.
    assert_eq!(
        q("SELECT target_table || '|' || coalesce(data_max_date, '') FROM dev_x.etl_runs WHERE target_table IS NOT NULL ORDER BY id"),
        ["dev_x.app__items|2024-01-02 00:00:00", "app.items|2099-01-01"]
    );
    assert_eq!(
        q(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables \
           WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'src') ORDER BY 1"
        ),
        ["dev_x.app__items", "dev_x.etl_runs"],
        "nothing outside the scratch schema was created"
    );
}
