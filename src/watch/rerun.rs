//! A re-run of some tasks: run them, remember what each was and read, compare what their
//! loads changed with the previous re-run, print the summary.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::json;

use super::diff::Snapshot;
use super::event_loop::Reason;
use super::session::{Session, TaskRun};
use super::sources::content_hash;
use super::timeline::micros;
use crate::exec::{self, RunRequest};
use crate::runner::{self, TaskStatus};
use crate::script::record::LoadEvent;
use crate::script::Project;
use crate::summary::Summary;

impl Session {
    pub(super) async fn run_tasks(&mut self, tasks: Vec<String>, reason: Reason) {
        let Some(project) = self.project.clone() else {
            return;
        };
        self.runs += 1;
        let run = exec::new_run(
            &project,
            RunRequest {
                load_type: self.load_type,
                window: None,
                params: self.params.clone(),
                dry_run: false,
                notify: None,
            },
        );
        let _ = self.recorder.take();
        crate::stdout::note(format_args!(
            "watch: run {} ({}): {}",
            self.runs,
            reason.as_str(),
            tasks.join(", ")
        ));
        self.timeline.emit(
            "run_start",
            json!({ "run": self.runs, "reason": reason.as_str(), "tasks": tasks }),
        );
        let jobs = self.args.jobs.unwrap_or_else(exec::default_jobs);
        let report = runner::run(project.clone(), run.clone(), tasks.clone(), jobs).await;
        let ended = SystemTime::now();
        exec::remove_outputs(&project, &run);
        let recorded = self.recorder.take();
        if let Some(analysis) = &self.analysis {
            for name in &tasks {
                let Some(def) = project.task(name) else {
                    continue;
                };
                let outcome = report.outcomes.iter().find(|o| &o.name == name);
                let inputs = recorded.inputs.get(name).cloned().unwrap_or_default();
                for i in &inputs {
                    self.known
                        .entry(i.clone())
                        .or_insert_with(|| content_hash(i));
                }
                self.ran.insert(
                    name.clone(),
                    TaskRun {
                        print: analysis.task(def),
                        inputs,
                        ok: outcome.is_some_and(|o| o.status == TaskStatus::Success),
                    },
                );
            }
        }
        let changes = self.compare_loads(&project, recorded.loads).await;
        let table = Summary::of_report(&report, &["change since the previous run"], |o| {
            vec![changes.get(&o.name).cloned().unwrap_or_default()]
        });
        crate::stdout::note(table.render().trim_end_matches('\n'));
        for o in &report.outcomes {
            if o.status == TaskStatus::Failed {
                crate::stdout::note(format_args!(
                    "watch: task '{}' failed:\n{}",
                    o.name,
                    o.error.clone().unwrap_or_default()
                ));
            }
        }
        let outcomes: Vec<serde_json::Value> = report
            .outcomes
            .iter()
            .map(|o| {
                json!({
                    "task": o.name,
                    "status": o.status.as_str(),
                    "rows": o.rows,
                    "seconds": o.duration.as_secs_f64(),
                    "change": changes.get(&o.name).cloned().unwrap_or_default(),
                })
            })
            .collect();
        let mut line = json!({
            "run": self.runs,
            "ok": report.succeeded(),
            "seconds": report.duration.as_secs_f64(),
            "outcomes": outcomes,
        });
        line["ended"] = json!(micros(ended));
        self.timeline.emit("run_end", line);
    }

    /// Reads back each loaded table and compares it with the previous re-run: per task, a
    /// short description of the changes of its loads.
    pub(super) async fn compare_loads(
        &mut self,
        project: &Arc<Project>,
        loads: Vec<LoadEvent>,
    ) -> HashMap<String, String> {
        let mut per_task: HashMap<String, Vec<String>> = HashMap::new();
        for load in loads {
            let host = project.host.clone();
            let io = self.io.clone();
            let (conn, table, key) = (
                load.connection.clone(),
                load.table.clone(),
                load.key.clone(),
            );
            let snap = tokio::task::spawn_blocking(move || {
                let db = host.connection(&conn)?;
                Snapshot::take(&db, &io, &table, &key)
            })
            .await;
            let text = match snap {
                Ok(Ok(new)) => {
                    let id = (load.connection.clone(), load.table.clone());
                    let text = match self.snapshots.get(&id) {
                        None => format!("{} rows (first load)", new.count),
                        Some(old) => match new.since(old) {
                            Some(c) => c.describe(),
                            None => format!("{} rows (too many to compare)", new.count),
                        },
                    };
                    self.snapshots.insert(id, new);
                    text
                }
                Ok(Err(e)) => format!("cannot compare: {e}"),
                Err(e) => format!("cannot compare: {e}"),
            };
            per_task
                .entry(load.task.clone())
                .or_default()
                .push(format!("{}: {text}", load.table));
        }
        per_task
            .into_iter()
            .map(|(k, v)| (k, v.join("; ")))
            .collect()
    }
}
