//! The runner: executes a project's task graph in dependency order, independent tasks in
//! parallel (each on a blocking thread), with retries, skipping the dependants of a failure,
//! and stopping cleanly on cancellation.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rhai::{Dynamic, Map};
use tokio::task::JoinSet;

use crate::audit::{error_text, AuditRecord, Status};
use crate::context::{with_task, LoadType, RunInfo, TaskCtx};
use crate::script::{Project, TaskDef};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    Success,
    Failed,
    Skipped,
    Cancelled,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Success => "success",
            TaskStatus::Failed => "failed",
            TaskStatus::Skipped => "skipped",
            TaskStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Clone, Debug)]
pub struct TaskOutcome {
    pub name: String,
    pub status: TaskStatus,
    pub rows: u64,
    pub duration: Duration,
    pub attempts: u32,
    pub error: Option<String>,
}

pub struct RunReport {
    pub outcomes: Vec<TaskOutcome>,
    pub duration: Duration,
}

impl RunReport {
    pub fn succeeded(&self) -> bool {
        self.outcomes
            .iter()
            .all(|o| o.status == TaskStatus::Success)
    }
}

pub struct Selection {
    /// Empty: every task.
    pub tasks: Vec<String>,
    /// Also run what the selected tasks depend on.
    pub with_deps: bool,
}

/// Which tasks run: all, or the selected ones (plus their dependencies with `with_deps`).
pub fn select(project: &Project, sel: &Selection) -> Result<Vec<String>, String> {
    if sel.tasks.is_empty() {
        return Ok(project.tasks.iter().map(|t| t.name.clone()).collect());
    }
    let mut chosen: HashSet<String> = HashSet::new();
    let mut stack: Vec<String> = Vec::new();
    for name in &sel.tasks {
        if project.task(name).is_none() {
            let known: Vec<&str> = project.tasks.iter().map(|t| t.name.as_str()).collect();
            return Err(format!(
                "--task {name}: no such task (tasks: {})",
                known.join(", ")
            ));
        }
        stack.push(name.clone());
    }
    while let Some(n) = stack.pop() {
        if chosen.insert(n.clone()) && sel.with_deps {
            stack.extend(project.task(&n).expect("validated").after.iter().cloned());
        }
    }
    Ok(project
        .tasks
        .iter()
        .filter(|t| chosen.contains(&t.name))
        .map(|t| t.name.clone())
        .collect())
}

pub async fn run(
    project: Arc<Project>,
    run: Arc<RunInfo>,
    selected: Vec<String>,
    jobs: usize,
) -> RunReport {
    let started = Instant::now();
    let cancel = project.host.io.cancel.clone();
    let in_run: HashSet<String> = selected.iter().cloned().collect();
    let mut outcomes: HashMap<String, TaskOutcome> = HashMap::new();
    let mut running: JoinSet<TaskOutcome> = JoinSet::new();
    let mut launched: HashSet<String> = HashSet::new();
    let jobs = jobs.max(1);

    loop {
        // Settle tasks that can no longer run, then launch what is ready.
        for name in &selected {
            if launched.contains(name) || outcomes.contains_key(name) {
                continue;
            }
            let def = project.task(name).expect("selected tasks exist");
            let deps: Vec<&String> = def.after.iter().filter(|d| in_run.contains(*d)).collect();
            if let Some(bad) = deps.iter().find(|d| {
                outcomes
                    .get(d.as_str())
                    .is_some_and(|o| o.status != TaskStatus::Success)
            }) {
                let status = if cancel.is_cancelled() {
                    TaskStatus::Cancelled
                } else {
                    TaskStatus::Skipped
                };
                tracing::warn!(task = %name, "Skipped: it runs after '{bad}', which did not succeed.");
                outcomes.insert(
                    name.clone(),
                    skipped(name, status, format!("'{bad}' did not succeed")),
                );
                continue;
            }
            if cancel.is_cancelled() {
                outcomes.insert(
                    name.clone(),
                    skipped(name, TaskStatus::Cancelled, "the run was cancelled".into()),
                );
                continue;
            }
            let ready = deps.iter().all(|d| {
                outcomes
                    .get(d.as_str())
                    .is_some_and(|o| o.status == TaskStatus::Success)
            });
            if ready && running.len() < jobs {
                launched.insert(name.clone());
                let (p, r, d) = (project.clone(), run.clone(), def.clone());
                // The caller's span (a backfill window, a scheduled run) follows the task to
                // its thread, so its lines are attributed (and routed) like the run's own.
                let span = tracing::Span::current();
                running.spawn_blocking(move || span.in_scope(|| execute(&p, &r, &d)));
            }
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let outcome = joined.unwrap_or_else(|e| TaskOutcome {
            name: "?".into(),
            status: TaskStatus::Failed,
            rows: 0,
            duration: Duration::ZERO,
            attempts: 1,
            error: Some(format!("the task panicked: {e}")),
        });
        outcomes.insert(outcome.name.clone(), outcome);
    }
    let outcomes = selected.iter().filter_map(|n| outcomes.remove(n)).collect();
    RunReport {
        outcomes,
        duration: started.elapsed(),
    }
}

fn skipped(name: &str, status: TaskStatus, why: String) -> TaskOutcome {
    TaskOutcome {
        name: name.to_string(),
        status,
        rows: 0,
        duration: Duration::ZERO,
        attempts: 0,
        error: Some(why),
    }
}

/// The `run` map a task closure receives.
fn run_map(run: &RunInfo, task: &str) -> Map {
    let opt = |v: &Option<String>| v.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT);
    let params: Map = run
        .params
        .iter()
        .map(|(k, v)| (k.as_str().into(), v.clone().into()))
        .collect();
    BTreeMap::from_iter([
        ("id".into(), run.id.clone().into()),
        ("project".into(), run.project.clone().into()),
        ("env".into(), run.env.clone().into()),
        ("load_type".into(), run.load_type.code().into()),
        ("since".into(), opt(&run.since)),
        ("until".into(), opt(&run.until)),
        // `until` is a Rhai keyword (`do {} until x`), so `run.until` does not parse: scripts
        // write `run["until"]` or these aliases.
        ("start".into(), opt(&run.since)),
        ("end".into(), opt(&run.until)),
        ("params".into(), params.into()),
        ("dry_run".into(), run.dry_run.into()),
        ("task".into(), task.into()),
        ("version".into(), run.script_version.clone().into()),
    ])
    .into_iter()
    .collect()
}

