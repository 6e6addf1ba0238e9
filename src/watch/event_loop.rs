//! The session's loop: file events and keys, coalesced, become re-runs of what they concern.

use std::path::PathBuf;
use std::time::SystemTime;

use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;

use super::files::{FileWatcher, Trigger};
use super::session::{load_config, Session};
use super::sources::shorten;
use super::timeline::micros;
use crate::outcome::Outcome;
use crate::script::SharedConnections;

/// Why a run starts.
#[derive(Clone, Copy)]
pub(super) enum Reason {
    Start,
    Change,
    Full,
}

impl Reason {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Reason::Start => "start",
            Reason::Change => "change",
            Reason::Full => "full",
        }
    }
}

impl Session {
    /// Runs the session until Ctrl-C or `q`: a success however the runs went, as the user
    /// saw each one.
    pub async fn run(
        mut self: Box<Self>,
        mut triggers: UnboundedReceiver<Trigger>,
        mut watcher: FileWatcher,
    ) -> Outcome {
        let cancel = self.io.cancel.clone();
        if self.compile().await {
            let all = self.selected.clone();
            self.run_tasks(all, Reason::Start).await;
        }
        self.watch_dirs(&mut watcher);
        crate::stdout::note(format_args!(
            "watch: watching {} (save a file to re-run what it concerns; r + Enter re-runs everything, q + Enter or Ctrl-C quits)",
            self.project_dir().display()
        ));
        self.timeline.emit("ready", json!({}));
        loop {
            let trigger = tokio::select! {
                t = triggers.recv() => t,
                _ = cancel.cancelled() => None,
            };
            let Some(mut trigger) = trigger else { break };
            // Folders created since (a new stdlib/, a module elsewhere) are watched from now on.
            self.watch_dirs(&mut watcher);
            // Coalesce what queued up meanwhile (a run in progress, a burst of saves).
            let mut paths: Vec<PathBuf> = Vec::new();
            let mut first: Option<SystemTime> = None;
            let mut full = false;
            loop {
                match trigger {
                    Trigger::Quit => {
                        crate::stdout::note(format_args!("watch: bye"));
                        return Outcome::Success;
                    }
                    Trigger::Full => full = true,
                    Trigger::Files { paths: p, first: t } => {
                        paths.extend(p);
                        first = Some(first.map_or(t, |f| f.min(t)));
                    }
                }
                match triggers.try_recv() {
                    Ok(t) => trigger = t,
                    Err(_) => break,
                }
            }
            let changed = self.changed_files(paths);
            if !changed.is_empty() {
                let shown: Vec<String> = changed.iter().map(|p| shorten(p)).collect();
                crate::stdout::note(format_args!("watch: changed {}", shown.join(", ")));
                self.timeline.emit(
                    "change",
                    json!({ "first_event": first.map(micros), "paths": shown }),
                );
            }
            if changed.is_empty() && !full {
                continue;
            }
            self.on_change(&changed, full).await;
        }
        crate::stdout::note(format_args!("watch: stopped"));
        Outcome::Success
    }

    pub(super) async fn on_change(&mut self, changed: &[PathBuf], full: bool) {
        let config_changed = changed.iter().any(|p| self.is_config(p));
        if config_changed {
            match load_config(self.config_arg.as_deref(), &self.args) {
                Ok(c) => {
                    self.config = c;
                    // Connections may point elsewhere now: open them anew.
                    self.connections = SharedConnections::default();
                    crate::stdout::note(format_args!("watch: configuration reloaded"));
                }
                Err(e) => {
                    tracing::error!("{e}");
                    crate::stdout::note(format_args!(
                        "watch: the configuration does not load: keeping the previous one"
                    ));
                    return;
                }
            }
        }
        let scripts_changed = changed
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "rhai"));
        if (config_changed || scripts_changed || self.project.is_none()) && !self.compile().await {
            return;
        }
        if self.project.is_none() {
            return;
        }
        let tasks = if full || config_changed || self.args.all {
            self.selected.clone()
        } else {
            self.affected(changed)
        };
        if tasks.is_empty() {
            crate::stdout::note(format_args!("watch: no task is affected by this change"));
            self.timeline.emit("nothing_to_run", json!({}));
            return;
        }
        let reason = if full { Reason::Full } else { Reason::Change };
        self.run_tasks(tasks, reason).await;
    }
}
