//! The run loop: asks the graph what to start, starts each task on a blocking thread, and
//! feeds each ending back until every selected task has its outcome.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::{JoinError, JoinSet};

use super::graph::{Graph, Why};
use super::report::{RunReport, TaskOutcome, TaskStatus};
use super::task::execute;
use crate::context::RunInfo;
use crate::script::Project;

pub async fn run(
    project: Arc<Project>,
    run: Arc<RunInfo>,
    selected: Vec<String>,
    jobs: usize,
) -> RunReport {
    let started = Instant::now();
    let cancel = project.host.io.cancel.clone();
    let jobs = jobs.max(1);
    let mut graph = Graph::new(selected.iter().map(|name| {
        let def = project.task(name).expect("selected tasks exist");
        (name.as_str(), def.after.as_slice())
    }));
    let mut outcomes: HashMap<String, TaskOutcome> = HashMap::new();
    let mut running: JoinSet<TaskOutcome> = JoinSet::new();
    // A task that escapes `execute` by panicking comes back as a bare JoinError; its id
    // still tells whose it was.
    let mut names: HashMap<tokio::task::Id, String> = HashMap::new();

    loop {
        let step = graph.step(cancel.is_cancelled(), jobs.saturating_sub(running.len()));
        for s in step.settled {
            if let Why::Dependency(bad) = &s.why {
                tracing::warn!(task = %s.name, "Skipped: it runs after '{bad}', which did not succeed.");
            }
            let outcome = TaskOutcome::not_run(&s.name, s.status, s.why.reason());
            outcomes.insert(s.name, outcome);
        }
        for name in step.launch {
            let def = project.task(&name).expect("selected tasks exist").clone();
            let (p, r) = (project.clone(), run.clone());
            // The caller's span (a backfill window, a scheduled run) follows the task to
            // its thread, so its lines are attributed (and routed) like the run's own.
            let span = tracing::Span::current();
            let job = running.spawn_blocking(move || span.in_scope(|| execute(&p, &r, &def)));
            names.insert(job.id(), name);
        }
        let Some(joined) = running.join_next_with_id().await else {
            break;
        };
        let outcome = match joined {
            Ok((id, outcome)) => {
                names.remove(&id);
                outcome
            }
            Err(e) => {
                let name = names.remove(&e.id()).unwrap_or_else(|| "?".into());
                escaped(name, e)
            }
        };
        graph.finished(&outcome.name, outcome.status);
        outcomes.insert(outcome.name.clone(), outcome);
    }
    debug_assert!(graph.is_done(), "every selected task has an outcome");
    let outcomes = selected.iter().filter_map(|n| outcomes.remove(n)).collect();
    RunReport {
        outcomes,
        duration: started.elapsed(),
    }
}

/// A task whose thread ended without an outcome: `execute` catches panics of the task's
/// closure, so this is a panic in the runner's own bookkeeping (or an aborted job).
fn escaped(name: String, e: JoinError) -> TaskOutcome {
    let error = if e.is_panic() {
        super::panic::panicked(e.into_panic().as_ref())
    } else {
        format!("the task did not finish: {e}")
    };
    tracing::error!("Task '{name}' failed:\n{error}");
    TaskOutcome {
        name,
        status: TaskStatus::Failed,
        rows: 0,
        duration: Duration::ZERO,
        attempts: 1,
        error: Some(error),
        checks: Vec::new(),
    }
}
