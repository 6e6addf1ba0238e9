//! The `etl plan` command: a dry run whose loads are described instead of run.

use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::args::PlanArgs;
use super::collect::Collector;
use super::render::render;
use crate::backfill::Range;
use crate::context::LoadType;
use crate::exec::{self, RunRequest};
use crate::outcome::{CliError, Outcome};
use crate::runner::{self, TaskStatus};
use crate::script::{Host, HostOptions, Mode};

/// Prints the plan; the outcome is a failure when a task's closure failed.
pub async fn command(config: Option<&Path>, args: PlanArgs) -> Result<Outcome, CliError> {
    let range = match (&args.from, &args.to) {
        (Some(f), Some(t)) => Some(Range::parse(f, t, args.days).map_err(CliError::usage)?),
        _ => None,
    };
    let load_type = match (&range, LoadType::parse(&args.load_type)) {
        (Some(_), _) => LoadType::Backfill,
        (None, Ok(LoadType::Backfill)) => {
            return Err(CliError::usage("--load-type B needs --from and --to"))
        }
        (None, Ok(t)) => t,
        (None, Err(e)) => return Err(CliError::usage(format!("--load-type: {e}"))),
    };
    let params = exec::parse_params(&args.params).map_err(CliError::usage)?;
    let config = exec::load_config(config, Some(&args.script), args.env.as_deref())?;
    let collector = Arc::new(Collector::default());
    let options = HostOptions {
        mode: crate::runmode::RunMode::Plan(collector.clone()),
        ..HostOptions::default()
    };
    let io = exec::io(CancellationToken::new());
    let host = Host::with_options(Mode::Run, config, &args.script, io, options);
    let project = Arc::new(exec::compile(host).await.map_err(CliError::script)?);
    let selection = runner::Selection {
        tasks: args.tasks.clone(),
        with_deps: false,
    };
    let selected = runner::select(&project, &selection).map_err(CliError::usage)?;
    let window = range.as_ref().map(|r| (r.text(r.from), r.text(r.to)));
    let run = exec::new_run(
        &project,
        RunRequest {
            load_type,
            window,
            params,
            dry_run: true,
            notify: None,
        },
    );
    let migrations = migrations_section(&project).await;
    // One task at a time, so the plan reads in the order of the graph.
    let report = runner::run(project.clone(), run.clone(), selected.clone(), 1).await;
    let items = collector.take();
    if let Some((text, _)) = &migrations {
        crate::stdout::print(text)?;
    }
    crate::stdout::print(&render(
        &project,
        &run,
        range.as_ref(),
        &selected,
        &report,
        items,
    ))?;
    Ok(Outcome::of(
        migrations.is_none_or(|(_, ok)| ok)
            && report
                .outcomes
                .iter()
                .all(|o| o.status == TaskStatus::Success),
    ))
}

/// What a run would apply first: the project's migrations and their state (read-only), or
/// why they stop the run. None without migrations.
async fn migrations_section(project: &Arc<crate::script::Project>) -> Option<(String, bool)> {
    let p = project.clone();
    let result = tokio::task::spawn_blocking(move || crate::migrate::before_run(&p, ""))
        .await
        .map_err(|e| crate::migrate::MigrateError::Failed(e.to_string()))
        .and_then(|r| r);
    match result {
        Ok(statuses) if statuses.is_empty() => None,
        Ok(statuses) => {
            let pending = statuses
                .iter()
                .filter(|s| s.state == crate::migrate::State::Pending)
                .count();
            Some((
                format!(
                    "Migrations on '{}' ({pending} pending, applied before the first task):\n{}\n",
                    project.meta.target,
                    crate::migrate::table(&statuses)
                ),
                true,
            ))
        }
        Err(e) => Some((
            format!("Migrations: the run would stop here: {e}\n\n"),
            false,
        )),
    }
}
