//! A compiled version takes effect: its schedule's next due time, and the runs it missed while
//! the scheduler was down.

use std::path::Path;

use chrono::Utc;

use super::scheduler::{local, Loaded, Scheduler};
use super::state;
use super::watch;
use crate::script::project_options::Missed;

/// Missed occurrences counted for the log line (a minutely schedule down for a month).
const MISSED_COUNT_CAP: usize = 10_000;

impl Scheduler {
    /// A compilation's result becomes the project's version; a failed one keeps the last good
    /// version (or leaves a new project unscheduled) and logs why.
    pub(super) fn apply(&mut self, dir: &Path, result: Result<Loaded, String>) {
        let now = Utc::now();
        let entry = self.entries.get_mut(dir).expect("entry exists");
        let loaded = match result {
            Ok(l) => l,
            Err(e) => {
                match &entry.loaded {
                    Some(old) => tracing::error!(
                        "The edited script of project '{}' does not compile; the scheduler keeps its last good version (v{}) until it is fixed:\n{e}",
                        old.project.meta.name,
                        old.project.meta.version
                    ),
                    None => tracing::error!(
                        "{} does not compile; it is not scheduled until it is fixed:\n{e}",
                        dir.join(watch::SCRIPT).display()
                    ),
                }
                return;
            }
        };
        let meta = &loaded.project.meta;
        let schedule_changed = entry
            .loaded
            .as_ref()
            .is_none_or(|old| old.schedule != loaded.schedule);
        match &entry.loaded {
            Some(_) => tracing::info!(
                "Reloaded project '{}' v{} from {}: its next run uses it.",
                meta.name,
                meta.version,
                dir.display()
            ),
            None => tracing::info!(
                "Loaded project '{}' v{} from {} ({} tasks, load type {}).",
                meta.name,
                meta.version,
                dir.display(),
                loaded.project.tasks.len(),
                loaded.options.load_type.code()
            ),
        }
        let name = meta.name.clone();
        match &loaded.schedule {
            None => {
                if schedule_changed {
                    tracing::info!(
                        "Project '{name}' has no schedule: the scheduler does not run it."
                    );
                }
                entry.next_due = None;
            }
            Some(schedule) => {
                if schedule_changed || entry.next_due.is_none() {
                    entry.next_due = schedule.next_after(now);
                }
                if !entry.checked_missed {
                    if let Some(last) = self.state.get(&name).last_due() {
                        let (count, latest) = schedule.between(last, now, MISSED_COUNT_CAP);
                        if let Some(latest) = latest {
                            let many = if count >= MISSED_COUNT_CAP {
                                format!("{count} or more runs")
                            } else if count == 1 {
                                "1 run".into()
                            } else {
                                format!("{count} runs")
                            };
                            match loaded.options.missed {
                                Missed::RunOnce => {
                                    tracing::warn!(
                                        "Project '{name}' missed {many} while the scheduler was not running (last {}): running once now (missed: \"run_once\").",
                                        local(latest)
                                    );
                                    entry.next_due = Some(now);
                                }
                                Missed::Skip => {
                                    tracing::warn!(
                                        "Project '{name}' missed {many} while the scheduler was not running (last {}): skipped (missed: \"skip\"; \"run_once\" runs once instead).",
                                        local(latest)
                                    );
                                    self.state
                                        .update(&name, |p| p.last_due = Some(state::stamp(latest)));
                                }
                            }
                        }
                    }
                }
                if let Some(next) = entry.next_due {
                    if schedule_changed {
                        tracing::info!(
                            "Project '{name}': schedule \"{}\" ({}); next run {}.",
                            schedule.text,
                            schedule.zone.name(),
                            local(next)
                        );
                    }
                } else {
                    tracing::warn!(
                        "Project '{name}': schedule \"{}\" never falls again; it is not run.",
                        schedule.text
                    );
                }
            }
        }
        entry.checked_missed = true;
        entry.loaded = Some(loaded);
    }
}
