//! The run's log file and the project's log retention.

use std::path::PathBuf;

use crate::logging;
use crate::script::Project;

/// The project's log folder, `METADATA/logs/PROJECT`.
pub fn log_dir(project: &Project) -> PathBuf {
    project
        .host
        .config
        .metadata_dir
        .join("logs")
        .join(&project.meta.name)
}

/// Where the run's log lines go besides the console.
pub enum LogTo<'a> {
    /// One file for the whole process (`etl exec`, `etl backfill`).
    Process,
    /// Only the lines logged inside this span (a scheduled run among others).
    Span(&'a tracing::Span),
}

/// The run's open log file: its path, and for a routed span the guard that ends the routing.
pub struct RunLog {
    pub path: Option<PathBuf>,
    _route: Option<logging::RouteGuard>,
}

/// Opens `METADATA/logs/PROJECT/PROJECT_STAMP.log` for the run, then applies the project's
/// log retention (after opening, so this run's log counts among those kept; a dry run
/// deletes nothing). A log that cannot be written is a warning, never a failed run.
pub fn open_log(project: &Project, stamp: &str, dry_run: bool, to: LogTo<'_>) -> RunLog {
    let meta = &project.meta;
    let dir = log_dir(project);
    let opened = match to {
        LogTo::Process => logging::attach_file(&dir, &meta.name, stamp).map(|p| (p, None)),
        LogTo::Span(span) => {
            logging::route_span(span, &dir, &meta.name, stamp).map(|(p, guard)| (p, Some(guard)))
        }
    };
    let log = match opened {
        Ok((path, route)) => RunLog {
            path: Some(path),
            _route: route,
        },
        Err(e) => {
            tracing::warn!("Cannot write the log file in {}: {e}", dir.display());
            RunLog {
                path: None,
                _route: None,
            }
        }
    };
    if !dry_run {
        let removed =
            logging::apply_retention(&dir, &meta.name, meta.log_keep_days, meta.log_keep_runs);
        if removed > 0 {
            tracing::debug!("Removed {removed} old log files.");
        }
    }
    log
}
