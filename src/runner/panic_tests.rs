//! A Rust panic inside a task, through a real project and the real run loop: the task fails
//! under its own name, its dependants are skipped, the run fails, and the thread it ran on
//! is left without a task context.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::{run, RunReport, TaskOutcome, TaskStatus};
use crate::config::Config;
use crate::connectors::Io;
use crate::context::{current_task, with_task, LoadType, RunInfo, TaskCtx};
use crate::script::{Host, Mode, Project};

const PANIC_MESSAGE: &str = "the connector lost its mind";

/// `boom` panics on every attempt; the dependants of `boom` must be skipped, the
/// independent task must still run.
const SCRIPT: &str = r#"
project("panics", #{ target: "wh" });
task("boom", #{ retries: 1, retry_delay: 0 }, |run| explode());
task("after_boom", #{ after: ["boom"] }, |run| 1);
task("after_that", #{ after: ["after_boom"] }, |run| 1);
task("independent", |run| 1);
"#;

/// The thread the panic happened on, to look at that same thread after the run.
static PANICKED_ON: Mutex<Option<ThreadId>> = Mutex::new(None);

/// Stands for a connector or API function with a bug.
fn explode() {
    *PANICKED_ON.lock().expect("not poisoned") = Some(std::thread::current().id());
    panic!("{PANIC_MESSAGE}");
}

/// The project as the factory would build it, with `explode` added to the one engine
/// builder's API (no script-reachable API panics on purpose, so the test brings its own).
fn project(dir: &Path, io: Io) -> Project {
    let toml = dir.join("etl.toml");
    std::fs::write(
        &toml,
        "[env.dev.connections]\nwh = \"sqlite://warehouse.db\"\n",
    )
    .unwrap();
    let script = dir.join("project.rhai");
    std::fs::write(&script, SCRIPT).unwrap();
    let config = Config::load(Some(&toml), Some(dir), Some("dev")).unwrap();
    let host = Host::new(Mode::Run, config, &script, io);
    host.sources.add(&host.script_name(), SCRIPT);
    let mut engine = crate::script::engine::build(&host);
    engine.register_fn("explode", explode);
    let mut ast = engine.compile(SCRIPT).unwrap();
    ast.set_source(host.script_name().as_str());
    engine.run_ast(&ast).unwrap();
    let defs = std::mem::take(&mut *host.defs.lock().unwrap());
    let (meta, _, _) = defs.project.expect("the script declares its project");
    Project {
        meta,
        tasks: defs.tasks,
        engine: Arc::new(engine),
        ast: Arc::new(ast),
        host,
    }
}

fn run_info(dir: &Path) -> RunInfo {
    RunInfo {
        id: "20250101T000000-panics".into(),
        project: "panics".into(),
        env: "dev".into(),
        load_type: LoadType::Full,
        since: None,
        until: None,
        params: BTreeMap::new(),
        dry_run: false,
        notify: None,
        script_version: "0.0.0".into(),
        started_at: Utc::now(),
        output_dir: dir.join("output"),
        output_files: Mutex::new(Vec::new()),
    }
}

fn outcome<'a>(report: &'a RunReport, name: &str) -> &'a TaskOutcome {
    report
        .outcomes
        .iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("no outcome for '{name}': {:?}", report.outcomes))
}

#[test]
fn a_panicking_task_fails_under_its_name_and_skips_its_dependants() {
    let dir = tempfile::tempdir().unwrap();
    // One blocking thread that never retires: every task runs on it, and the probe after
    // the run is guaranteed to land on the thread that panicked.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .thread_keep_alive(Duration::from_secs(24 * 3600))
        .enable_all()
        .build()
        .unwrap();
    let io = Io {
        handle: rt.handle().clone(),
        cancel: CancellationToken::new(),
    };
    let project = Arc::new(project(dir.path(), io));
    let selected: Vec<String> = project.tasks.iter().map(|t| t.name.clone()).collect();
    let report = rt.block_on(run(project, Arc::new(run_info(dir.path())), selected, 2));

    let boom = outcome(&report, "boom");
    assert_eq!(boom.status, TaskStatus::Failed, "{boom:?}");
    let error = boom.error.as_deref().unwrap_or_default();
    assert!(
        error.contains(&format!("the task panicked: {PANIC_MESSAGE}")),
        "{error}"
    );
    assert_eq!(boom.attempts, 2, "a panic is retried like any failure");
    for skipped in ["after_boom", "after_that"] {
        let o = outcome(&report, skipped);
        assert_eq!(o.status, TaskStatus::Skipped, "{o:?}");
        assert_eq!(o.attempts, 0, "{o:?}");
    }
    assert_eq!(
        outcome(&report, "after_boom").error.as_deref(),
        Some("'boom' did not succeed")
    );
    assert_eq!(outcome(&report, "independent").status, TaskStatus::Success);
    assert_eq!(report.outcomes.len(), 4, "{:?}", report.outcomes);
    assert!(!report.succeeded());

    let (thread, context_left) = rt
        .block_on(rt.spawn_blocking(|| (std::thread::current().id(), current_task().is_some())))
        .unwrap();
    assert_eq!(
        Some(thread),
        *PANICKED_ON.lock().unwrap(),
        "the same thread"
    );
    assert!(!context_left, "with_task restored the thread's context");

    let audit = rusqlite::Connection::open(dir.path().join("warehouse.db")).unwrap();
    let mut stmt = audit
        .prepare("SELECT task, status, error_message FROM etl_runs ORDER BY task")
        .unwrap();
    let records: Vec<(String, String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records.len(), 2, "boom and independent only: {records:?}");
    let (task, status, message) = &records[0];
    assert_eq!((task.as_str(), status.as_str()), ("boom", "failed"));
    assert!(
        message
            .as_deref()
            .unwrap_or_default()
            .contains(PANIC_MESSAGE),
        "{message:?}"
    );
    assert_eq!(
        (records[1].0.as_str(), records[1].1.as_str()),
        ("independent", "success")
    );
}

#[test]
fn with_task_restores_the_outer_context_when_the_inner_closure_panics() {
    let dir = tempfile::tempdir().unwrap();
    let run = Arc::new(run_info(dir.path()));
    let outer = Arc::new(TaskCtx::new(run.clone(), "outer"));
    let inner = Arc::new(TaskCtx::new(run, "inner"));
    assert!(current_task().is_none());
    with_task(outer, || {
        let caught = catch_unwind(AssertUnwindSafe(|| {
            with_task(inner, || {
                assert_eq!(current_task().unwrap().task, "inner");
                panic!("inside the inner task");
            })
        }));
        assert!(caught.is_err());
        assert_eq!(current_task().unwrap().task, "outer");
    });
    assert!(current_task().is_none());
}