/// Runs one task on this (blocking) thread, with its retries.
fn execute(project: &Project, run: &Arc<RunInfo>, def: &TaskDef) -> TaskOutcome {
    let started = Instant::now();
    let start_time = Utc::now();
    let cancel = &project.host.io.cancel;
    let mut attempts = 0;
    let mut last_error = None;
    let mut ctx = Arc::new(TaskCtx::new(run.clone(), &def.name));
    tracing::info!(task = %def.name, "Task started.");
    while attempts <= def.retries {
        attempts += 1;
        ctx = Arc::new(TaskCtx::new(run.clone(), &def.name));
        let args = run_map(run, &def.name);
        let result = with_task(ctx.clone(), || def.call(&project.engine, args));
        match result {
            Ok(_) => {
                let rows = ctx.rows.load(Ordering::Relaxed);
                let duration = started.elapsed();
                tracing::info!(task = %def.name, rows, "Task succeeded in {:.2}s.", duration.as_secs_f64());
                // A backfill window's task always gets its task-level record: it is the
                // marker `etl backfill --resume` looks for (its loads' records alone cannot
                // tell a finished task from one that stopped between two loads).
                if ctx.load_records.load(Ordering::Relaxed) == 0
                    || run.load_type == LoadType::Backfill
                {
                    record_task(project, run, def, &ctx, start_time, Status::Success, None);
                }
                return TaskOutcome {
                    name: def.name.clone(),
                    status: TaskStatus::Success,
                    rows,
                    duration,
                    attempts,
                    error: None,
                };
            }
            Err(e) => {
                let message = project.script_error(&e).to_string();
                if cancel.is_cancelled() {
                    last_error = Some("the run was cancelled".to_string());
                    break;
                }
                let more = attempts <= def.retries;
                tracing::error!(
                    "Task '{}' failed (attempt {attempts}{}):\n{message}",
                    def.name,
                    if more { ", will retry" } else { "" }
                );
                last_error = Some(message);
                if more
                    && !sleep_unless_cancelled(
                        def.retry_delay * 2u32.saturating_pow(attempts - 1),
                        cancel,
                    )
                {
                    break;
                }
            }
        }
    }
    let status = if cancel.is_cancelled() {
        TaskStatus::Cancelled
    } else {
        TaskStatus::Failed
    };
    // A failure inside a load is already in the audit table; one elsewhere gets its own record.
    record_task(
        project,
        run,
        def,
        &ctx,
        start_time,
        Status::Failed,
        last_error.as_deref(),
    );
    TaskOutcome {
        name: def.name.clone(),
        status,
        rows: 0,
        duration: started.elapsed(),
        attempts,
        error: last_error,
    }
}

fn sleep_unless_cancelled(d: Duration, cancel: &tokio_util::sync::CancellationToken) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if cancel.is_cancelled() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
    true
}

/// A task-level audit record (no target table) for tasks without loads and for failures
/// that happened outside a load.
fn record_task(
    project: &Project,
    run: &RunInfo,
    def: &TaskDef,
    ctx: &TaskCtx,
    start: chrono::DateTime<Utc>,
    status: Status,
    error: Option<&str>,
) {
    if run.dry_run || (status == Status::Failed && ctx.failed_loads.load(Ordering::Relaxed) > 0) {
        return;
    }
    let target = &project.meta.target;
    let record = AuditRecord {
        run_id: run.id.clone(),
        project: run.project.clone(),
        task: def.name.clone(),
        status: status.as_str().into(),
        load_type: run.load_type.code().into(),
        environment: run.env.clone(),
        script_version: run.script_version.clone(),
        target_database: target.clone(),
        // The window of a backfill run (None otherwise).
        start_load_date: run.since.clone(),
        end_load_date: run.until.clone(),
        number_of_records: Some(ctx.rows.load(Ordering::Relaxed) as i64),
        start_script_execution_time: Some(start),
        end_script_execution_time: Some(Utc::now()),
        error_message: error.map(error_text),
        ..AuditRecord::default()
    };
    let write = project
        .host
        .connection(target)
        .and_then(|db| db.audit()?.insert(&project.host.io, &record));
    if let Err(e) = write {
        tracing::warn!(task = %def.name, "Could not write the task's audit record to '{target}': {e}");
    }
}

/// The end-of-run table: task, status, rows, duration.
pub fn summary(report: &RunReport) -> String {
    let mut rows = vec![[
        "task".to_string(),
        "status".into(),
        "rows".into(),
        "duration".into(),
        "attempts".into(),
    ]];
    for o in &report.outcomes {
        rows.push([
            o.name.clone(),
            o.status.as_str().into(),
            o.rows.to_string(),
            format!("{:.2}s", o.duration.as_secs_f64()),
            o.attempts.to_string(),
        ]);
    }
    crate::table::render(&rows)
}
