//! Stopping on a signal: no new run starts, running ones get the grace period, then they are
//! cancelled and get a while to roll back.

use std::time::Duration;

use tokio::sync::mpsc;

use super::scheduler::{local, Done, Scheduler};
use super::signals::Signals;

/// After the grace period, how long cancelled runs get to roll back before the process exits.
const CANCEL_WAIT: Duration = Duration::from_secs(120);

impl Scheduler {
    pub(super) fn running_names(&self) -> Vec<String> {
        self.entries
            .values()
            .filter(|e| e.running.is_some())
            .map(|e| e.name().unwrap_or("?").to_string())
            .collect()
    }

    /// No new run starts; running ones finish within the grace period or are cancelled.
    pub(super) async fn shutdown(
        &mut self,
        signal: &str,
        grace: f64,
        done_rx: &mut mpsc::UnboundedReceiver<Done>,
        signals: &mut Signals,
    ) {
        let running = self.running_names();
        if running.is_empty() {
            tracing::info!("{signal}: stopping; no run was in progress. Scheduler stopped.");
            return;
        }
        tracing::warn!(
            "{signal}: stopping. No new run starts; waiting up to {grace}s for the running runs of: {} (again to cancel them now).",
            running.join(", ")
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(grace);
        while !self.running_names().is_empty() {
            tokio::select! {
                Some(done) = done_rx.recv() => self.finished(done),
                _ = tokio::time::sleep_until(deadline) => break,
                sig = signals.recv() => {
                    tracing::warn!("{sig} again: cancelling now.");
                    break;
                }
            }
        }
        let still = self.running_names();
        if !still.is_empty() {
            tracing::warn!(
                "Cancelling the runs of: {} (loads in progress roll back and are recorded as failed).",
                still.join(", ")
            );
            for e in self.entries.values() {
                if let Some(r) = &e.running {
                    r.cancel.cancel();
                    tracing::debug!(run_id = %r.run_id, due = %local(r.due), "Cancelled.");
                }
            }
            let hard = tokio::time::Instant::now() + CANCEL_WAIT;
            while !self.running_names().is_empty() {
                tokio::select! {
                    Some(done) = done_rx.recv() => self.finished(done),
                    _ = tokio::time::sleep_until(hard) => {
                        tracing::error!(
                            "The runs of {} did not stop within {}s of being cancelled; exiting anyway.",
                            self.running_names().join(", "),
                            CANCEL_WAIT.as_secs()
                        );
                        break;
                    }
                }
            }
        }
        tracing::info!("Scheduler stopped.");
    }
}
