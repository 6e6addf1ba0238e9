//! What a check found.

use super::spec::Severity;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckStatus {
    Passed,
    Failed,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug)]
pub struct CheckResult {
    /// The table checked, as the script names it.
    pub table: String,
    pub check: String,
    pub severity: Severity,
    pub status: CheckStatus,
    /// Rows (or groups, for `unique`) failing it.
    pub failing: u64,
    /// Up to ten failing rows, by their key (or the checked columns): `42`, `7, 2024-01-02`.
    pub samples: Vec<String>,
    /// What was measured, when a count of rows does not say it ("12 rows, at least 100").
    pub detail: Option<String>,
}

impl CheckResult {
    /// A failure that fails its load or task.
    pub fn is_error(&self) -> bool {
        self.status == CheckStatus::Failed && self.severity == Severity::Error
    }

    /// One line for logs and errors: `unique(id) failed: 2 rows (e.g. 7; 9)`.
    pub fn describe(&self) -> String {
        let mut s = format!("{} on {} {}", self.check, self.table, self.status.as_str());
        if self.status == CheckStatus::Failed {
            if let Some(d) = &self.detail {
                s.push_str(&format!(": {d}"));
            } else {
                s.push_str(&format!(": {} failing row(s)", self.failing));
            }
            if !self.samples.is_empty() {
                s.push_str(&format!(" (e.g. {})", self.samples.join("; ")));
            }
        }
        s
    }
}
