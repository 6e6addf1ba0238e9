//! The `etl backfill` command: the windows of the range, those done earlier, the windows run
//! (several at once with `--parallel`), and the summary.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::args::BackfillArgs;
use super::range::Range;
use super::resume::done_windows;
use super::slots::{Slot, State};
use super::summary::{dry_run_listing, plural, summary};
use super::window_run::{run_window, Plan, WindowResult};
use crate::exec;
use crate::outcome::{CliError, Outcome};
use crate::runner;

pub async fn command(config: Option<&Path>, args: BackfillArgs) -> Result<Outcome, CliError> {
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("Interrupted: cancelling the backfill (loads in progress roll back).");
            on_signal.cancel();
        }
    });
    run(config, args, cancel, true).await
}

/// The backfill itself, stopped by `cancel`. `own_log`: the process log file is this
/// backfill's (`etl backfill`); a backfill started by `run_backfill()` inside a run logs into
/// that run's log instead.
pub async fn run(
    config: Option<&Path>,
    args: BackfillArgs,
    cancel: CancellationToken,
    own_log: bool,
) -> Result<Outcome, CliError> {
    let range = Range::parse(&args.from, &args.to, args.days).map_err(CliError::usage)?;
    if args.parallel == 0 {
        return Err(CliError::usage("--parallel must be 1 or more"));
    }
    let params = exec::parse_params(&args.params).map_err(CliError::usage)?;
    let selection = runner::Selection {
        tasks: args.tasks.clone(),
        with_deps: args.with_deps,
    };
    let (project, selected) = exec::prepare(
        config,
        &args.script,
        args.env.as_deref(),
        &selection,
        cancel.clone(),
        crate::runmode::RunMode::Write,
    )
    .await?;
    let mut slots: Vec<Slot> = range
        .windows()
        .into_iter()
        .map(|window| Slot {
            window,
            state: State::NotRun,
            run_id: String::new(),
            rows: 0,
            duration: Duration::ZERO,
        })
        .collect();
    if args.resume {
        let done = done_windows(&project, &selected, &slots)
            .await
            .map_err(|e| {
                CliError::reaching(e).context(format!(
                    "--resume: cannot read the audit table of connection '{}'",
                    project.meta.target
                ))
            })?;
        for (slot, runs) in slots.iter_mut().zip(done) {
            if let Some(runs) = runs {
                slot.state = State::Done(runs);
            }
        }
    }
    if args.dry_run {
        crate::stdout::print(&dry_run_listing(&project, &selected, &range, &slots))?;
        return Ok(Outcome::Success);
    }

    let log_path = if own_log {
        let stamp = crate::logging::process_stamp();
        exec::open_log(&project, &stamp, false, exec::LogTo::Process).path
    } else {
        None
    };
    let to_run = slots
        .iter()
        .filter(|s| !matches!(s.state, State::Done(_)))
        .count();
    tracing::info!(
        "Backfill of project '{}' started: {} .. {} in windows of {} days: {}, {} to run ({} done earlier), {} at once.",
        project.meta.name,
        range.text(range.from),
        range.text(range.to),
        range.days,
        plural(slots.len(), "window"),
        to_run,
        slots.len() - to_run,
        args.parallel
    );
    let plan = Arc::new(Plan {
        config: project.host.config.clone(),
        script: project.host.script.clone(),
        selection,
        params,
        jobs: args.jobs.unwrap_or_else(exec::default_jobs),
        cancel,
        total: slots.len(),
        range: range.clone(),
        log_path: log_path.clone(),
    });
    let started = Instant::now();
    run_windows(plan, &mut slots, args.parallel, args.keep_going).await;
    let outcome = conclude(&range, &slots, started);
    if let Some(p) = &log_path {
        tracing::info!("Log: {}", p.display());
    }
    Ok(outcome)
}

/// Runs the windows not done yet, `parallel` at once, in order. After a failure no further
/// window starts (those running finish), unless `keep_going`.
async fn run_windows(plan: Arc<Plan>, slots: &mut [Slot], parallel: usize, keep_going: bool) {
    let mut queue = slots
        .iter()
        .filter(|s| s.state == State::NotRun)
        .map(|s| s.window.clone())
        .collect::<VecDeque<_>>();
    let mut running: JoinSet<(usize, WindowResult)> = JoinSet::new();
    let mut stopping = false;
    loop {
        while !stopping && !plan.cancel.is_cancelled() && running.len() < parallel {
            let Some(window) = queue.pop_front() else {
                break;
            };
            let plan = plan.clone();
            let i = window.index;
            running.spawn(async move { (i, run_window(plan, window).await) });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, result) = match joined {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("A backfill window panicked: {e}");
                stopping = !keep_going;
                continue;
            }
        };
        let total = slots.len();
        let slot = &mut slots[i];
        slot.run_id = result.run_id;
        slot.rows = result.rows;
        slot.duration = result.duration;
        slot.state = result.state;
        if let State::Failed(why) = &slot.state {
            if !keep_going && !stopping {
                stopping = true;
                tracing::error!(
                    "Window {}/{total} failed ({why}): no further window starts{}.",
                    i + 1,
                    if running.is_empty() {
                        ""
                    } else {
                        "; the windows already running finish"
                    }
                );
            }
        }
    }
}

/// Logs the summary table and the verdict: a success only when every window is done.
fn conclude(range: &Range, slots: &[Slot], started: Instant) -> Outcome {
    let table = summary(range, slots);
    let failed: Vec<&Slot> = slots
        .iter()
        .filter(|s| matches!(s.state, State::Failed(_) | State::Cancelled))
        .collect();
    let not_run = slots.iter().filter(|s| s.state == State::NotRun).count();
    let succeeded = slots.iter().filter(|s| s.state == State::Succeeded).count();
    tracing::info!(
        "Backfill finished in {:.2}s.\n{table}",
        started.elapsed().as_secs_f64()
    );
    if failed.is_empty() && not_run == 0 {
        tracing::info!(
            "Backfill succeeded: {} run, {} done earlier.",
            plural(succeeded, "window"),
            slots.len() - succeeded
        );
        return Outcome::Success;
    }
    let list: Vec<String> = failed
        .iter()
        .map(|s| {
            format!(
                "{}/{} ({} .. {})",
                s.window.index + 1,
                slots.len(),
                range.text(s.window.since),
                range.text(s.window.until)
            )
        })
        .collect();
    tracing::error!(
        "Backfill failed: {} failed{}, {not_run} not run, {succeeded} succeeded. Run the same command with --resume to do the rest.",
        plural(failed.len(), "window"),
        if list.is_empty() {
            String::new()
        } else {
            format!(" ({})", list.join(", "))
        }
    );
    Outcome::Failed
}
