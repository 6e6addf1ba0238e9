//! The `etl exec` command: one run of a project, interrupted cleanly by Ctrl-C.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::args::ExecArgs;
use super::log::{open_log, LogTo};
use super::prepare::{default_jobs, parse_params, prepare};
use super::run::{finish, new_run, run_tasks, RunRequest};
use crate::context::LoadType;
use crate::cron::Zone;
use crate::outcome::{CliError, Outcome};
use crate::runmode::RunMode;
use crate::runner;
use crate::script::project_options::ProjectOptions;
use crate::script::Project;

pub async fn command(config: Option<&Path>, args: ExecArgs) -> Result<Outcome, CliError> {
    let load_type = match LoadType::parse(&args.load_type) {
        Ok(LoadType::Backfill) => {
            return Err(CliError::usage(
                "--load-type B is set by `etl backfill`, not `etl exec`",
            ))
        }
        Ok(t) => t,
        Err(e) => return Err(CliError::usage(format!("--load-type: {e}"))),
    };
    let params = parse_params(&args.params).map_err(CliError::usage)?;
    let cancel = CancellationToken::new();
    let selection = runner::Selection {
        tasks: args.tasks.clone(),
        with_deps: args.with_deps,
    };
    let (project, selected) = prepare(
        config,
        &args.script,
        args.env.as_deref(),
        &selection,
        cancel.clone(),
        if args.dry_run {
            RunMode::Dry
        } else {
            RunMode::Write
        },
    )
    .await?;
    let window = match (&args.from, &args.to) {
        (Some(from), Some(to)) => {
            let w = super::window::parse(from, to, &project_zone(&project)?)
                .map_err(CliError::usage)?;
            Some((w.since, w.until))
        }
        _ => None,
    };
    let load_type = if window.is_some() {
        LoadType::Backfill
    } else {
        load_type
    };
    let mut project = project;
    // `run_backfill()` (projects/backfill) runs the backfill command, in this run only.
    let _ = project
        .host
        .backfiller
        .set(std::sync::Arc::new(crate::backfill::CommandBackfiller {
            config: config.map(Path::to_path_buf),
            env: project.host.config.env.clone(),
            projects_dir: project
                .host
                .project_dir
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            handle: tokio::runtime::Handle::current(),
            cancel: cancel.clone(),
        }));
    if args.no_retries {
        // Freshly evaluated, so nothing else holds the project yet.
        if let Some(p) = std::sync::Arc::get_mut(&mut project) {
            for t in &mut p.tasks {
                t.retries = 0;
            }
        }
    }
    let run = new_run(
        &project,
        RunRequest {
            load_type,
            window,
            params,
            dry_run: args.dry_run,
            notify: args.notify_switch(),
        },
    );
    let log = open_log(&project, &run.file_stamp(), run.dry_run, LogTo::Process);

    // Ctrl-C: stop launching tasks, cancel running loads (they roll back), record failures.
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("Interrupted: cancelling the run (loads in progress roll back).");
            on_signal.cancel();
        }
    });
    let jobs = args.jobs.unwrap_or_else(default_jobs);
    let report = run_tasks(&project, &run, selected, jobs).await;
    if let Some(p) = &log.path {
        tracing::info!("Log: {}", p.display());
    }
    finish(&project, &run, &report, log.path.as_deref()).await;
    Ok(Outcome::of(report.succeeded()))
}

/// The zone `--from` / `--to` times with an offset are converted to: the project's
/// `timezone`, else `[schedule] timezone` of etl.toml, else the system's (as the scheduler).
fn project_zone(project: &Project) -> Result<Zone, CliError> {
    let options = ProjectOptions::from_meta(&project.meta).map_err(CliError::script)?;
    if let Some(z) = options.timezone {
        return Ok(z);
    }
    match &project.host.config.schedule.timezone {
        Some(z) => Zone::parse(z)
            .map_err(|e| CliError::config(format!("[schedule] timezone in etl.toml: {e}"))),
        None => Ok(Zone::Local),
    }
}
