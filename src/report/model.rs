//! The audit records of `etl_runs` grouped into what the report shows: per project its runs
//! (records sharing a run_id), its latest failures, and the watermark of each target table.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::audit::{max_watermark, AuditRecord};
use crate::notify::run::{window, AUDIT_TASK};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Success,
    Failed,
    Running,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Success => "success",
            RunStatus::Failed => "failed",
            RunStatus::Running => "running",
        }
    }
}

/// One run: the records that share a run_id.
#[derive(Clone, Debug)]
pub struct RunRow {
    pub run_id: String,
    pub environment: String,
    pub started: DateTime<Utc>,
    pub ended: Option<DateTime<Utc>>,
    pub status: RunStatus,
    /// The load types of its records ("F", "I", "B", or several joined).
    pub load_type: String,
    /// Rows written by its loads (records with a target table).
    pub rows: i64,
    pub records: usize,
    /// Windows loaded (`start..end`), for backfill and incremental runs.
    pub windows: Vec<String>,
    /// Tasks that failed.
    pub failed_tasks: Vec<String>,
    pub notify_failed: bool,
}

impl RunRow {
    pub fn seconds(&self) -> f64 {
        self.ended
            .map(|e| (e - self.started).num_milliseconds().max(0) as f64 / 1000.0)
            .unwrap_or(0.0)
    }
}

/// A failed record.
#[derive(Clone, Debug)]
pub struct Failure {
    pub when: Option<DateTime<Utc>>,
    pub run_id: String,
    pub task: String,
    pub target_table: Option<String>,
    pub load_type: String,
    pub window: String,
    pub error: String,
}

/// The state of one target table.
#[derive(Clone, Debug)]
pub struct Watermark {
    pub table: String,
    pub database: String,
    /// The greatest `data_max_date` of its successful loads (what the next incremental
    /// load starts from).
    pub watermark: Option<String>,
    pub last_load: Option<DateTime<Utc>>,
    pub last_status: String,
    pub last_rows: Option<i64>,
    pub last_window: String,
    pub loads: usize,
    pub failed: usize,
}

#[derive(Clone, Debug)]
pub struct ProjectHistory {
    pub name: String,
    /// Oldest first, within the report's period.
    pub runs: Vec<RunRow>,
    /// Newest first, within the report's period.
    pub failures: Vec<Failure>,
    /// Over every record read (a table loaded before the period still has its watermark).
    pub watermarks: Vec<Watermark>,
    /// Checks that failed in the period, newest first.
    pub failed_checks: Vec<crate::audit_checks::CheckRecord>,
}

impl ProjectHistory {
    pub fn count(&self, status: RunStatus) -> usize {
        self.runs.iter().filter(|r| r.status == status).count()
    }

    pub fn last_success(&self) -> Option<&RunRow> {
        self.runs
            .iter()
            .rev()
            .find(|r| r.status == RunStatus::Success)
    }
}

/// Attaches to each project its checks that failed from `since` on (`checks` newest first).
pub fn add_failed_checks(
    projects: &mut [ProjectHistory],
    checks: &[crate::audit_checks::CheckRecord],
    since: DateTime<Utc>,
) {
    for p in projects {
        p.failed_checks = checks
            .iter()
            .filter(|c| c.project == p.name && c.status == "failed")
            .filter(|c| c.checked_at.is_none_or(|t| t >= since))
            .cloned()
            .collect();
    }
}

/// Groups `records` (any order) by project; runs and failures from `since` on.
pub fn build(records: &[AuditRecord], since: DateTime<Utc>) -> Vec<ProjectHistory> {
    let mut by_project: BTreeMap<&str, Vec<&AuditRecord>> = BTreeMap::new();
    for r in records {
        by_project.entry(r.project.as_str()).or_default().push(r);
    }
    by_project
        .into_iter()
        .map(|(name, mut recs)| {
            recs.sort_by_key(|r| (r.start_script_execution_time, r.id));
            ProjectHistory {
                name: name.to_string(),
                runs: runs(&recs, since),
                failures: failures(&recs, since),
                watermarks: watermarks(&recs),
                failed_checks: Vec::new(),
            }
        })
        .collect()
}

fn in_period(r: &AuditRecord, since: DateTime<Utc>) -> bool {
    r.start_script_execution_time.is_some_and(|t| t >= since)
}

