//! The arguments of `etl plan`.

use std::path::PathBuf;

use clap::Args;

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// The project script (projects/NAME/project.rhai)
    pub script: PathBuf,
    /// Environment from etl.toml (default: ETL_ENV, then the file's default_env, then dev)
    #[arg(long, env = "ETL_ENV")]
    pub env: Option<String>,
    /// F = full reload, I = incremental from the audit watermark
    #[arg(long, default_value = "F", value_name = "F|I")]
    pub load_type: String,
    /// A backfill range's start (with --to): plans load type B over [--from, --to)
    #[arg(long, value_name = "DATE", requires = "to")]
    pub from: Option<String>,
    /// A backfill range's end, excluded
    #[arg(long, value_name = "DATE", requires = "from")]
    pub to: Option<String>,
    /// Days per backfill window
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub days: u32,
    /// Plan only this task (repeatable)
    #[arg(long = "task", value_name = "NAME")]
    pub tasks: Vec<String>,
    /// A value for run.params (repeatable)
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
}
