//! `etl migrate PROJECT [--dry-run] [--to NNN] [--env ENV]`: applies a project's pending
//! migrations on its target and prints their status.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::{apply, sets_of, status, store_of, table, MigrateError, State};
use crate::context::RunInfo;
use crate::outcome::{CliError, ErrorKind, Outcome};
use crate::runmode::RunMode;
use crate::script::Project;

#[derive(Args)]
pub struct MigrateArgs {
    /// The project: its script, its folder or its name (projects/NAME/project.rhai)
    pub project: PathBuf,
    /// Show what is applied and what is pending, apply nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Apply pending migrations numbered up to NNN only
    #[arg(long, value_name = "NNN")]
    pub to: Option<u64>,
    /// Environment from etl.toml (default: ETL_ENV, then the file's default_env, then dev)
    #[arg(long, env = "ETL_ENV")]
    pub env: Option<String>,
}

/// The script of PROJECT as given: a `.rhai` file, a folder holding `project.rhai`, or a name
/// under `projects/`.
fn script_of(project: &Path) -> Result<PathBuf, CliError> {
    if project.is_file() {
        return Ok(project.to_path_buf());
    }
    let candidates = [
        project.join("project.rhai"),
        Path::new("projects").join(project).join("project.rhai"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            CliError::usage(format!(
                "project '{}' not found: give its script, its folder or its name (tried {})",
                project.display(),
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

fn cli_error(e: MigrateError) -> CliError {
    match e {
        MigrateError::Invalid(m) => CliError::script(m),
        MigrateError::Failed(m) => CliError::new(ErrorKind::Connection, m),
    }
}

pub async fn command(config: Option<&Path>, args: MigrateArgs) -> Result<Outcome, CliError> {
    let script = script_of(&args.project)?;
    let mode = if args.dry_run {
        RunMode::Dry
    } else {
        RunMode::Write
    };
    let (project, _) = crate::exec::prepare(
        config,
        &script,
        args.env.as_deref(),
        &crate::runner::Selection {
            tasks: Vec::new(),
            with_deps: false,
        },
        CancellationToken::new(),
        mode,
    )
    .await?;
    let dry_run = args.dry_run;
    let to = args.to;
    let work = move || migrate(&project, dry_run, to);
    let text = tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| CliError::system(format!("migrating panicked: {e}")))?
        .map_err(cli_error)?;
    crate::stdout::print(&text)?;
    Ok(Outcome::Success)
}

fn migrate(project: &Arc<Project>, dry_run: bool, to: Option<u64>) -> Result<String, MigrateError> {
    let sets = sets_of(project)?;
    if sets.iter().all(|s| s.migrations.is_empty()) {
        return Ok(format!(
            "Project '{}' has no migrations (none in {}).\n",
            project.meta.name,
            project.host.project_dir.join("migrations").display()
        ));
    }
    let store = store_of(project)?;
    let mut statuses = status(&store, &sets)?;
    if !dry_run {
        let run_id = RunInfo::new_id(chrono::Utc::now());
        statuses = apply(&store, statuses, to, &run_id)?;
    }
    let pending = statuses
        .iter()
        .filter(|s| s.state == State::Pending)
        .count();
    let mut text = table(&statuses);
    text.push_str(&format!(
        "{pending} pending on connection '{}'{}.\n",
        store.conn.name,
        if dry_run {
            " (dry run: none applied)"
        } else {
            ""
        }
    ));
    Ok(text)
}
