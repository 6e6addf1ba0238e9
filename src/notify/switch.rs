//! Whether mail may leave a run.

use std::sync::OnceLock;

/// `--notify` (Some(true)) / `--no-notify` (Some(false)) of this process's run, set once by
/// the command line before any task runs; `send_email` reads it.
static CLI_SWITCH: OnceLock<Option<bool>> = OnceLock::new();

pub fn set_cli_switch(switch: Option<bool>) {
    let _ = CLI_SWITCH.set(switch);
}

pub fn cli_switch() -> Option<bool> {
    CLI_SWITCH.get().copied().flatten()
}

/// Whether mail may leave this run at all: `--no-notify` and an environment's
/// `notify = false` (or `enabled = false`) turn it off, `--notify` turns it back on.
pub fn mail_enabled(config: &crate::config::Config) -> bool {
    cli_switch()
        .or_else(|| config.notify.as_ref().and_then(|n| n.enabled))
        .unwrap_or(true)
}
