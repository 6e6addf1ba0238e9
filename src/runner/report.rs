//! What a run reports: one outcome per selected task.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    Success,
    Failed,
    Skipped,
    Cancelled,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Success => "success",
            TaskStatus::Failed => "failed",
            TaskStatus::Skipped => "skipped",
            TaskStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Clone, Debug)]
pub struct TaskOutcome {
    pub name: String,
    pub status: TaskStatus,
    pub rows: u64,
    pub duration: Duration,
    pub attempts: u32,
    pub error: Option<String>,
    /// What the task's checks found (its loads' and its check tasks', last attempt).
    pub checks: Vec<crate::audit_checks::CheckRecord>,
}

impl TaskOutcome {
    /// A task that never started (its dependency failed, the run was cancelled).
    pub fn not_run(name: &str, status: TaskStatus, why: String) -> TaskOutcome {
        TaskOutcome {
            name: name.to_string(),
            status,
            rows: 0,
            duration: Duration::ZERO,
            attempts: 0,
            error: Some(why),
            checks: Vec::new(),
        }
    }
}

pub struct RunReport {
    pub outcomes: Vec<TaskOutcome>,
    pub duration: Duration,
}

impl RunReport {
    pub fn succeeded(&self) -> bool {
        self.outcomes
            .iter()
            .all(|o| o.status == TaskStatus::Success)
    }
}

/// The report of a run whose tasks could not start because `step` (its migrations) failed:
/// `step` is reported failed and every task skipped, both with `why`.
pub fn not_run(step: &str, tasks: &[String], why: &str) -> RunReport {
    let mut outcomes = vec![TaskOutcome::not_run(
        step,
        TaskStatus::Failed,
        why.to_string(),
    )];
    outcomes.extend(
        tasks
            .iter()
            .map(|t| TaskOutcome::not_run(t, TaskStatus::Skipped, format!("not run: {why}"))),
    );
    RunReport {
        outcomes,
        duration: Duration::ZERO,
    }
}
