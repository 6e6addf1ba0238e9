//! `etl export cron` / `etl export schtasks`: how to run a project on its schedule with the
//! system's own scheduler.

use std::path::Path;

use super::args::ExportCommand;
use super::export::{cron_line, schtasks_commands};
use super::target::{check_env_name, launcher_args, load};
use crate::cron::Schedule;
use crate::outcome::{CliError, Outcome};

pub async fn export(config: Option<&Path>, what: ExportCommand) -> Result<Outcome, CliError> {
    let (args, cron) = match &what {
        ExportCommand::Cron(a) => (a, true),
        ExportCommand::Schtasks(a) => (a, false),
        ExportCommand::Airflow(a) => return super::airflow_command::export(config, a).await,
    };
    check_env_name(args.env.as_deref())?;
    let t = load(config, &args.project, args.env.as_deref()).await?;
    let Some(text) = &t.options.schedule else {
        return Err(CliError::usage(format!(
            "project '{}' has no schedule: add `schedule: \"0 2 * * *\"` (cron syntax) to its project(...) options",
            t.project.meta.name
        )));
    };
    let zone = t
        .options
        .timezone
        .clone()
        .unwrap_or_else(|| t.default_zone.clone());
    let schedule = Schedule::parse(text, zone).map_err(CliError::script)?;
    let launcher_args = launcher_args(&t, args.env.as_deref());
    let root = args
        .root
        .clone()
        .unwrap_or_else(|| t.root.display().to_string());
    let text = if cron {
        cron_line(
            &t.project.meta.name,
            &t.script,
            &schedule,
            &root,
            &launcher_args,
        )
    } else {
        schtasks_commands(&t.project.meta.name, &schedule, &root, &launcher_args)
    };
    crate::stdout::print(&text.map_err(CliError::usage)?)?;
    Ok(Outcome::Success)
}
