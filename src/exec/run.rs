//! One run of a project: its context, its tasks with the start and summary logged, and its
//! end (notification, output files).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::context::{LoadType, RunInfo};
use crate::runner::{self, RunReport, TaskStatus};
use crate::script::Project;
use crate::summary::Summary;

/// What a run is asked to do, beyond the project itself.
#[derive(Clone, Debug)]
pub struct RunRequest {
    pub load_type: LoadType,
    /// `[since, until)` of a backfill window, as `run.since` / `run.until`.
    pub window: Option<(String, String)>,
    pub params: BTreeMap<String, String>,
    pub dry_run: bool,
    /// `--notify` / `--no-notify`, as `RunInfo::notify`.
    pub notify: Option<bool>,
}

/// The context of a new run of `project`: its own id, start time and output folder.
pub fn new_run(project: &Project, request: RunRequest) -> Arc<RunInfo> {
    let meta = &project.meta;
    let config = &project.host.config;
    let started_at = chrono::Utc::now();
    let (since, until) = match request.window {
        Some((s, u)) => (Some(s), Some(u)),
        None => (None, None),
    };
    Arc::new(RunInfo {
        id: RunInfo::new_id(started_at),
        project: meta.name.clone(),
        env: config.env.clone(),
        load_type: request.load_type,
        since,
        until,
        params: request.params,
        dry_run: request.dry_run,
        notify: request.notify,
        script_version: meta.version.clone(),
        started_at,
        output_dir: config.metadata_dir.join("output").join(&meta.name),
        output_files: Default::default(),
    })
}

/// Runs the selected tasks of a run and logs its start, the summary table and the outcome.
pub async fn run_tasks(
    project: &Arc<Project>,
    run: &Arc<RunInfo>,
    selected: Vec<String>,
    jobs: usize,
) -> RunReport {
    let meta = &project.meta;
    let window = match (&run.since, &run.until) {
        (Some(s), Some(u)) => format!(", window {s} .. {u}"),
        _ => String::new(),
    };
    tracing::info!(
        run_id = %run.id, env = %run.env, load_type = run.load_type.code(), version = %meta.version,
        "Run of project '{}' started ({} tasks{window}{}).", meta.name, selected.len(), if run.dry_run { ", dry run" } else { "" }
    );
    let report = match migrations_first(project, run).await {
        Ok(()) => runner::run(project.clone(), run.clone(), selected, jobs).await,
        Err(why) => {
            tracing::error!(run_id = %run.id, "{why}");
            runner::not_run("(migrations)", &selected, &why)
        }
    };
    let table = if report.outcomes.iter().any(|o| !o.checks.is_empty()) {
        Summary::of_report(&report, &["attempts", "checks"], |o| {
            vec![
                o.attempts.to_string(),
                crate::audit_checks::tally(&o.checks),
            ]
        })
    } else {
        Summary::of_report(&report, &["attempts"], |o| vec![o.attempts.to_string()])
    };
    let failed_checks: String = report
        .outcomes
        .iter()
        .flat_map(|o| o.checks.iter().filter(|c| c.status != "passed"))
        .map(|c| format!("\n  {}", crate::audit_checks::failure_line(c)))
        .collect();
    tracing::info!(
        "Run finished in {:.2}s.\n{}{}",
        report.duration.as_secs_f64(),
        table.render(),
        if failed_checks.is_empty() {
            String::new()
        } else {
            format!("\nFailed checks:{failed_checks}")
        }
    );
    if report.succeeded() {
        tracing::info!(run_id = %run.id, "Run succeeded.");
    } else {
        tracing::error!(run_id = %run.id, "Run failed: {} did not succeed.", failed_tasks(&report).join(", "));
    }
    report
}

/// Applies the project's pending migrations before its first task (or lists them in a dry
/// run); the error says why the tasks cannot run.
async fn migrations_first(project: &Arc<Project>, run: &Arc<RunInfo>) -> Result<(), String> {
    let (project, run_id) = (project.clone(), run.id.clone());
    tokio::task::spawn_blocking(move || crate::migrate::before_run(&project, &run_id))
        .await
        .map_err(|e| format!("applying migrations panicked: {e}"))?
        .map(drop)
        .map_err(|e| format!("migrations: {e}"))
}

/// The tasks of a report that did not succeed.
pub fn failed_tasks(report: &RunReport) -> Vec<&str> {
    report
        .outcomes
        .iter()
        .filter(|o| o.status != TaskStatus::Success)
        .map(|o| o.name.as_str())
        .collect()
}

/// The end of a run: its notification (which never fails the run: a mail that cannot be sent
/// is a warning and an audit record), then the output files are deleted unless kept (after
/// the notification, which may attach them).
pub async fn finish(
    project: &Arc<Project>,
    run: &Arc<RunInfo>,
    report: &RunReport,
    log_path: Option<&Path>,
) {
    crate::notify::after_run(project, run, report, log_path).await;
    remove_outputs(project, run);
}

/// Deletes the run's output files when the project does not keep them (`output: #{ keep: false }`).
pub fn remove_outputs(project: &Project, run: &RunInfo) {
    if !project.meta.keep_output {
        for f in run.output_files.lock().expect("output lock").drain(..) {
            let _ = std::fs::remove_file(&f);
        }
    }
}
