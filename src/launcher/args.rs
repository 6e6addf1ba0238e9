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
