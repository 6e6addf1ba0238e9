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
    pub(super) fn not_run(name: &str, status: TaskStatus, why: String) -> TaskOutcome {
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
