//! The configuration and I/O handle the small commands share.

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::connectors::Io;

fn project_dir(script: &Path) -> Option<PathBuf> {
    std::path::absolute(script)
        .ok()?
        .parent()
        .map(Path::to_path_buf)
}

pub(super) fn load_config(
    explicit: Option<&Path>,
    script: Option<&Path>,
    env: Option<&str>,
) -> Result<Config, u8> {
    Config::load(explicit, script.and_then(project_dir).as_deref(), env).map_err(|e| {
        eprintln!("error: {e}");
        2
    })
}

pub(super) fn io(cancel: CancellationToken) -> Io {
    Io {
        handle: tokio::runtime::Handle::current(),
        cancel,
    }
}
