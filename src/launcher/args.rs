//! The arguments of `etl launcher` and `etl export`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Os {
    /// A POSIX shell script (.sh)
    Unix,
    /// A batch file (.bat)
    Windows,
}

#[derive(Args)]
pub struct LauncherArgs {
    /// The project: its name (projects/NAME), its folder, or its project.rhai
    pub project: String,
    /// The environment the launcher runs in (default: none, so etl.toml / ETL_ENV decide)
    #[arg(long)]
    pub env: Option<String>,
    /// The kind of script (default: this system's)
    #[arg(long, value_enum)]
    pub os: Option<Os>,
    /// Where to write it (default: launchers/run_NAME.sh or .bat beside the projects folder)
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Replace an existing file
    #[arg(long)]
    pub force: bool,
}

#[derive(Subcommand)]
pub enum ExportCommand {
    /// Print the crontab line that runs a project on its schedule (through launchers/run.sh)
    Cron(ExportArgs),
    /// Print the Windows Task Scheduler commands (schtasks) that run a project on its schedule
    Schtasks(ExportArgs),
    /// Write an Airflow 3 DAG file per project (one Airflow task per script task)
    Airflow(AirflowArgs),
}

#[derive(Args)]
pub struct AirflowArgs {
    /// The project: its name (projects/NAME), its folder, or its project.rhai
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub project: Option<String>,
    /// Every project under projects/ that has a schedule
    #[arg(long)]
    pub all: bool,
    /// The folder the DAG files are written to
    #[arg(long, value_name = "DIR", default_value = "dags")]
    pub out: PathBuf,
    /// How each task runs etl
    #[arg(long, value_enum, default_value = "bash")]
    pub mode: super::airflow::Mode,
    /// The container image (docker and kubernetes modes)
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// The etl executable on the Airflow workers (bash mode)
    #[arg(long, value_name = "PATH", default_value = "etl")]
    pub etl: String,
    /// The folder holding projects/ on the workers (bash mode; default: this one)
    #[arg(long, value_name = "DIR")]
    pub root: Option<String>,
    /// The environment the tasks run in (default: none, so etl.toml / ETL_ENV decide)
    #[arg(long)]
    pub env: Option<String>,
    /// The first data interval's start, YYYY-MM-DD (required for `missed: "run_once"`)
    #[arg(long, value_name = "DATE")]
    pub start_date: Option<String>,
}

#[derive(Args)]
pub struct ExportArgs {
    /// The project: its name (projects/NAME), its folder, or its project.rhai
    pub project: String,
    /// The environment the scheduled runs use (default: none, so etl.toml / ETL_ENV decide)
    #[arg(long)]
    pub env: Option<String>,
    /// The folder holding launchers/ and projects/ on the machine that runs it (default: this one)
    #[arg(long, value_name = "DIR")]
    pub root: Option<String>,
}
