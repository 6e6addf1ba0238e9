//! The end-of-run notification: decides whether to send, gathers the summary (runner report,
//! the run's audit records, the log's last lines, output files), sends it, and when sending
//! fails logs a warning and records the failure in the audit table as a task-level record
//! with task `notify` and status `failed`. It never fails the run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::compose::{FileLine, LoadLine, RunSummary, TaskLine};
use super::mailer::{self, Attachment, Mail};
use super::settings::{NotifySpec, Outcome, Plan};
use crate::audit::{error_text, AuditRecord, Status};
use crate::connectors::Io;
use crate::context::RunInfo;
use crate::runner::{RunReport, TaskStatus};
use crate::script::Project;

/// The task name of a notification's audit record.
pub const AUDIT_TASK: &str = "notify";
/// Lines of the log a failure notification quotes.
pub const LOG_TAIL_LINES: usize = 50;
/// Audit records of the project read back to find this run's loads.
const AUDIT_LOOKBACK: usize = 1000;

/// What happened to the run's notification.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// Not wanted (disabled, no recipients, or `on` excludes the outcome, or a dry run).
    No,
    Yes,
    Failed,
}

/// Sends the run's notification if its plan wants one, after `--notify` / `--no-notify`
/// (`run.notify`).
pub async fn after_run(
    project: &Arc<Project>,
    run: &Arc<RunInfo>,
    report: &RunReport,
    log_path: Option<&Path>,
) -> Sent {
    let cli = run.notify;
    let meta = &project.meta;
    let config = &project.host.config;
    let spec = NotifySpec::from_meta(&meta.extra).unwrap_or_default();
    let plan = Plan::resolve(&spec, config.notify.as_ref(), cli);
    let outcome = if report.succeeded() {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    if !plan.wants(outcome) {
        if plan.enabled && plan.email.is_empty() && cli == Some(true) {
            tracing::warn!("--notify: the project's notify option names no email recipient.");
        }
        tracing::debug!(
            "No notification for this run ({}: enabled {}, {} recipients, on {:?}).",
            outcome.as_str(),
            plan.enabled,
            plan.email.len(),
            plan.on
        );
        return Sent::No;
    }
    if run.dry_run && cli != Some(true) {
        tracing::info!("Dry run: no notification sent (--notify sends one).");
        return Sent::No;
    }
    let tasks: Vec<TaskLine> = report
        .outcomes
        .iter()
        .map(|o| TaskLine {
            name: o.name.clone(),
            status: o.status.as_str().to_string(),
            rows: o.rows,
            duration: o.duration,
            attempts: o.attempts,
            error: o.error.clone(),
            checks: o.checks.clone(),
        })
        .collect();
    let cancelled = report
        .outcomes
        .iter()
        .any(|o| o.status == TaskStatus::Cancelled);
    let handle = tokio::runtime::Handle::current();
    let (p, r, log) = (
        project.clone(),
        run.clone(),
        log_path.map(Path::to_path_buf),
    );
    let duration = report.duration;
    let attach = plan.attach;
    let gathered = tokio::task::spawn_blocking(move || {
        let io = Io {
            handle,
            cancel: CancellationToken::new(),
        };
        let loads = run_loads(&p, &r, &io);
        let (files, attachments) = if attach {
            output_files(&r, p.host.config.smtp.as_ref().map(|s| s.attach_max_bytes))
        } else {
            (Vec::new(), Vec::new())
        };
        let summary = RunSummary {
            project: r.project.clone(),
            env: r.env.clone(),
            run_id: r.id.clone(),
            load_type: r.load_type.code().to_string(),
            version: r.script_version.clone(),
            outcome,
            started: r.started_at,
            duration,
            dry_run: r.dry_run,
            tasks,
            loads,
            log_tail: match (&log, outcome) {
                (Some(path), Outcome::Failure) => log_tail(path, LOG_TAIL_LINES),
                _ => Vec::new(),
            },
            log_path: log,
            files,
            attach_max_bytes: p
                .host
                .config
                .smtp
                .as_ref()
                .map(|s| s.attach_max_bytes)
                .unwrap_or(super::config::DEFAULT_ATTACH_MAX_BYTES),
        };
        (summary, attachments)
    })
    .await;
    let Ok((summary, attachments)) = gathered else {
        tracing::warn!("Could not prepare the run's notification.");
        return Sent::Failed;
    };
    let mail = Mail {
        to: plan.email.clone(),
        cc: Vec::new(),
        subject: summary.subject(),
        text: summary.text(),
        html: Some(summary.html()),
        attachments,
    };
    let started = Utc::now();
    let recipients = plan.email.join(", ");
    match mailer::send(config.smtp.as_ref(), &mail, &CancellationToken::new()).await {
        Ok(attempts) => {
            tracing::info!(
                "Notification ({}{}) sent to {recipients}{}.",
                outcome.as_str(),
                if cancelled { ", cancelled" } else { "" },
                if attempts > 1 {
                    format!(" after {attempts} attempts")
                } else {
                    String::new()
                }
            );
            Sent::Yes
        }
        Err(e) => {
            let message = format!(
                "the {} notification to {recipients} was not sent: {e}",
                outcome.as_str()
            );
            tracing::warn!("Notification not sent: {message}");
            if !run.dry_run {
                record_failure(project, run, started, &message).await;
            }
            Sent::Failed
        }
    }
}

/// The loads this run recorded in the project's target connection, in order.
fn run_loads(project: &Project, run: &RunInfo, io: &Io) -> Vec<LoadLine> {
    if run.dry_run {
        return Vec::new();
    }
    let records = project
        .host
        .connection(&project.meta.target)
        .and_then(|db| db.audit()?.history(io, Some(&run.project), AUDIT_LOOKBACK));
    match records {
        Ok(records) => records
            .into_iter()
            .rev()
            .filter(|r| r.run_id == run.id && r.target_table.is_some())
            .map(|r| LoadLine {
                task: r.task.clone(),
                table: r.target_table.clone().unwrap_or_default(),
                status: r.status.clone(),
                rows: r.number_of_records,
                window: window(&r),
                max_date: r.data_max_date.clone(),
            })
            .collect(),
        Err(e) => {
            tracing::warn!("Notification: cannot read the run's audit records: {e}");
            Vec::new()
        }
    }
}

/// `start..end` of the window a load read (empty when it read everything).
pub fn window(r: &AuditRecord) -> String {
    match (&r.start_load_date, &r.end_load_date) {
        (None, None) => String::new(),
        (a, b) => format!(
            "{}..{}",
            a.as_deref().unwrap_or(""),
            b.as_deref().unwrap_or("")
        ),
    }
}

/// The run's output files: attached in order while the total stays within `cap`, the rest
/// listed.
fn output_files(run: &RunInfo, cap: Option<u64>) -> (Vec<FileLine>, Vec<Attachment>) {
    let cap = cap.unwrap_or(super::config::DEFAULT_ATTACH_MAX_BYTES);
    let paths: Vec<PathBuf> = run.output_files.lock().expect("output lock").clone();
    let mut total = 0u64;
    let mut lines = Vec::new();
    let mut attachments = Vec::new();
    for path in paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(len) = std::fs::metadata(&path).map(|m| m.len()) else {
            continue;
        };
        let fits = total + len <= cap;
        let bytes = if fits {
            std::fs::read(&path).ok()
        } else {
            None
        };
        let attached = bytes.is_some();
        if let Some(bytes) = bytes {
            total += len;
            attachments.push(Attachment {
                name: name.clone(),
                bytes,
            });
        }
        lines.push(FileLine {
            name,
            bytes: len,
            attached,
        });
    }
    (lines, attachments)
}

