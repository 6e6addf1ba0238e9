//! Scheduled runs: starting those due (never two of one project at once) and hearing that
//! one finished.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use tracing::Instrument;

use super::scheduler::{local, Done, Running, Scheduler};
use super::state;
use crate::exec::{self, RunRequest};

impl Scheduler {
    /// Starts every project whose time has come, unless its previous run is still going.
    pub(super) fn start_due(&mut self, now: DateTime<Utc>) {
        let due: Vec<PathBuf> = self
            .entries
            .iter()
            .filter(|(_, e)| e.loaded.is_some() && e.next_due.is_some_and(|d| d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for dir in due {
            let entry = self.entries.get_mut(&dir).expect("listed");
            let loaded = entry.loaded.as_ref().expect("filtered");
            let due = entry.next_due.expect("filtered");
            let name = loaded.project.meta.name.clone();
            entry.next_due = loaded
                .schedule
                .as_ref()
                .and_then(|s| s.next_after(now.max(due)));
            if let Some(r) = &entry.running {
                tracing::warn!(
                    run_id = %r.run_id,
                    "Project '{name}' is due ({}) but its run started {} is still going: this occurrence is skipped (runs of a project never overlap).",
                    local(due),
                    local(r.started)
                );
                self.state
                    .update(&name, |p| p.last_due = Some(state::stamp(due)));
                continue;
            }
            let project = loaded.project.clone();
            let cancel = loaded.cancel.clone();
            let load_type = loaded.options.load_type;
            let run = exec::new_run(
                &project,
                RunRequest {
                    load_type,
                    window: None,
                    params: BTreeMap::new(),
                    dry_run: false,
                    notify: None,
                },
            );
            let span = tracing::error_span!("run", project = %name);
            let log = exec::open_log(&project, &run.file_stamp(), false, exec::LogTo::Span(&span));
            tracing::info!(
                run_id = %run.id,
                "Starting the scheduled run of project '{name}' (due {}, load type {}){}.",
                local(due),
                load_type.code(),
                entry
                    .next_due
                    .map(|n| format!("; next {}", local(n)))
                    .unwrap_or_default()
            );
            self.state.update(&name, |p| {
                p.last_due = Some(state::stamp(due));
                p.last_started = Some(state::stamp(now));
                p.last_run_id = Some(run.id.clone());
            });
            entry.running = Some(Running {
                due,
                started: now,
                run_id: run.id.clone(),
                cancel,
            });
            let selected: Vec<String> = project.tasks.iter().map(|t| t.name.clone()).collect();
            let jobs = self.jobs;
            let tx = self.done_tx.clone();
            let started = std::time::Instant::now();
            tokio::spawn(async move {
                let work = async {
                    let report = exec::run_tasks(&project, &run, selected, jobs)
                        .instrument(span.clone())
                        .await;
                    if let Some(p) = &log.path {
                        span.in_scope(|| tracing::info!("Log: {}", p.display()));
                    }
                    exec::finish(&project, &run, &report, log.path.as_deref())
                        .instrument(span.clone())
                        .await;
                    report.succeeded()
                };
                let ok = std::panic::AssertUnwindSafe(work)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| {
                        tracing::error!(run_id = %run.id, "The run of project '{name}' panicked.");
                        false
                    });
                drop(log);
                let _ = tx.send(Done {
                    dir,
                    project: name,
                    run_id: run.id.clone(),
                    ok,
                    seconds: started.elapsed().as_secs_f64(),
                });
            });
        }
    }

    pub(super) fn finished(&mut self, done: Done) {
        if let Some(entry) = self.entries.get_mut(&done.dir) {
            if entry
                .running
                .as_ref()
                .is_some_and(|r| r.run_id == done.run_id)
            {
                entry.running = None;
            }
        }
        let status = if done.ok { "success" } else { "failed" };
        self.state.update(&done.project, |p| {
            p.last_finished = Some(state::stamp(Utc::now()));
            p.last_status = Some(status.into());
            p.last_run_id = Some(done.run_id.clone());
        });
        if done.ok {
            tracing::info!(run_id = %done.run_id, "Scheduled run of project '{}' succeeded in {:.2}s.", done.project, done.seconds);
        } else {
            tracing::error!(run_id = %done.run_id, "Scheduled run of project '{}' failed after {:.2}s (see its log).", done.project, done.seconds);
        }
    }
}
