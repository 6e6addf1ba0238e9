//! The arguments of `etl watch`.

use std::path::PathBuf;

use clap::Args;

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// The project script (projects/NAME/project.rhai)
    pub script: PathBuf,
    /// Environment from etl.toml (default: ETL_ENV, then the file's default_env, then dev)
    #[arg(long, env = "ETL_ENV")]
    pub env: Option<String>,
    /// Watch and run only this task (repeatable)
    #[arg(long = "task", value_name = "NAME")]
    pub tasks: Vec<String>,
    /// Sample run: read at most N rows from each source, and load into the scratch schema
    /// (or table prefix) instead of the production tables
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// The scratch schema / table prefix of sample runs (default: etl_dev_<user>); implies
    /// a sample run even without --limit
    #[arg(long, value_name = "NAME", env = "ETL_DEV_SCRATCH")]
    pub scratch: Option<String>,
    /// Re-run every task on each change, not only the changed ones and their dependants
    #[arg(long)]
    pub all: bool,
    /// F = full reload, I = incremental from the audit watermark
    #[arg(long, default_value = "F", value_name = "F|I")]
    pub load_type: String,
    /// A value for run.params (repeatable)
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Tasks run at once (default: the number of cores)
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Quiet time that closes a burst of file events, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 50)]
    pub debounce: u64,
    /// Append one JSON line per watcher event (change, compile, run start and end, with
    /// microsecond timestamps) to this file, for tools and tests
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
}
