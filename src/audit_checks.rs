//! The table `etl_checks` beside `etl_runs`: one record per check of a load or a check task,
//! with how many rows failed it and a few of them. Each dialect creates and writes it with the
//! SQL here; the records are written after the load ended (committed or rolled back), so a
//! failed check's record survives the rollback it caused.

use chrono::{DateTime, Utc};

use crate::data::Value;

pub const TABLE: &str = "etl_checks";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckRecord {
    pub run_id: String,
    pub project: String,
    pub task: String,
    pub target_table: String,
    pub check_name: String,
    /// `error` or `warn`.
    pub severity: String,
    /// `passed` or `failed`.
    pub status: String,
    pub failing_rows: i64,
    /// Up to ten failing rows by their key, one per line.
    pub samples: Option<String>,
    /// What was measured, for whole-set checks ("12 rows, expected at least 100").
    pub detail: Option<String>,
    pub checked_at: Option<DateTime<Utc>>,
}

/// Columns in table order (after `id`).
pub const COLUMNS: [&str; 11] = [
    "run_id",
    "project",
    "task",
    "target_table",
    "check_name",
    "severity",
    "status",
    "failing_rows",
    "samples",
    "detail",
    "checked_at",
];

/// The columns' SQL types: `text`, `bigint` and a timestamp, which every dialect names
/// (`timestamp_type`: `timestamptz` in PostgreSQL, `TIMESTAMPTZ` text in SQLite).
pub fn create_sql(quoted_table: &str, id_column: &str, timestamp_type: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {quoted_table} (
    {id_column},
    run_id text NOT NULL,
    project text NOT NULL,
    task text NOT NULL,
    target_table text NOT NULL,
    check_name text NOT NULL,
    severity text NOT NULL,
    status text NOT NULL,
    failing_rows bigint NOT NULL,
    samples text,
    detail text,
    checked_at {timestamp_type}
)"
    )
}

/// `INSERT INTO <table> (run_id, ...) VALUES (:run_id, ...)`.
pub fn insert_sql(quoted_table: &str) -> String {
    let names: Vec<String> = COLUMNS.iter().map(|c| format!(":{c}")).collect();
    format!(
        "INSERT INTO {quoted_table} ({}) VALUES ({})",
        COLUMNS.join(", "),
        names.join(", ")
    )
}

/// The latest records, newest first, of one project or all (`:project` NULL).
pub fn history_sql(quoted_table: &str) -> String {
    format!(
        "SELECT {} FROM {quoted_table} WHERE (CAST(:project AS text) IS NULL OR project = :project) \
         ORDER BY id DESC LIMIT :limit",
        COLUMNS.join(", ")
    )
}

impl CheckRecord {
    pub fn params(&self) -> Vec<(String, Value)> {
        let text = |s: &str| Value::Text(s.to_string());
        let opt = |s: &Option<String>| s.as_deref().map(text).unwrap_or(Value::Null);
        vec![
            ("run_id".into(), text(&self.run_id)),
            ("project".into(), text(&self.project)),
            ("task".into(), text(&self.task)),
            ("target_table".into(), text(&self.target_table)),
            ("check_name".into(), text(&self.check_name)),
            ("severity".into(), text(&self.severity)),
            ("status".into(), text(&self.status)),
            ("failing_rows".into(), Value::Int64(self.failing_rows)),
            ("samples".into(), opt(&self.samples)),
            ("detail".into(), opt(&self.detail)),
            (
                "checked_at".into(),
                self.checked_at
                    .map(Value::TimestampTz)
                    .unwrap_or(Value::Null),
            ),
        ]
    }

    /// A record from a row of `history_sql`, in `COLUMNS` order.
    pub fn from_row(row: &[Value]) -> CheckRecord {
        let text = |i: usize| row.get(i).and_then(Value::to_text);
        CheckRecord {
            run_id: text(0).unwrap_or_default(),
            project: text(1).unwrap_or_default(),
            task: text(2).unwrap_or_default(),
            target_table: text(3).unwrap_or_default(),
            check_name: text(4).unwrap_or_default(),
            severity: text(5).unwrap_or_default(),
            status: text(6).unwrap_or_default(),
            failing_rows: row.get(7).and_then(Value::as_i64).unwrap_or(0),
            samples: text(8),
            detail: text(9),
            checked_at: text(10).and_then(|t| {
                match Value::parse(&t, &crate::data::DataType::TimestampTz) {
                    Ok(Value::TimestampTz(at)) => Some(at),
                    _ => None,
                }
            }),
        }
    }
}

/// `etl runs --checks`: the records as a table, newest first.
pub fn history_table(records: &[CheckRecord]) -> String {
    let mut rows = vec![[
        "run_id", "task", "table", "check", "severity", "status", "failing", "checked", "samples",
    ]
    .map(String::from)];
    for r in records {
        let samples = r
            .samples
            .as_deref()
            .or(r.detail.as_deref())
            .unwrap_or("")
            .replace('\n', "; ");
        rows.push([
            r.run_id.clone(),
            r.task.clone(),
            r.target_table.clone(),
            r.check_name.clone(),
            r.severity.clone(),
            r.status.clone(),
            r.failing_rows.to_string(),
            r.checked_at
                .map(|t| {
                    t.with_timezone(&chrono::Local)
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default(),
            crate::data::shorten_text(&samples, 60),
        ]);
    }
    crate::table::render(&rows)
}

/// A task's checks in one cell of the run summary: `6 passed`, `5 passed, 1 failed (warn)`;
/// empty when it ran none.
pub fn tally(records: &[CheckRecord]) -> String {
    if records.is_empty() {
        return String::new();
    }
    let passed = records.iter().filter(|r| r.status == "passed").count();
    let failed: Vec<&CheckRecord> = records.iter().filter(|r| r.status != "passed").collect();
    let mut cell = format!("{passed} passed");
    if !failed.is_empty() {
        let warn = failed.iter().filter(|r| r.severity == "warn").count();
        cell.push_str(&format!(", {} failed", failed.len()));
        if warn == failed.len() {
            cell.push_str(" (warn)");
        } else if warn > 0 {
            cell.push_str(&format!(" ({warn} warn)"));
        }
    }
    cell
}

/// A failed check in one line for the summary's list below the table:
/// `dw.orders unique(id): 2 failing rows (e.g. 7; 9) [error]`.
pub fn failure_line(r: &CheckRecord) -> String {
    let mut s = format!("{} {}: ", r.target_table, r.check_name);
    match &r.detail {
        Some(d) => s.push_str(d),
        None => s.push_str(&format!("{} failing row(s)", r.failing_rows)),
    }
    if let Some(samples) = r.samples.as_deref().filter(|s| !s.is_empty()) {
        s.push_str(&format!(
            " (e.g. {})",
            samples.lines().collect::<Vec<_>>().join("; ")
        ));
    }
    s.push_str(&format!(" [{}]", r.severity));
    s
}
