//! The table `etl_files` beside `etl_runs`: which files each project loaded into each table
//! (`incremental: "files"`), with what identified their content then (size, ETag, modified
//! time). Its rows are written in the load's transaction, so a file counts as loaded exactly
//! when its rows committed.

use crate::connectors::Params;
use crate::data::Value;

pub const TABLE: &str = "etl_files";

/// A file as loaded: its name and what tells a changed file from the same one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileStamp {
    /// The URL of an object, or the path as the script named it.
    pub file: String,
    pub size: Option<i64>,
    pub etag: Option<String>,
    /// RFC 3339, UTC.
    pub modified: Option<String>,
}

impl FileStamp {
    /// Whether `now` is a different content than `self` (the same file, loaded before).
    pub fn changed(&self, now: &FileStamp) -> bool {
        if self.size != now.size {
            return true;
        }
        match (&self.etag, &now.etag) {
            (Some(a), Some(b)) => a != b,
            _ => self.modified != now.modified,
        }
    }
}

/// Every dialect names `text` and `bigint`; times are RFC 3339 text, compared for equality only.
pub fn create_sql(quoted_table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {quoted_table} (
    project text NOT NULL,
    target_table text NOT NULL,
    file text NOT NULL,
    size bigint,
    etag text,
    modified text,
    run_id text NOT NULL,
    loaded_at text NOT NULL,
    PRIMARY KEY (project, target_table, file)
)"
    )
}

pub fn select_sql(quoted_table: &str) -> String {
    format!(
        "SELECT file, size, etag, modified FROM {quoted_table} \
         WHERE project = :project AND target_table = :table ORDER BY file"
    )
}

pub fn from_row(row: &[Value]) -> FileStamp {
    let text = |v: &Value| v.to_text();
    FileStamp {
        file: row.first().and_then(text).unwrap_or_default(),
        size: row.get(1).and_then(Value::as_i64),
        etag: row.get(2).and_then(text),
        modified: row.get(3).and_then(text),
    }
}

/// The statements that record `files` as loaded by `run_id`, replacing what an earlier load
/// of the same file recorded; run inside the load's transaction.
pub fn record_statements(
    quoted_table: &str,
    project: &str,
    table: &str,
    run_id: &str,
    files: &[FileStamp],
) -> Vec<(String, Params)> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let text = |s: &str| Value::Text(s.to_string());
    let opt = |s: &Option<String>| s.as_deref().map_or(Value::Null, text);
    let mut out = Vec::new();
    for f in files {
        let key: Params = vec![
            ("project".into(), text(project)),
            ("table".into(), text(table)),
            ("file".into(), text(&f.file)),
        ];
        out.push((
            format!(
                "DELETE FROM {quoted_table} WHERE project = :project AND target_table = :table AND file = :file"
            ),
            key.clone(),
        ));
        let mut params = key;
        params.extend([
            ("size".into(), f.size.map_or(Value::Null, Value::Int64)),
            ("etag".into(), opt(&f.etag)),
            ("modified".into(), opt(&f.modified)),
            ("run_id".into(), text(run_id)),
            ("loaded_at".into(), text(&now)),
        ]);
        out.push((
            format!(
                "INSERT INTO {quoted_table} (project, target_table, file, size, etag, modified, run_id, loaded_at) \
                 VALUES (:project, :table, :file, :size, :etag, :modified, :run_id, :loaded_at)"
            ),
            params,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(size: i64, etag: Option<&str>, modified: &str) -> FileStamp {
        FileStamp {
            file: "s3://b/a.csv".into(),
            size: Some(size),
            etag: etag.map(str::to_string),
            modified: Some(modified.into()),
        }
    }

    #[test]
    fn a_file_changed_when_its_size_or_etag_or_else_its_time_did() {
        let a = stamp(10, Some("\"e1\""), "2026-01-01T00:00:00Z");
        assert!(!a.changed(&stamp(10, Some("\"e1\""), "2026-02-01T00:00:00Z")));
        assert!(a.changed(&stamp(11, Some("\"e1\""), "2026-01-01T00:00:00Z")));
        assert!(a.changed(&stamp(10, Some("\"e2\""), "2026-01-01T00:00:00Z")));
        let local = stamp(10, None, "2026-01-01T00:00:00Z");
        assert!(!local.changed(&stamp(10, None, "2026-01-01T00:00:00Z")));
        assert!(local.changed(&stamp(10, None, "2026-01-01T00:00:01Z")));
    }
}