fn runs(recs: &[&AuditRecord], since: DateTime<Utc>) -> Vec<RunRow> {
    let mut order: Vec<&str> = Vec::new();
    let mut groups: BTreeMap<&str, Vec<&AuditRecord>> = BTreeMap::new();
    for r in recs.iter().filter(|r| in_period(r, since)) {
        let g = groups.entry(r.run_id.as_str()).or_default();
        if g.is_empty() {
            order.push(r.run_id.as_str());
        }
        g.push(r);
    }
    let mut rows: Vec<RunRow> = order
        .into_iter()
        .map(|id| {
            let all = &groups[id];
            let notify_failed = all
                .iter()
                .any(|r| r.task == AUDIT_TASK && r.status == "failed");
            let work: Vec<&&AuditRecord> = all.iter().filter(|r| r.task != AUDIT_TASK).collect();
            let work = if work.is_empty() {
                all.iter().collect()
            } else {
                work
            };
            let started = work
                .iter()
                .filter_map(|r| r.start_script_execution_time)
                .min()
                .unwrap_or(since);
            let ended = work
                .iter()
                .filter_map(|r| r.end_script_execution_time)
                .max();
            let failed_tasks: Vec<String> = work
                .iter()
                .filter(|r| r.status == "failed")
                .map(|r| r.task.clone())
                .collect();
            let status = if !failed_tasks.is_empty() {
                RunStatus::Failed
            } else if work.iter().any(|r| r.status == "running") {
                RunStatus::Running
            } else {
                RunStatus::Success
            };
            let mut types: Vec<&str> = work.iter().map(|r| r.load_type.as_str()).collect();
            types.sort();
            types.dedup();
            let windows: Vec<String> = work
                .iter()
                .filter(|r| r.target_table.is_some())
                .map(|r| window(r))
                .filter(|w| !w.is_empty())
                .fold(Vec::new(), |mut acc, w| {
                    if !acc.contains(&w) {
                        acc.push(w);
                    }
                    acc
                });
            RunRow {
                run_id: id.to_string(),
                environment: work[0].environment.clone(),
                started,
                ended,
                status,
                load_type: types.join("+"),
                rows: work
                    .iter()
                    .filter(|r| r.target_table.is_some())
                    .filter_map(|r| r.number_of_records)
                    .sum(),
                records: work.len(),
                windows,
                failed_tasks,
                notify_failed,
            }
        })
        .collect();
    rows.sort_by_key(|r| r.started);
    rows
}

fn failures(recs: &[&AuditRecord], since: DateTime<Utc>) -> Vec<Failure> {
    recs.iter()
        .rev()
        .filter(|r| r.status == "failed" && in_period(r, since))
        .map(|r| Failure {
            when: r.start_script_execution_time,
            run_id: r.run_id.clone(),
            task: r.task.clone(),
            target_table: r.target_table.clone(),
            load_type: r.load_type.clone(),
            window: window(r),
            error: r.error_message.clone().unwrap_or_default(),
        })
        .collect()
}

fn watermarks(recs: &[&AuditRecord]) -> Vec<Watermark> {
    let mut tables: BTreeMap<(&str, &str), Vec<&AuditRecord>> = BTreeMap::new();
    for r in recs {
        if let Some(t) = r.target_table.as_deref() {
            tables
                .entry((t, r.target_database.as_str()))
                .or_default()
                .push(r);
        }
    }
    tables
        .into_iter()
        .map(|((table, database), loads)| {
            let last = loads.last().expect("a group has records");
            Watermark {
                table: table.to_string(),
                database: database.to_string(),
                watermark: max_watermark(
                    loads
                        .iter()
                        .filter(|r| r.status == "success")
                        .filter_map(|r| r.data_max_date.clone())
                        .collect(),
                ),
                last_load: last.start_script_execution_time,
                last_status: last.status.clone(),
                last_rows: last.number_of_records,
                last_window: window(last),
                loads: loads.len(),
                failed: loads.iter().filter(|r| r.status == "failed").count(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(
        run: &str,
        task: &str,
        status: &str,
        table: Option<&str>,
        max: Option<&str>,
        at: i64,
    ) -> AuditRecord {
        let t = DateTime::from_timestamp(1_700_000_000 + at, 0).unwrap();
        AuditRecord {
            run_id: run.into(),
            project: "p".into(),
            task: task.into(),
            status: status.into(),
            load_type: "I".into(),
            target_table: table.map(String::from),
            data_max_date: max.map(String::from),
            number_of_records: Some(10),
            start_script_execution_time: Some(t),
            end_script_execution_time: Some(t + chrono::Duration::seconds(5)),
            ..AuditRecord::default()
        }
    }

    #[test]
    fn groups_runs_and_keeps_the_greatest_successful_watermark() {
        let records = vec![
            rec("r1", "a", "success", Some("t"), Some("9"), 0),
            rec("r1", "b", "success", None, None, 1),
            rec("r2", "a", "success", Some("t"), Some("10"), 100),
            rec("r2", AUDIT_TASK, "failed", None, None, 110),
            rec("r3", "a", "failed", Some("t"), Some("99"), 200),
        ];
        let since = DateTime::from_timestamp(0, 0).unwrap();
        let p = &build(&records, since)[0];
        assert_eq!(p.runs.len(), 3);
        assert_eq!(p.runs[0].rows, 10, "task-level records do not count twice");
        assert_eq!(
            p.runs[1].status,
            RunStatus::Success,
            "a failed notification is not a failed run"
        );
        assert!(p.runs[1].notify_failed);
        assert_eq!(p.runs[2].status, RunStatus::Failed);
        assert_eq!(p.failures.len(), 2);
        assert_eq!(p.failures[0].run_id, "r3", "newest first");
        assert_eq!(p.watermarks[0].watermark.as_deref(), Some("10"));
        assert_eq!(p.watermarks[0].last_status, "failed");
    }
}
