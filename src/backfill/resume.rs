//! `--resume`: which windows earlier backfills already did, from the task-level records
//! they left in the audit table.

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::range::Window;
use super::slots::Slot;
use crate::audit::{AuditRecord, Status};
use crate::context::LoadType;
use crate::data::{DataType, Value};
use crate::load::parse_date_arg;
use crate::script::Project;

/// A window bound read back from the audit table: a date, a timestamp (with fraction), or a
/// timestamp with a zone (converted to UTC, as zone-less bounds of timestamptz cursors are).
pub fn stored_bound(s: &str) -> Option<NaiveDateTime> {
    let t = s.trim();
    if let Ok((dt, _)) = parse_date_arg(t) {
        return Some(dt);
    }
    if let Ok(dt) = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f") {
        return Some(dt);
    }
    match Value::parse(t, &DataType::TimestampTz) {
        Ok(Value::TimestampTz(z)) => Some(z.naive_utc()),
        _ => None,
    }
}

/// The runs that already did `window` for every task in `tasks`: per task, a successful
/// task-level B record of this window. None when some task has none.
pub fn completed_by(
    records: &[AuditRecord],
    tasks: &[String],
    window: &Window,
) -> Option<Vec<String>> {
    if tasks.is_empty() {
        return None;
    }
    let mut runs: Vec<String> = Vec::new();
    for task in tasks {
        let found = records.iter().find(|r| {
            r.task == *task
                && r.load_type == LoadType::Backfill.code()
                && r.status == Status::Success.as_str()
                && r.target_table.is_none()
                && r.start_load_date.as_deref().and_then(stored_bound) == Some(window.since)
                && r.end_load_date.as_deref().and_then(stored_bound) == Some(window.until)
        })?;
        if !runs.contains(&found.run_id) {
            runs.push(found.run_id.clone());
        }
    }
    Some(runs)
}

/// For each window, the runs that did it already (`--resume`), from the audit table of the
/// project's target connection.
pub(super) async fn done_windows(
    project: &Arc<Project>,
    tasks: &[String],
    slots: &[Slot],
) -> crate::error::Result<Vec<Option<Vec<String>>>> {
    let p = project.clone();
    let records = tokio::task::spawn_blocking(move || {
        let db = p.host.connection(&p.meta.target)?;
        // Every record of the project: the history is small next to the data it describes.
        db.audit()?
            .history(&p.host.io, Some(&p.meta.name), i64::MAX as usize)
    })
    .await
    .map_err(|e| crate::error::EtlError::Other(e.to_string()))??;
    Ok(slots
        .iter()
        .map(|s| completed_by(&records, tasks, &s.window))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backfill::Range;

    fn dt(s: &str) -> NaiveDateTime {
        parse_date_arg(s).unwrap().0
    }

    #[test]
    fn stored_bounds_read_back_in_every_form() {
        let want = dt("2025-01-04");
        for s in [
            "2025-01-04",
            "2025-01-04 00:00:00",
            "2025-01-04 00:00:00.000",
            "2025-01-04 00:00:00+00",
            "2025-01-04 01:00:00+01:00",
        ] {
            assert_eq!(stored_bound(s), Some(want), "{s}");
        }
        assert_eq!(stored_bound("42"), None);
    }

    fn marker(run: &str, task: &str, status: &str, since: &str, until: &str) -> AuditRecord {
        AuditRecord {
            run_id: run.into(),
            task: task.into(),
            status: status.into(),
            load_type: "B".into(),
            start_load_date: Some(since.into()),
            end_load_date: Some(until.into()),
            ..AuditRecord::default()
        }
    }

    #[test]
    fn a_window_is_done_when_every_task_has_a_successful_marker() {
        let r = Range::parse("2025-01-01", "2025-01-07", 3).unwrap();
        let w = r.windows();
        let tasks = vec!["a".to_string(), "b".to_string()];
        let mut load = marker("r1", "a", "success", "2025-01-01", "2025-01-04");
        load.target_table = Some("t".into());
        let records = vec![
            marker("r1", "a", "success", "2025-01-01", "2025-01-04"),
            marker("r1", "b", "failed", "2025-01-01", "2025-01-04"),
            marker("r2", "b", "success", "2025-01-01 00:00:00", "2025-01-04"),
            marker("r3", "a", "success", "2025-01-04", "2025-01-07"),
            load,
        ];
        assert_eq!(
            completed_by(&records, &tasks, &w[0]),
            Some(vec!["r1".to_string(), "r2".to_string()])
        );
        // Only task a did the second window; a load record is no marker.
        assert_eq!(completed_by(&records, &tasks, &w[1]), None);
        assert_eq!(
            completed_by(&records, &["a".to_string()], &w[1]),
            Some(vec!["r3".to_string()])
        );
        // An I or F record with the same bounds is not a backfill of the window.
        let mut inc = marker("r4", "b", "success", "2025-01-04", "2025-01-07");
        inc.load_type = "I".into();
        assert_eq!(completed_by(&[inc], &["b".to_string()], &w[1]), None);
    }
}
