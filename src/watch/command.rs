//! The `etl watch` command: set up the session, watch the files and the keyboard, stop on
//! Ctrl-C.

use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::args::WatchArgs;
use super::files;
use super::session::Session;
use crate::outcome::{CliError, Outcome};

pub async fn command(config: Option<&Path>, args: WatchArgs) -> Result<Outcome, CliError> {
    let cancel = CancellationToken::new();
    let quiet = Duration::from_millis(args.debounce.clamp(1, 5_000));
    let session = Session::setup(config.map(Path::to_path_buf), args, cancel.clone())?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let ignore = session.ignored_dirs();
    let watcher = files::FileWatcher::start(tx.clone(), quiet, ignore)
        .map_err(|e| CliError::system(format!("cannot watch files: {e}")))?;
    files::read_keys(tx);
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("Interrupted: stopping (loads in progress roll back).");
            on_signal.cancel();
        }
    });
    Ok(session.run(rx, watcher).await)
}
