//! One task on its blocking thread: the run map it receives, its attempts (a panic is a
//! failed attempt like a script error), the pauses between them, its task-level audit record.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Runs one task on this (blocking) thread, with its retries, between its lineage events.
pub(super) fn execute(project: &Project, run: &Arc<RunInfo>, def: &TaskDef) -> TaskOutcome {
    let lineage = crate::lineage::TaskLineage::start(project, run, &def.name);
    let outcome = attempts(project, run, def);
    if let Some(l) = lineage {
        l.end(project, run, &outcome);
    }
    outcome
}

fn attempts(project: &Project, run: &Arc<RunInfo>, def: &TaskDef) -> TaskOutcome {
    let started = Instant::now();
    let start_time = Utc::now();
    let cancel = &project.host.io.cancel;
    let mut attempts = 0;
    let mut last_error = None;
    let mut ctx = Arc::new(TaskCtx::new(run.clone(), &def.name));
    tracing::info!(task = %def.name, "Task started.");
    while attempts <= def.retries {
        attempts += 1;
        // Each attempt gets its own token and deadline: a timeout stops this attempt (and what
        // it waits for in a database) without touching the run or the other tasks, and a
        // retry starts with the whole `timeout` again.
        ctx = Arc::new(
            TaskCtx::new(run.clone(), &def.name).with_stop(cancel.child_token(), def.timeout),
        );
        let result = {
            // Dropped with the attempt's end, before any pause for a retry.
            let _deadline = def
                .timeout
                .map(|t| Deadline::start(&project.host.io.handle, &ctx, t));
            attempt(project, run, def, &ctx)
        };
        match result {
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
                    record_task(project, run, def, &ctx, start_time, Ended::Success);
                }
                return TaskOutcome {
                    name: def.name.clone(),
                    status: TaskStatus::Success,
                    rows,
                    duration,
                    attempts,
                    error: None,
                    checks: take_checks(&ctx),
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
                let failure = timed_out(&ctx, failure);
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
    // A failure inside a load is already in the audit table; one elsewhere gets its own record,
    // and so does a timeout, which ends the task rather than one of its loads.
    let ended = Ended::Failed {
        error: last_error.as_deref(),
        timed_out: ctx.timed_out().is_some() && !cancel.is_cancelled(),
    };
    record_task(project, run, def, &ctx, start_time, ended);
    TaskOutcome {
        name: def.name.clone(),
        status,
        rows: 0,
        duration: started.elapsed(),
        attempts,
        error: last_error,
        checks: take_checks(&ctx),
    }
}

fn take_checks(ctx: &TaskCtx) -> Vec<crate::audit_checks::CheckRecord> {
    std::mem::take(&mut *ctx.checks.lock().unwrap_or_else(|e| e.into_inner()))
}

struct Failure {
    message: String,
    panicked: bool,
}

/// A failure of an attempt whose `timeout` passed says so first: what it stopped at (the
/// script's next operation, a database call "cancelled") is only the symptom.
fn timed_out(ctx: &TaskCtx, failure: Failure) -> Failure {
    match ctx.timed_out() {
        Some(why) if !failure.panicked && !failure.message.contains(&why) => Failure {
            message: format!("{why}; it was stopped here:\n{}", failure.message),
            panicked: false,
        },
        _ => failure,
    }
}

/// Times an attempt out when `timeout` passes, unless the attempt ends first (dropped).
struct Deadline(tokio::task::JoinHandle<()>);

impl Deadline {
    fn start(handle: &tokio::runtime::Handle, ctx: &Arc<TaskCtx>, timeout: Duration) -> Deadline {
        let ctx = ctx.clone();
        Deadline(handle.spawn(async move {
            tokio::time::sleep(timeout).await;
            tracing::warn!(task = %ctx.task, "Stopping the task: its timeout of {}s has passed.", timeout.as_secs_f64());
            ctx.time_out();
        }))
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        self.0.abort();
    }
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

/// How a task ended, for its task-level audit record.
enum Ended<'a> {
    Success,
    Failed {
        error: Option<&'a str>,
        /// Its last attempt's `timeout` passed: a failure of the task, not of one of its loads.
        timed_out: bool,
    },
}

/// A task-level audit record (no target table) for tasks without loads, for failures that
/// happened outside a load, and for timeouts.
fn record_task(
    project: &Project,
    run: &RunInfo,
    def: &TaskDef,
    ctx: &TaskCtx,
    start: chrono::DateTime<Utc>,
    ended: Ended<'_>,
) {
    let (status, error) = match ended {
        Ended::Success => (Status::Success, None),
        Ended::Failed { error, timed_out } => {
            if ctx.failed_loads.load(Ordering::Relaxed) > 0 && !timed_out {
                return;
            }
            (Status::Failed, error)
        }
    };
    if run.dry_run {
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
