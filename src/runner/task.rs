//! One task on its blocking thread: the run map it receives, its attempts (a panic is a
//! failed attempt like a script error), the pauses between them, its task-level audit record.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use rhai::{Dynamic, Map};

use super::panic;
use super::report::{TaskOutcome, TaskStatus};
use super::retry::{retry_pause, sleep_unless_cancelled};
use crate::audit::{error_text, AuditRecord, Status};
use crate::context::{with_task, LoadType, RunInfo, TaskCtx};
use crate::script::{Project, TaskDef};

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
pub(super) fn execute(project: &Project, run: &Arc<RunInfo>, def: &TaskDef) -> TaskOutcome {
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
        match attempt(project, run, def, &ctx) {
            Ok(()) => {
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
            Err(failure) => {
                // A script error during a cancellation is the cancellation itself (the
                // engine's progress hook, a connector between batches); a panic is a bug
                // whose message must not be lost.
                if cancel.is_cancelled() && !failure.panicked {
                    last_error = Some("the run was cancelled".to_string());
                    break;
                }
                let more = attempts <= def.retries && !cancel.is_cancelled();
                tracing::error!(
                    "Task '{}' failed (attempt {attempts}{}):\n{}",
                    def.name,
                    if more { ", will retry" } else { "" },
                    failure.message
                );
                last_error = Some(failure.message);
                if !more || !sleep_unless_cancelled(retry_pause(def.retry_delay, attempts), cancel)
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

struct Failure {
    message: String,
    panicked: bool,
}

/// One call of the task's closure. A panic below it is caught here, on the task's own
/// thread, so that it is a failed attempt like any other: retried, logged, audited.
fn attempt(
    project: &Project,
    run: &RunInfo,
    def: &TaskDef,
    ctx: &Arc<TaskCtx>,
) -> Result<(), Failure> {
    let args = run_map(run, &def.name);
    match panic::catch(|| with_task(ctx.clone(), || def.call(&project.engine, args))) {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(Failure {
            message: project.script_error(&e).to_string(),
            panicked: false,
        }),
        Err(message) => Err(Failure {
            message,
            panicked: true,
        }),
    }
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
