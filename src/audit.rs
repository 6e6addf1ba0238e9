//! The audit table `etl_runs` (DESIGN.md §4): one record per task and target table per run.
//! The record type and its columns live here; each database writes it in its own dialect,
//! and a load writes its success inside the load's own transaction.

use chrono::{DateTime, Utc};

pub const TABLE: &str = "etl_runs";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Running,
    Success,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Success => "success",
            Status::Failed => "failed",
        }
    }
}

/// A row of `etl_runs`. Dates of the data are kept as text in the cursor's own canonical
/// form, so a watermark round-trips exactly whatever the cursor type.
#[derive(Clone, Debug, Default)]
pub struct AuditRecord {
    pub id: Option<i64>,
    pub run_id: String,
    pub project: String,
    pub task: String,
    pub status: String,
    pub load_type: String,
    pub environment: String,
    pub script_version: String,
    pub target_database: String,
    pub target_table: Option<String>,
    pub start_load_date: Option<String>,
    pub end_load_date: Option<String>,
    pub previous_max_date: Option<String>,
    pub data_min_date: Option<String>,
    pub data_max_date: Option<String>,
    pub number_of_records: Option<i64>,
    pub start_script_execution_time: Option<DateTime<Utc>>,
    pub end_script_execution_time: Option<DateTime<Utc>>,
    pub error_message: Option<String>,
}

/// Column names in table order (after `id`), shared by every dialect.
pub const COLUMNS: [&str; 18] = [
    "run_id",
    "project",
    "task",
    "status",
    "load_type",
    "environment",
    "script_version",
    "target_database",
    "target_table",
    "start_load_date",
    "end_load_date",
    "previous_max_date",
    "data_min_date",
    "data_max_date",
    "number_of_records",
    "start_script_execution_time",
    "end_script_execution_time",
    "error_message",
];

/// A field of the record as a loosely typed value for binding.
pub enum Field<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Time(Option<DateTime<Utc>>),
}

impl AuditRecord {
    pub fn fields(&self) -> [Field<'_>; 18] {
        use Field::*;
        [
            Text(Some(&self.run_id)),
            Text(Some(&self.project)),
            Text(Some(&self.task)),
            Text(Some(&self.status)),
            Text(Some(&self.load_type)),
            Text(Some(&self.environment)),
            Text(Some(&self.script_version)),
            Text(Some(&self.target_database)),
            Text(self.target_table.as_deref()),
            Text(self.start_load_date.as_deref()),
            Text(self.end_load_date.as_deref()),
            Text(self.previous_max_date.as_deref()),
            Text(self.data_min_date.as_deref()),
            Text(self.data_max_date.as_deref()),
            Int(self.number_of_records),
            Time(self.start_script_execution_time),
            Time(self.end_script_execution_time),
            Text(self.error_message.as_deref()),
        ]
    }

    /// The record's columns as named values, to bind to `:run_id`, `:project`, ...
    pub fn params(&self) -> Vec<(String, crate::data::Value)> {
        use crate::data::Value;
        self.fields()
            .into_iter()
            .zip(COLUMNS)
            .map(|(f, name)| {
                let v = match f {
                    Field::Text(Some(s)) => Value::Text(s.to_string()),
                    Field::Int(Some(i)) => Value::Int64(i),
                    Field::Time(Some(t)) => Value::TimestampTz(t),
                    _ => Value::Null,
                };
                (name.to_string(), v)
            })
            .collect()
    }

    /// Sets a field by column name (scripts' `insert_etl_runs_record(conn, #{...})`).
    pub fn set(&mut self, column: &str, value: Option<String>) -> Result<(), String> {
        let time = |v: &Option<String>| -> Result<Option<DateTime<Utc>>, String> {
            v.as_deref()
                .map(|s| {
                    crate::data::Value::parse(s, &crate::data::DataType::TimestampTz).map(|v| {
                        match v {
                            crate::data::Value::TimestampTz(t) => t,
                            _ => unreachable!("parsed as timestamptz"),
                        }
                    })
                })
                .transpose()
        };
        match column {
            "run_id" => self.run_id = value.unwrap_or_default(),
            "project" => self.project = value.unwrap_or_default(),
            "task" => self.task = value.unwrap_or_default(),
            "status" => self.status = value.unwrap_or_default(),
            "load_type" => self.load_type = value.unwrap_or_default(),
            "environment" => self.environment = value.unwrap_or_default(),
            "script_version" => self.script_version = value.unwrap_or_default(),
            "target_database" => self.target_database = value.unwrap_or_default(),
            "target_table" => self.target_table = value,
            "start_load_date" => self.start_load_date = value,
            "end_load_date" => self.end_load_date = value,
            "previous_max_date" => self.previous_max_date = value,
            "data_min_date" => self.data_min_date = value,
            "data_max_date" => self.data_max_date = value,
            "number_of_records" => {
                self.number_of_records = value
                    .map(|v| {
                        v.parse()
                            .map_err(|_| format!("number_of_records: '{v}' is not an integer"))
                    })
                    .transpose()?
            }
            "start_script_execution_time" => self.start_script_execution_time = time(&value)?,
            "end_script_execution_time" => self.end_script_execution_time = time(&value)?,
            "error_message" => self.error_message = value,
            other => {
                return Err(format!(
                    "etl_runs has no column '{other}' (columns: {})",
                    COLUMNS.join(", ")
                ))
            }
        }
        Ok(())
    }
}

