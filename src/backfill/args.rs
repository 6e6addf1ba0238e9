//! The arguments of `etl backfill`.

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct BackfillArgs {
    /// The project script (projects/NAME/project.rhai)
    pub script: PathBuf,
    /// Start of the range, included: YYYY-MM-DD or "YYYY-MM-DD HH:MM:SS"
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// End of the range, excluded: YYYY-MM-DD or "YYYY-MM-DD HH:MM:SS"
    #[arg(long, value_name = "DATE")]
    pub to: String,
    /// Days per window (the last window ends at --to)
    #[arg(long, value_name = "N")]
    pub days: u32,
    /// Environment from etl.toml (default: ETL_ENV, then the file's default_env, then dev)
    #[arg(long, env = "ETL_ENV")]
    pub env: Option<String>,
    /// Backfill only this task (repeatable)
    #[arg(long = "task", value_name = "NAME")]
    pub tasks: Vec<String>,
    /// With --task: also run the tasks they depend on
    #[arg(long)]
    pub with_deps: bool,
    /// A value for run.params (repeatable)
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Windows run at once, each with its own connections
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub parallel: usize,
    /// Skip the windows whose tasks already succeeded for the same range (audit table)
    #[arg(long)]
    pub resume: bool,
    /// Run the remaining windows after a failure and report the failures at the end
    #[arg(long)]
    pub keep_going: bool,
    /// List the windows (with --resume: which would be skipped) and run nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Tasks run at once within a window (default: the number of cores)
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
}
