//! The `etl schedule` command: checks its settings, then loops until a signal: start what is
//! due, hear of finished runs, look at the folder on each poll.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;

use super::args::{ScheduleArgs, DEFAULT_GRACE_SECONDS};
use super::scheduler::Scheduler;
use super::signals::Signals;
use super::state::State;
use crate::config::Config;
use crate::cron::Zone;
use crate::exec;
use crate::logging;
use crate::outcome::{CliError, Outcome};

/// Runs until SIGTERM / SIGINT; the outcome is a success (each run's failure is its own,
/// logged and notified).
pub async fn command(config_path: Option<&Path>, args: ScheduleArgs) -> Result<Outcome, CliError> {
    if !args.dir.is_dir() {
        return Err(CliError::usage(format!(
            "{} is not a folder: give the folder that holds the projects (etl schedule PROJECTS_DIR)",
            args.dir.display()
        )));
    }
    let dir = std::path::absolute(&args.dir).unwrap_or_else(|_| args.dir.clone());
    let config =
        Config::load(config_path, Some(&dir), args.env.as_deref()).map_err(CliError::config)?;
    let zone_text = args.timezone.clone().or(config.schedule.timezone.clone());
    let default_zone = match &zone_text {
        Some(z) => Zone::parse(z).map_err(|e| match &args.timezone {
            Some(_) => CliError::usage(format!("--timezone: {e}")),
            None => CliError::config(format!("[schedule] timezone in etl.toml: {e}")),
        })?,
        None => Zone::Local,
    };
    let grace = args
        .grace
        .or(config.schedule.grace_seconds)
        .unwrap_or(DEFAULT_GRACE_SECONDS);
    if !(0.0..=86_400.0).contains(&grace) {
        return Err(CliError::usage(format!(
            "the grace period must be 0 to 86400 seconds, not {grace}"
        )));
    }
    if !(0.05..=3600.0).contains(&args.poll) {
        return Err(CliError::usage(format!(
            "--poll must be between 0.05 and 3600 seconds, not {}",
            args.poll
        )));
    }
    let home = config.metadata_dir.join("schedule");
    let stamp = crate::logging::process_stamp();
    let log_path = logging::attach_file(&home, "schedule", &stamp);
    logging::apply_retention(&home, "schedule", 30, 30);
    let mut signals =
        Signals::new().map_err(|e| CliError::system(format!("cannot watch for signals: {e}")))?;

    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let mut s = Scheduler {
        config_path: config_path.map(Path::to_path_buf),
        env: args.env.clone(),
        dir: dir.clone(),
        default_zone,
        jobs: args.jobs.unwrap_or_else(exec::default_jobs),
        entries: BTreeMap::new(),
        state: State::load(&home),
        done_tx,
        dir_error: false,
    };
    tracing::info!(
        "Scheduler started: projects in {}, environment '{}', time zone {}, grace period {grace}s{}.",
        dir.display(),
        config.env,
        s.default_zone.name(),
        match &log_path {
            Ok(p) => format!(", log {}", p.display()),
            Err(_) => String::new(),
        }
    );
    s.scan(true).await;
    if s.entries.is_empty() {
        tracing::warn!(
            "No project in {} yet (a project is a folder with project.rhai); new ones are picked up as they appear.",
            dir.display()
        );
    }

    let poll = Duration::from_secs_f64(args.poll);
    let mut next_poll = tokio::time::Instant::now() + poll;
    let signal = loop {
        s.start_due(Utc::now());
        let wake = match s.earliest_due() {
            Some(due) => {
                let until_due = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                next_poll.min(tokio::time::Instant::now() + until_due)
            }
            None => next_poll,
        };
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            Some(done) = done_rx.recv() => s.finished(done),
            sig = signals.recv() => break sig,
        }
        if tokio::time::Instant::now() >= next_poll {
            s.scan(false).await;
            next_poll = tokio::time::Instant::now() + poll;
        }
    };
    s.shutdown(signal, grace, &mut done_rx, &mut signals).await;
    Ok(Outcome::Success)
}