/// `UPDATE <table> SET run_id = :run_id, ... WHERE id = :id`: the record written inside a
/// load's transaction, in any dialect (bind `AuditRecord::params` and `id`).
pub fn update_sql(quoted_table: &str) -> String {
    let sets: Vec<String> = COLUMNS.iter().map(|c| format!("{c} = :{c}")).collect();
    format!(
        "UPDATE {quoted_table} SET {} WHERE id = :id",
        sets.join(", ")
    )
}

/// Marks `running` records of other runs of a project and table that started before this run as
/// failed: their run died without a word (SIGKILL, power loss). Run inside the load's
/// transaction, which holds the table's load lock, so no live run of theirs is loading.
pub fn close_stale_sql(quoted_table: &str) -> String {
    format!(
        "UPDATE {quoted_table} SET status = 'failed', end_script_execution_time = :now, \
         error_message = :message WHERE project = :project AND target_table = :table \
         AND status = 'running' AND run_id <> :run AND start_script_execution_time < :before"
    )
}

/// The values `close_stale_sql` binds.
pub fn close_stale_params(
    project: &str,
    table: &str,
    run_id: &str,
    before: DateTime<Utc>,
) -> Vec<(String, crate::data::Value)> {
    use crate::data::Value;
    let text = |s: &str| Value::Text(s.to_string());
    vec![
        ("now".into(), Value::TimestampTz(Utc::now())),
        (
            "message".into(),
            text(&format!(
                "the run stopped without recording an outcome (killed or lost its connection); found by run {run_id}"
            )),
        ),
        ("project".into(), text(project)),
        ("table".into(), text(table)),
        ("run".into(), text(run_id)),
        ("before".into(), Value::TimestampTz(before)),
    ]
}

/// Error text stored in the audit table: bounded, so one huge message cannot bloat it.
pub fn error_text(message: &str) -> String {
    const MAX: usize = 4000;
    if message.len() <= MAX {
        message.to_string()
    } else {
        let mut end = MAX;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &message[..end])
    }
}

/// The greatest of several stored watermarks: numerically when all are numbers (so "10" beats
/// "9"), otherwise as text, which orders ISO dates and timestamps correctly.
pub fn max_watermark(values: Vec<String>) -> Option<String> {
    use crate::data::Decimal;
    let numeric: Option<Vec<Decimal>> = values.iter().map(|v| Decimal::parse(v).ok()).collect();
    match numeric {
        Some(nums) if !nums.is_empty() => {
            let (i, _) = nums.iter().enumerate().max_by(|a, b| a.1.cmp(b.1))?;
            Some(values[i].clone())
        }
        _ => values.into_iter().max(),
    }
}

/// `etl runs`: the history as a table, newest first.
pub fn history_table(records: &[AuditRecord]) -> String {
    let mut rows = vec![[
        "id", "run_id", "project", "task", "status", "type", "target", "rows", "window",
        "max_date", "started", "seconds", "error",
    ]
    .map(String::from)];
    for r in records {
        let seconds = match (r.start_script_execution_time, r.end_script_execution_time) {
            (Some(a), Some(b)) => format!("{:.2}", (b - a).num_milliseconds() as f64 / 1000.0),
            _ => String::new(),
        };
        let window = match (&r.start_load_date, &r.end_load_date) {
            (None, None) => String::new(),
            (a, b) => format!(
                "{}..{}",
                a.as_deref().unwrap_or(""),
                b.as_deref().unwrap_or("")
            ),
        };
        let error = r
            .error_message
            .as_deref()
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("");
        rows.push([
            r.id.map(|i| i.to_string()).unwrap_or_default(),
            r.run_id.clone(),
            r.project.clone(),
            r.task.clone(),
            r.status.clone(),
            r.load_type.clone(),
            r.target_table.clone().unwrap_or_default(),
            r.number_of_records
                .map(|n| n.to_string())
                .unwrap_or_default(),
            window,
            r.data_max_date.clone().unwrap_or_default(),
            r.start_script_execution_time
                .map(|t| {
                    t.with_timezone(&chrono::Local)
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default(),
            seconds,
            crate::data::shorten_text(error, 80),
        ]);
    }
    crate::table::render(&rows)
}
