//! What a check asks of a table's rows, and how seriously a failure is taken.

use crate::data::Value;

/// `error` fails the load (rolled back with its watermark, the audit record failed) or the
/// check task; `warn` records the failure and goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warn,
}

impl Severity {
    pub fn parse(s: &str) -> Result<Severity, String> {
        match s {
            "error" => Ok(Severity::Error),
            "warn" | "warning" => Ok(Severity::Warn),
            _ => Err(format!("severity '{s}' is not one of error, warn")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warn => "warn",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum CheckKind {
    /// None of the columns is NULL.
    NotNull(Vec<String>),
    /// No two rows share these columns' values.
    Unique(Vec<String>),
    /// The column's non-NULL values are among these.
    AcceptedValues(String, Vec<Value>),
    /// Every non-NULL value of `column` exists in `to_table.to_column`.
    Relationships {
        column: String,
        to_table: String,
        to_column: String,
    },
    /// How many rows: at least `min`, at most `max`, and within `max_change` (a share) of the
    /// previous successful load of the table.
    RowCount {
        min: Option<u64>,
        max: Option<u64>,
        max_change: Option<f64>,
    },
    /// The column's values lie within [min, max].
    Range {
        column: String,
        min: Option<Value>,
        max: Option<Value>,
    },
    /// The column's greatest value is no older than this many seconds.
    Freshness { column: String, within_seconds: i64 },
    /// A query that returns the failing rows; `:new` names the rows checked.
    Sql(String),
}

impl CheckKind {
    /// `unique` on exactly these columns, in any order.
    pub fn is_unique_on(&self, columns: &[String]) -> bool {
        match self {
            CheckKind::Unique(cols) => {
                !cols.is_empty()
                    && cols.len() == columns.len()
                    && cols.iter().all(|c| columns.contains(c))
                    && columns.iter().all(|c| cols.contains(c))
            }
            _ => false,
        }
    }
}

/// One check of a list.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckSpec {
    /// Its name in results: `not_null(id, customer_id)`, or the one `sql_check` was given.
    pub name: String,
    pub kind: CheckKind,
    /// None: the load's `on_check_fail` (error unless it says otherwise).
    pub severity: Option<Severity>,
}

impl CheckSpec {
    pub fn new(kind: CheckKind) -> CheckSpec {
        let name = match &kind {
            CheckKind::NotNull(c) => format!("not_null({})", c.join(", ")),
            CheckKind::Unique(c) => format!("unique({})", c.join(", ")),
            CheckKind::AcceptedValues(c, _) => format!("accepted_values({c})"),
            CheckKind::Relationships {
                column,
                to_table,
                to_column,
            } => format!("relationships({column} -> {to_table}.{to_column})"),
            CheckKind::RowCount { .. } => "row_count".into(),
            CheckKind::Range { column, .. } => format!("range({column})"),
            CheckKind::Freshness { column, .. } => format!("freshness({column})"),
            CheckKind::Sql(_) => "sql_check".into(),
        };
        CheckSpec {
            name,
            kind,
            severity: None,
        }
    }
}

/// "2 days", "6 hours", "1 day 12:00:00" as seconds (months count 30 days).
pub fn duration_seconds(text: &str) -> Result<i64, String> {
    let (months, days, micros) = crate::data::parse_interval(text)?;
    let seconds = i64::from(months) * 30 * 86_400 + i64::from(days) * 86_400 + micros / 1_000_000;
    if seconds <= 0 {
        return Err(format!("'{text}' is not a positive duration"));
    }
    Ok(seconds)
}
