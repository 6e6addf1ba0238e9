//! One log format on the console and in
//! `metadata/logs/PROJECT/PROJECT_YYYYmmdd_HHMMSS_mmm_SUFFIX.log` (see [`stamp`]), with
//! retention by age and by count applied at the start of each run.
//!
//! A process that runs one project at a time (`etl exec`, `etl backfill`) attaches one file
//! for the whole process. The scheduler runs several projects at once: each run gets a span
//! routed to its own file ([`route_span`]), and every line logged inside that span (on any
//! thread the runner carries the span to) goes to that file instead.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

type Sink = Arc<Mutex<File>>;

/// The run's log file, attached once the project's name is known.
static FILE: Mutex<Option<Sink>> = Mutex::new(None);

/// Spans whose lines go to a file of their own (scheduled runs), by span id.
static ROUTES: Mutex<Vec<(tracing::span::Id, Sink)>> = Mutex::new(Vec::new());

thread_local! {
    /// The routed file of the event being written on this thread: set while the event is
    /// formatted (when its spans are known), taken when the writer is made for it.
    static EVENT_SINK: std::cell::RefCell<Option<Sink>> = const { std::cell::RefCell::new(None) };
}

#[derive(Clone, Copy)]
struct Tee;

struct TeeWriter {
    file: Option<Sink>,
}

impl Write for TeeWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(f) = &self.file {
            // A full disk must not stop the load; the console still has the line.
            let _ = f.lock().expect("log file lock").write_all(buf);
        }
        std::io::stderr().write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if let Some(f) = &self.file {
            let _ = f.lock().expect("log file lock").flush();
        }
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for Tee {
    type Writer = TeeWriter;
    fn make_writer(&'a self) -> TeeWriter {
        let routed = EVENT_SINK.with(|s| s.borrow_mut().take());
        TeeWriter {
            file: routed.or_else(|| FILE.lock().expect("log lock").clone()),
        }
    }
}

/// Sets up logging once per process. `verbosity`: -1 quiet (warnings), 0 info, 1 debug,
/// 2+ trace. `ETL_LOG` (tracing's filter syntax) overrides it.
pub fn init(verbosity: i8) {
    let level = match verbosity {
        i8::MIN..=-1 => "warn",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("ETL_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,etl={level},script={level}")));
    let format = tracing_subscriber::fmt::format()
        .with_ansi(false)
        .with_target(false)
        .with_timer(tracing_subscriber::fmt::time::ChronoLocal::new(
            "%Y-%m-%d %H:%M:%S%.3f".into(),
        ));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Tee)
        .with_ansi(false)
        .event_format(Routed(format))
        .try_init();
}

/// The default line format, plus: finds the routed file of the event's spans, if any.
struct Routed<F>(F);

impl<S, N, F> FormatEvent<S, N> for Routed<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let sink = {
            let routes = ROUTES.lock().expect("log routes lock");
            if routes.is_empty() {
                None
            } else {
                ctx.event_scope().and_then(|scope| {
                    scope.into_iter().find_map(|span| {
                        routes
                            .iter()
                            .find(|(id, _)| *id == span.id())
                            .map(|(_, sink)| sink.clone())
                    })
                })
            }
        };
        EVENT_SINK.with(|s| *s.borrow_mut() = sink);
        self.0.format_event(ctx, writer, event)
    }
}

/// Sends the lines logged inside `span` to `dir/PROJECT_STAMP.log` until the returned guard
/// is dropped; returns the path. The span must be enabled (create it with `error_span!`, so
/// that it is whatever the verbosity).
pub fn route_span(
    span: &tracing::Span,
    dir: &Path,
    project: &str,
    stamp: &str,
) -> std::io::Result<(PathBuf, RouteGuard)> {
    let id = span.id().ok_or_else(|| {
        std::io::Error::other("the run's log span is disabled by the log filter (ETL_LOG)")
    })?;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{project}_{stamp}.log"));
    let file = File::options().create(true).append(true).open(&path)?;
    ROUTES
        .lock()
        .expect("log routes lock")
        .push((id.clone(), Arc::new(Mutex::new(file))));
    Ok((path, RouteGuard { id }))
}

/// Ends a span's routing (and closes its file) when dropped.
pub struct RouteGuard {
    id: tracing::span::Id,
}

impl Drop for RouteGuard {
    fn drop(&mut self) {
        let mut routes = ROUTES.lock().expect("log routes lock");
        if let Some(i) = routes.iter().position(|(id, _)| *id == self.id) {
            let (_, sink) = routes.remove(i);
            let _ = sink.lock().expect("log file lock").flush();
        }
    }
}

/// Starts writing the log to `dir/PROJECT_STAMP.log`; returns the path.
pub fn attach_file(dir: &Path, project: &str, stamp: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{project}_{stamp}.log"));
    let file = File::options().create(true).append(true).open(&path)?;
    *FILE.lock().expect("log lock") = Some(Arc::new(Mutex::new(file)));
    Ok(path)
}

pub fn detach_file() {
    if let Some(f) = FILE.lock().expect("log lock").take() {
        let _ = f.lock().expect("log file lock").flush();
    }
}

