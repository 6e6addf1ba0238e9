//! `etl export airflow PROJECT|--all`: evaluates each project (without connecting) and writes
//! its DAG file.

use std::path::Path;

use super::airflow::{dag_file, Dag, DagTask};
use super::args::AirflowArgs;
use super::target::{check_env_name, load, Target};
use crate::outcome::{CliError, Outcome};

pub async fn export(config: Option<&Path>, args: &AirflowArgs) -> Result<Outcome, CliError> {
    check_env_name(args.env.as_deref())?;
    let start_date = args
        .start_date
        .as_deref()
        .map(|s| {
            chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map_err(|_| CliError::usage(format!("--start-date '{s}': write YYYY-MM-DD")))
        })
        .transpose()?;
    let projects = match &args.project {
        Some(p) => vec![p.clone()],
        None => {
            let names = crate::schedule::project_names(Path::new("projects"));
            if names.is_empty() {
                return Err(CliError::usage(
                    "--all: no projects/NAME/project.rhai here; run it in the folder holding projects/",
                ));
            }
            names
        }
    };
    std::fs::create_dir_all(&args.out).map_err(|e| {
        CliError::usage(format!(
            "--out {}: cannot create it: {e}",
            args.out.display()
        ))
    })?;
    for name in &projects {
        let t = load(config, name, args.env.as_deref()).await?;
        if t.options.schedule.is_none() {
            if args.all {
                tracing::warn!(
                    "Project '{}' has no schedule: no DAG written (add `schedule: \"0 2 * * *\"` to its project(...) options).",
                    t.project.meta.name
                );
                continue;
            }
            return Err(CliError::usage(format!(
                "project '{}' has no schedule: add `schedule: \"0 2 * * *\"` (cron syntax) to its project(...) options",
                t.project.meta.name
            )));
        }
        let text = dag_file(&dag(&t, args, start_date)).map_err(CliError::usage)?;
        let path = args.out.join(format!("{}.py", t.project.meta.name));
        std::fs::write(&path, text)
            .map_err(|e| CliError::usage(format!("{}: cannot write it: {e}", path.display())))?;
        tracing::info!(
            "Wrote {} (project '{}', {} tasks).",
            path.display(),
            t.project.meta.name,
            t.project.tasks.len()
        );
    }
    Ok(Outcome::Success)
}

fn dag(t: &Target, args: &AirflowArgs, start_date: Option<chrono::NaiveDate>) -> Dag {
    let meta = &t.project.meta;
    Dag {
        project: meta.name.clone(),
        version: meta.version.clone(),
        script: format!("projects/{}/project.rhai", t.folder),
        schedule: t.options.schedule.clone().unwrap_or_default(),
        zone: t
            .options
            .timezone
            .clone()
            .unwrap_or_else(|| t.default_zone.clone()),
        missed: t.options.missed,
        start_date,
        tasks: t
            .project
            .tasks
            .iter()
            .map(|d| DagTask {
                name: d.name.clone(),
                after: d.after.clone(),
                retries: d.retries,
                retry_delay: d.retry_delay,
                timeout: d.timeout,
            })
            .collect(),
        mode: args.mode,
        root: args
            .root
            .clone()
            .unwrap_or_else(|| t.root.display().to_string()),
        etl: args.etl.clone(),
        image: args.image.clone(),
        env: args.env.clone(),
    }
}
