//! The arguments of `etl schedule`.

use std::path::PathBuf;

/// Used when neither `--grace` nor `[schedule] grace_seconds` says otherwise.
pub const DEFAULT_GRACE_SECONDS: f64 = 60.0;

#[derive(clap::Args)]
pub struct ScheduleArgs {
    /// The folder of projects (each a folder holding project.rhai)
    #[arg(default_value = "projects", value_name = "PROJECTS_DIR")]
    pub dir: PathBuf,
    /// Environment from etl.toml (default: ETL_ENV, then the file's default_env, then dev)
    #[arg(long, env = "ETL_ENV")]
    pub env: Option<String>,
    /// Time zone of schedules whose project sets no `timezone` (IANA name, or "local";
    /// default: [schedule] timezone in etl.toml, else the system's)
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
    /// Seconds running loads may take to finish after SIGTERM/SIGINT before they are
    /// cancelled (default: [schedule] grace_seconds in etl.toml, else 60)
    #[arg(long, value_name = "SECONDS")]
    pub grace: Option<f64>,
    /// Seconds between two looks at the folder for new and edited scripts
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub poll: f64,
    /// Tasks run at once in each run (default: the number of cores)
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
}