/// The stamp of a log or output file name: `YYYYmmdd_HHMMSS_mmm_SUFFIX`, the local time to the
/// millisecond and a short suffix (a run's id suffix, or a random one for a process log).
/// Stamps sort by time; the suffix only keeps apart files started in the same millisecond.
pub fn stamp(at: DateTime<Utc>, suffix: &str) -> String {
    format!(
        "{}_{suffix}",
        at.with_timezone(&chrono::Local).format("%Y%m%d_%H%M%S_%3f")
    )
}

/// A [`stamp`] of now with a random suffix: for the log of a process (a backfill, the
/// scheduler, a watch session) rather than of one run.
pub fn process_stamp() -> String {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    stamp(Utc::now(), &suffix[..6])
}

/// The stamp of `name` when it is a log of `project`: `PROJECT_STAMP.log`, where STAMP is a
/// [`stamp`] or the older `YYYYmmdd_HHMMSS` (kept by retention, sorting before newer stamps of
/// the same second).
fn log_stamp<'a>(name: &'a str, project: &str) -> Option<&'a str> {
    let stamp = name
        .strip_prefix(project)?
        .strip_prefix('_')?
        .strip_suffix(".log")?;
    let b = stamp.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let second = b.len() >= 15 && digits(0..8) && b[8] == b'_' && digits(9..15);
    let old = b.len() == 15;
    let new = b.len() > 20
        && b[15] == b'_'
        && digits(16..19)
        && b[19] == b'_'
        && b[20..].iter().all(u8::is_ascii_alphanumeric);
    (second && (old || new)).then_some(stamp)
}

/// Deletes this project's logs older than `keep_days` (0 = no age limit) and all but the
/// newest `keep_runs` (0 = no count limit). Returns how many were removed. Only files named
/// as this project's logs are touched (see [`log_stamp`]).
pub fn apply_retention(dir: &Path, project: &str, keep_days: u32, keep_runs: u32) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut logs: Vec<(String, PathBuf, SystemTime)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let stamp = log_stamp(&name, project)?.to_string();
            Some((stamp, e.path(), e.metadata().ok()?.modified().ok()?))
        })
        .collect();
    // Stamps carry the start time, so they sort by age even if mtimes were touched.
    logs.sort_by(|a, b| b.0.cmp(&a.0));
    let now = SystemTime::now();
    let max_age = Duration::from_secs(u64::from(keep_days) * 86_400);
    let mut removed = 0;
    for (i, (_, path, modified)) in logs.iter().enumerate() {
        let too_many = keep_runs > 0 && i >= keep_runs as usize;
        let too_old = keep_days > 0 && now.duration_since(*modified).unwrap_or_default() > max_age;
        if (too_many || too_old) && std::fs::remove_file(path).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_keeps_the_newest_runs_of_this_project_only() {
        let dir = tempfile::tempdir().unwrap();
        for stamp in ["20260101_000000", "20260102_000000", "20260103_000000"] {
            std::fs::write(dir.path().join(format!("shop_{stamp}.log")), "x").unwrap();
        }
        std::fs::write(dir.path().join("other_20260101_000000.log"), "x").unwrap();
        assert_eq!(apply_retention(dir.path(), "shop", 7, 2), 1);
        assert!(!dir.path().join("shop_20260101_000000.log").exists());
        assert!(dir.path().join("shop_20260103_000000.log").exists());
        assert!(dir.path().join("other_20260101_000000.log").exists());
    }

    #[test]
    fn stamps_are_unique_within_a_second_and_retention_orders_old_and_new_names() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
            .unwrap()
            .with_timezone(&Utc);
        let (a, b) = (stamp(at, "aaaaaa"), stamp(at, "bbbbbb"));
        assert_ne!(a, b);
        assert!(a.ends_with(".678_aaaaaa".replace('.', "_").as_str()), "{a}");
        assert_eq!(a.len(), "20260102_030405_678_aaaaaa".len());
        assert_ne!(process_stamp(), process_stamp());

        let dir = tempfile::tempdir().unwrap();
        let names = [
            "shop_20260101_000000.log",
            "shop_20260101_000000_001_c0ffee.log",
            "shop_20260101_000000_001_d00d1e.log",
            "shop_20260101_000001_000_0a0b0c.log",
            "shop_20260102_000000.log",
        ];
        for n in names {
            std::fs::write(dir.path().join(n), "x").unwrap();
        }
        // Not logs of this project: kept whatever their number.
        for n in [
            "shop_notes.log",
            "shop_eu_20260101_000000.log",
            "launcher.log",
        ] {
            std::fs::write(dir.path().join(n), "x").unwrap();
        }
        assert_eq!(apply_retention(dir.path(), "shop", 0, 3), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "launcher.log",
                "shop_20260101_000000_001_d00d1e.log",
                "shop_20260101_000001_000_0a0b0c.log",
                "shop_20260102_000000.log",
                "shop_eu_20260101_000000.log",
                "shop_notes.log",
            ]
        );
    }
}
