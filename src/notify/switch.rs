//! Whether mail may leave a run.

/// `--no-notify` and an environment's `notify = false` (or `enabled = false`) turn mail off,
/// `--notify` turns it back on. `switch` is the run's `--notify` / `--no-notify`
/// (`RunInfo::notify`).
pub fn mail_enabled(config: &crate::config::Config, switch: Option<bool>) -> bool {
    switch
        .or_else(|| config.notify.as_ref().and_then(|n| n.enabled))
        .unwrap_or(true)
}
