//! Which files a load of a file source reads (`incremental: "files"`, `file_date`): the
//! candidates, less those the target's `etl_files` says this project already loaded into the
//! table (a changed one per `on_change`), and in a backfill only those whose name dates them
//! inside the window. The chosen files' stamps are recorded in the load's transaction.

use std::sync::Arc;

use chrono::NaiveDate;

use crate::audit_files::FileStamp;
use crate::connectors::files::{ByFile, OnChange};
use crate::connectors::{AuditStore, Io, Source};
use crate::context::RunInfo;
use crate::error::{EtlError, Result};

/// The files a load reads, and what to record of them.
pub struct Picked {
    pub source: Arc<dyn Source>,
    /// Recorded in `etl_files` with the rows (empty without `incremental: "files"`).
    pub stamps: Vec<FileStamp>,
    /// `etl_files` does not exist yet: the load creates it.
    pub create_table: bool,
}

fn day(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

/// The files to read; None when there is none (every file was loaded before).
pub fn pick(
    by: &ByFile,
    audit: &dyn AuditStore,
    io: &Io,
    run: &RunInfo,
    table: &str,
) -> Result<Option<Picked>> {
    let mut files = by.files.clone();
    // A backfill window picks files by the date in their names, and loads them again
    // whatever was loaded before (it replaces its window).
    let window = match (&by.selection.file_date, run.since.as_deref().and_then(day)) {
        (Some(pattern), Some(since)) => {
            let until = run.until.as_deref().and_then(day);
            let before = files.len();
            files.retain(|f| {
                pattern
                    .date(&f.display)
                    .is_some_and(|d| d >= since && until.is_none_or(|u| d < u))
            });
            tracing::info!(
                table,
                "file_date {} picks {} of {before} files for the window.",
                pattern.as_str(),
                files.len()
            );
            true
        }
        _ => false,
    };
    if !by.selection.incremental {
        return Ok((!files.is_empty()).then(|| Picked {
            source: (by.read)(files),
            stamps: Vec::new(),
            create_table: false,
        }));
    }
    let known = audit.loaded_files(io, &run.project, table)?;
    let create_table = known.is_none();
    let known = known.unwrap_or_default();
    let (mut keep, mut stamps, mut old) = (Vec::new(), Vec::new(), 0usize);
    for f in files {
        let stamp = f.stamp().map_err(|e| EtlError::io(&f.display, e))?;
        match known.iter().find(|k| k.file == stamp.file) {
            Some(before) if !window && !before.changed(&stamp) => {
                old += 1;
                continue;
            }
            Some(before) if !window => match by.selection.on_change {
                OnChange::Reload => {
                    tracing::warn!(table, file = %f.display, "{} changed since it was loaded; loading it again (on_change: \"reload\").", f.display)
                }
                OnChange::Skip => {
                    tracing::warn!(table, file = %f.display, "{} changed since it was loaded; left out (on_change: \"skip\").", f.display);
                    old += 1;
                    continue;
                }
                OnChange::Error => {
                    return Err(EtlError::load(
                        table,
                        format!(
                            "{} changed since it was loaded ({} then, {} now); nothing was loaded. \
                             Pass on_change: \"reload\" to load it again (with a merge key, to replace its rows) or \"skip\" to leave it out",
                            f.display,
                            describe(before),
                            describe(&stamp)
                        ),
                    ))
                }
            },
            _ => {}
        }
        keep.push(f);
        stamps.push(stamp);
    }
    tracing::info!(
        table,
        "{} new or changed files to load ({old} loaded before).",
        keep.len()
    );
    if keep.is_empty() {
        return Ok(None);
    }
    Ok(Some(Picked {
        source: (by.read)(keep),
        stamps,
        create_table,
    }))
}

fn describe(s: &FileStamp) -> String {
    let mut parts = Vec::new();
    if let Some(size) = s.size {
        parts.push(format!("{size} bytes"));
    }
    if let Some(etag) = &s.etag {
        parts.push(format!("ETag {etag}"));
    }
    if let Some(m) = &s.modified {
        parts.push(format!("modified {m}"));
    }
    parts.join(", ")
}