/// The last `n` lines of a text file (empty if it cannot be read).
pub fn log_tail(path: &Path, n: usize) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

async fn record_failure(
    project: &Arc<Project>,
    run: &Arc<RunInfo>,
    started: chrono::DateTime<Utc>,
    message: &str,
) {
    let record = AuditRecord {
        run_id: run.id.clone(),
        project: run.project.clone(),
        task: AUDIT_TASK.into(),
        status: Status::Failed.as_str().into(),
        load_type: run.load_type.code().into(),
        environment: run.env.clone(),
        script_version: run.script_version.clone(),
        target_database: project.meta.target.clone(),
        start_script_execution_time: Some(started),
        end_script_execution_time: Some(Utc::now()),
        error_message: Some(error_text(message)),
        ..AuditRecord::default()
    };
    let p = project.clone();
    let handle = tokio::runtime::Handle::current();
    let written = tokio::task::spawn_blocking(move || {
        let io = Io {
            handle,
            cancel: CancellationToken::new(),
        };
        p.host
            .connection(&p.meta.target)
            .and_then(|db| db.audit()?.insert(&io, &record))
    })
    .await;
    match written {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!("Could not record the notification's failure in the audit table: {e}")
        }
        Err(e) => tracing::warn!("Could not record the notification's failure: {e}"),
    }
}
