//! The command line as clap reads it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::{backfill, exec, launcher, schedule};

#[derive(Parser)]
#[command(
    name = "etl",
    version,
    about = "Load data into a warehouse with pipelines written as Rhai scripts",
    propagate_version = true
)]
pub struct Cli {
    /// Configuration file (default: etl.toml found from the project folder upwards; or ETL_CONFIG)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// More detail in the log (-v debug, -vv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run a project's tasks
    Exec(exec::ExecArgs),
    /// Reload a date range window by window (load type B), resumable
    Backfill(backfill::BackfillArgs),
    /// Run the projects of a folder on their `schedule`, reloading edited scripts
    Schedule(schedule::ScheduleArgs),
    /// Write a launcher script with a project's defaults (environment, load type)
    Launcher(launcher::LauncherArgs),
    /// Print the crontab line or Windows Task Scheduler command for a project's schedule
    #[command(subcommand)]
    Export(launcher::ExportCommand),
    /// Write an HTML page of the run history (charts, failures, watermarks) from the audit table
    Report(crate::report::ReportArgs),
    /// Run a project, then re-run what each saved edit concerns (hot reload)
    Watch(crate::watch::WatchArgs),
    /// Print what a run would do per task, without moving data (SQL, DDL, type map, rows)
    Plan(crate::plan::PlanArgs),
    /// Write Rhai definition files of the script API for editors
    Defs(crate::defs::DefsArgs),
    /// Compile a project script and validate its task graph without connecting to anything
    Check(CheckArgs),
    /// Create projects/NAME/ with a commented project.rhai that runs as generated
    New(NewArgs),
    /// Show the audit history (etl_runs) of a connection
    Runs(RunsArgs),
    /// Apply a project's pending SQL migrations (migrations/NNN_name.sql) and show their status
    Migrate(crate::migrate::MigrateArgs),
}

#[derive(Args)]
pub struct CheckArgs {
    /// The project script (projects/NAME/project.rhai)
    pub script: PathBuf,
    /// Environment whose connections the script's names are checked against
    #[arg(long, env = "ETL_ENV")]
    pub env: Option<String>,
    /// Connect to nothing: a script that lists a source's tables (`conn.tables()`) is
    /// checked with none, and the report says its task list depends on that source
    #[arg(long)]
    pub offline: bool,
}

#[derive(Args)]
pub struct NewArgs {
    pub name: String,
    /// Folder that holds the projects
    #[arg(long, default_value = "projects")]
    pub dir: PathBuf,
}

#[derive(Args)]
pub struct RunsArgs {
    /// Only this project
    #[arg(long)]
    pub project: Option<String>,
    /// How many records, newest first
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// The check results (etl_checks) instead of the runs
    #[arg(long)]
    pub checks: bool,
    /// Connection that holds the audit table
    #[arg(long, default_value = "warehouse")]
    pub connection: String,
    #[arg(long, env = "ETL_ENV")]
    pub env: Option<String>,
}
