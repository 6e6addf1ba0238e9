//! `etl watch`: run a project, then re-run what each saved edit concerns (DESIGN.md §5.6).
//!
//! - `files.rs`: notify on its own thread, a debounce thread, the keyboard.
//! - `fingerprint.rs`: what each task is, so only changed tasks (and their dependants) re-run.
//! - `session.rs`: the loop: recompile off the async workers, keep the last good version,
//!   re-run, summarise.
//! - `diff.rs`: what each load changed since the previous re-run.
//! - `timeline.rs`: `--events`, the timestamps tools and tests read.

mod diff;
mod files;
mod fingerprint;
mod session;
mod timeline;

pub use diff::{Change, Snapshot};
pub use fingerprint::Analysis;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use tokio_util::sync::CancellationToken;

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

pub async fn command(config: Option<&Path>, args: WatchArgs) -> u8 {
    let cancel = CancellationToken::new();
    let quiet = Duration::from_millis(args.debounce.clamp(1, 5_000));
    let session = match session::Session::setup(config.map(Path::to_path_buf), args, cancel.clone())
    {
        session::Setup::Ready(s) => s,
        session::Setup::Exit(code) => return code,
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let ignore = session.ignored_dirs();
    let watcher = match files::FileWatcher::start(tx.clone(), quiet, ignore) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: cannot watch files: {e}");
            return 2;
        }
    };
    files::read_keys(tx);
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("Interrupted: stopping (loads in progress roll back).");
            on_signal.cancel();
        }
    });
    session.run(rx, watcher).await
}
