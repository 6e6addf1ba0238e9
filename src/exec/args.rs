//! The arguments of `etl exec`.

use std::path::PathBuf;

use clap::Args;

#[derive(Args)]
pub struct ExecArgs {
    /// The project script (projects/NAME/project.rhai)
    pub script: PathBuf,
    /// Environment from etl.toml (default: ETL_ENV, then the file's default_env, then dev)
    #[arg(long, env = "ETL_ENV")]
    pub env: Option<String>,
    /// F = full reload, I = incremental from the audit watermark
    #[arg(long, default_value = "F", value_name = "F|I")]
    pub load_type: String,
    /// Run only this task (repeatable)
    #[arg(long = "task", value_name = "NAME")]
    pub tasks: Vec<String>,
    /// With --task: also run the tasks they depend on
    #[arg(long)]
    pub with_deps: bool,
    /// A value for run.params (repeatable)
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Evaluate everything, write nothing: loads and SQL are logged instead of run
    #[arg(long)]
    pub dry_run: bool,
    /// Tasks run at once (default: the number of cores)
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Send the run's notification even where the environment turns mail off (and in a dry run)
    #[arg(long, conflicts_with = "no_notify")]
    pub notify: bool,
    /// Send no mail from this run: no notification, and send_email() sends nothing
    #[arg(long)]
    pub no_notify: bool,
    /// Run as one backfill window from this bound (included): a date, a local time, or a time
    /// with an offset such as Airflow's {{ data_interval_start | ts }}
    #[arg(
        long,
        value_name = "TIME",
        requires = "to",
        conflicts_with = "load_type"
    )]
    pub from: Option<String>,
    /// The window's end (excluded); with --from
    #[arg(long, value_name = "TIME", requires = "from")]
    pub to: Option<String>,
    /// Run each task once, whatever its `retries` (for schedulers that retry themselves)
    #[arg(long)]
    pub no_retries: bool,
}

impl ExecArgs {
    pub fn notify_switch(&self) -> Option<bool> {
        match (self.notify, self.no_notify) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
}
