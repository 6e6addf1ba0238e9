//! `etl backfill`: reloads a date range window by window (DESIGN.md §3). Each half-open window
//! `[from + k·N days, from + (k+1)·N days)`, the last one cut at `--to`, is a run of its own
//! with load type B and `run.since` / `run.until` set to the window; its loads replace exactly
//! that range (merge by key, or delete-range + insert in one transaction) and write their audit
//! records. Each task of a window also writes a task-level record with the window: the marker
//! `--resume` looks for to skip the windows already done.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::audit::{AuditRecord, Status};
use crate::config::Config;
use crate::connectors::Io;
use crate::context::LoadType;
use crate::data::{DataType, Value};
use crate::exec::{self, RunRequest};
use crate::load::parse_date_arg;
use crate::runner::{self, RunReport, TaskStatus};
use crate::script::{Host, Mode, Project};

/// More windows than this is almost certainly a typo in `--days` or the dates.
pub const MAX_WINDOWS: usize = 10_000;

#[derive(clap::Args)]
pub struct BackfillArgs {
    /// The project script (projects/NAME/project.rhai)
    pub script: PathBuf,
    /// Start of the range, included: YYYY-MM-DD or "YYYY-MM-DD HH:MM:SS"
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// End of the range, excluded: YYYY-MM-DD or "YYYY-MM-DD HH:MM:SS"
    #[arg(long, value_name = "DATE")]
    pub to: String,
    /// Days per window (the last window ends at --to)
    #[arg(long, value_name = "N")]
    pub days: u32,
    /// Environment from etl.toml (default: ETL_ENV, then the file's default_env, then dev)
    #[arg(long, env = "ETL_ENV")]
    pub env: Option<String>,
    /// Backfill only this task (repeatable)
    #[arg(long = "task", value_name = "NAME")]
    pub tasks: Vec<String>,
    /// With --task: also run the tasks they depend on
    #[arg(long)]
    pub with_deps: bool,
    /// A value for run.params (repeatable)
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Windows run at once, each with its own connections
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub parallel: usize,
    /// Skip the windows whose tasks already succeeded for the same range (audit table)
    #[arg(long)]
    pub resume: bool,
    /// Run the remaining windows after a failure and report the failures at the end
    #[arg(long)]
    pub keep_going: bool,
    /// List the windows (with --resume: which would be skipped) and run nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Tasks run at once within a window (default: the number of cores)
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
}

// ---------------------------------------------------------------- windows

/// One window `[since, until)`; `index` counts from 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub index: usize,
    pub since: NaiveDateTime,
    pub until: NaiveDateTime,
}

/// The range and window length as given on the command line.
#[derive(Clone, Debug)]
pub struct Range {
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
    pub days: u32,
    /// Whether bounds are written with a time of day (a bound was given with one).
    pub with_time: bool,
}

impl Range {
    pub fn parse(from: &str, to: &str, days: u32) -> Result<Range, String> {
        let (f, f_time) = parse_date_arg(from).map_err(|e| format!("--from {e}"))?;
        let (t, t_time) = parse_date_arg(to).map_err(|e| format!("--to {e}"))?;
        if days == 0 {
            return Err("--days must be 1 or more".into());
        }
        if t <= f {
            return Err(format!(
                "--to {to} must be after --from {from} (the range is [from, to): --to is excluded)"
            ));
        }
        let range = Range {
            from: f,
            to: t,
            days,
            with_time: f_time || t_time,
        };
        let n = range.count();
        if n > MAX_WINDOWS {
            return Err(format!(
                "{from} .. {to} in windows of {days} days gives {n} windows (at most {MAX_WINDOWS}): use a larger --days"
            ));
        }
        Ok(range)
    }

    fn count(&self) -> usize {
        let span = (self.to - self.from).num_seconds();
        let step = i64::from(self.days) * 86_400;
        ((span + step - 1) / step) as usize
    }

    /// The windows in order: `[from, from+N)`, ..., the last one cut at `to`.
    pub fn windows(&self) -> Vec<Window> {
        let step = chrono::Duration::days(i64::from(self.days));
        let mut out = Vec::with_capacity(self.count());
        let mut since = self.from;
        while since < self.to {
            let until = (since + step).min(self.to);
            out.push(Window {
                index: out.len(),
                since,
                until,
            });
            since = until;
        }
        out
    }

    /// A bound as `run.since` / `run.until` get it: `YYYY-MM-DD`, or `YYYY-MM-DD HH:MM:SS`
    /// when the range was given with a time of day.
    pub fn text(&self, t: NaiveDateTime) -> String {
        if self.with_time {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        } else {
            t.format("%Y-%m-%d").to_string()
        }
    }
}

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

// ---------------------------------------------------------------- the command

/// What happened to one window.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Done by an earlier backfill (`--resume`): the run ids.
    Done(Vec<String>),
    NotRun,
    Succeeded,
    Failed(String),
    Cancelled,
}

impl State {
    fn label(&self) -> &'static str {
        match self {
            State::Done(_) => "done earlier",
            State::NotRun => "not run",
            State::Succeeded => "success",
            State::Failed(_) => "failed",
            State::Cancelled => "cancelled",
        }
    }
}

struct Slot {
    window: Window,
    state: State,
    run_id: String,
    rows: u64,
    duration: Duration,
}

/// Everything a window's run needs, shared by the windows.
struct Plan {
    config: Config,
    script: PathBuf,
    selection: runner::Selection,
    params: BTreeMap<String, String>,
    jobs: usize,
    cancel: CancellationToken,
    range: Range,
    total: usize,
    /// The backfill's log, quoted by failure notifications.
    log_path: Option<PathBuf>,
}

pub async fn command(config: Option<&Path>, args: BackfillArgs) -> u8 {
    let range = match Range::parse(&args.from, &args.to, args.days) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    if args.parallel == 0 {
        eprintln!("error: --parallel must be 1 or more");
        return 2;
    }
    let params = match exec::parse_params(&args.params) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let cancel = CancellationToken::new();
    let selection = runner::Selection {
        tasks: args.tasks.clone(),
        with_deps: args.with_deps,
    };
    let (project, selected) = match exec::prepare(
        config,
        &args.script,
        args.env.as_deref(),
        &selection,
        cancel.clone(),
        crate::runmode::RunMode::Write,
    )
    .await
    {
        Ok(p) => p,
        Err(code) => return code,
    };
    let windows = range.windows();
    let mut slots: Vec<Slot> = windows
        .into_iter()
        .map(|window| Slot {
            window,
            state: State::NotRun,
            run_id: String::new(),
            rows: 0,
            duration: Duration::ZERO,
        })
        .collect();
    if args.resume {
        match done_windows(&project, &selected, &slots).await {
            Ok(done) => {
                for (slot, runs) in slots.iter_mut().zip(done) {
                    if let Some(runs) = runs {
                        slot.state = State::Done(runs);
                    }
                }
            }
            Err(e) => {
                eprintln!(
                    "error: --resume: cannot read the audit table of connection '{}': {e}",
                    project.meta.target
                );
                return 2;
            }
        }
    }
    if args.dry_run {
        print!("{}", dry_run_listing(&project, &selected, &range, &slots));
        return 0;
    }

    let stamp = chrono::Local::now().format("%Y%m%d_%H%M%S").to_string();
    let log = exec::open_log(&project, &stamp, false, exec::LogTo::Process);
    let to_run = slots
        .iter()
        .filter(|s| !matches!(s.state, State::Done(_)))
        .count();
    tracing::info!(
        "Backfill of project '{}' started: {} .. {} in windows of {} days: {}, {} to run ({} done earlier), {} at once.",
        project.meta.name,
        range.text(range.from),
        range.text(range.to),
        range.days,
        plural(slots.len(), "window"),
        to_run,
        slots.len() - to_run,
        args.parallel
    );
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("Interrupted: cancelling the backfill (loads in progress roll back).");
            on_signal.cancel();
        }
    });

    let plan = Arc::new(Plan {
        config: project.host.config.clone(),
        script: project.host.script.clone(),
        selection,
        params,
        jobs: args.jobs.unwrap_or_else(exec::default_jobs),
        cancel: cancel.clone(),
        total: slots.len(),
        range: range.clone(),
        log_path: log.path.clone(),
    });
    let started = Instant::now();
    let mut queue = slots
        .iter()
        .filter(|s| s.state == State::NotRun)
        .map(|s| s.window.clone())
        .collect::<std::collections::VecDeque<_>>();
    let mut running: JoinSet<(usize, WindowResult)> = JoinSet::new();
    let mut stopping = false;
    loop {
        while !stopping && !cancel.is_cancelled() && running.len() < args.parallel {
            let Some(window) = queue.pop_front() else {
                break;
            };
            let plan = plan.clone();
            let i = window.index;
            running.spawn(async move { (i, run_window(plan, window).await) });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, result) = match joined {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("A backfill window panicked: {e}");
                stopping = !args.keep_going;
                continue;
            }
        };
        let total = slots.len();
        let slot = &mut slots[i];
        slot.run_id = result.run_id;
        slot.rows = result.rows;
        slot.duration = result.duration;
        slot.state = result.state;
        if let State::Failed(why) = &slot.state {
            if !args.keep_going && !stopping {
                stopping = true;
                tracing::error!(
                    "Window {}/{total} failed ({why}): no further window starts{}.",
                    i + 1,
                    if running.is_empty() {
                        ""
                    } else {
                        "; the windows already running finish"
                    }
                );
            }
        }
    }

    let table = summary(&range, &slots);
    let failed: Vec<&Slot> = slots
        .iter()
        .filter(|s| matches!(s.state, State::Failed(_) | State::Cancelled))
        .collect();
    let not_run = slots.iter().filter(|s| s.state == State::NotRun).count();
    let succeeded = slots.iter().filter(|s| s.state == State::Succeeded).count();
    tracing::info!(
        "Backfill finished in {:.2}s.\n{table}",
        started.elapsed().as_secs_f64()
    );
    let code = if failed.is_empty() && not_run == 0 {
        tracing::info!(
            "Backfill succeeded: {} run, {} done earlier.",
            plural(succeeded, "window"),
            slots.len() - succeeded
        );
        0
    } else {
        let list: Vec<String> = failed
            .iter()
            .map(|s| {
                format!(
                    "{}/{} ({} .. {})",
                    s.window.index + 1,
                    slots.len(),
                    range.text(s.window.since),
                    range.text(s.window.until)
                )
            })
            .collect();
        tracing::error!(
            "Backfill failed: {} failed{}, {not_run} not run, {succeeded} succeeded. Run the same command with --resume to do the rest.",
            plural(failed.len(), "window"),
            if list.is_empty() {
                String::new()
            } else {
                format!(" ({})", list.join(", "))
            }
        );
        1
    };
    if let Some(p) = &log.path {
        tracing::info!("Log: {}", p.display());
    }
    code
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

struct WindowResult {
    state: State,
    run_id: String,
    rows: u64,
    duration: Duration,
}

/// One window as a run of its own: the script is evaluated again for it (its own connections,
/// so parallel windows never share a session), its tasks run with load type B and the window.
async fn run_window(plan: Arc<Plan>, window: Window) -> WindowResult {
    let since = plan.range.text(window.since);
    let until = plan.range.text(window.until);
    let span = tracing::error_span!(
        "window",
        w = %format!("{}/{} {since}..{until}", window.index + 1, plan.total)
    );
    let started = Instant::now();
    let failed = |why: String, run_id: String| WindowResult {
        state: State::Failed(why),
        run_id,
        rows: 0,
        duration: started.elapsed(),
    };
    let io = Io {
        handle: tokio::runtime::Handle::current(),
        cancel: plan.cancel.clone(),
    };
    let host = Host::new(Mode::Run, plan.config.clone(), &plan.script, io);
    let project = match exec::compile(host).instrument(span.clone()).await {
        Ok(p) => Arc::new(p),
        Err(e) => {
            span.in_scope(|| tracing::error!("The script no longer evaluates:\n{e}"));
            return failed("the script does not evaluate".into(), String::new());
        }
    };
    let selected = match runner::select(&project, &plan.selection) {
        Ok(s) => s,
        Err(e) => return failed(e, String::new()),
    };
    let run = exec::new_run(
        &project,
        RunRequest {
            load_type: LoadType::Backfill,
            window: Some((since, until)),
            params: plan.params.clone(),
            dry_run: false,
        },
    );
    let report: RunReport = exec::run_tasks(&project, &run, selected, plan.jobs)
        .instrument(span.clone())
        .await;
    let rows = report.outcomes.iter().map(|o| o.rows).sum();
    let state = if report.succeeded() {
        exec::remove_outputs(&project, &run);
        State::Succeeded
    } else {
        // A failed window notifies like a failed run (a successful one sends nothing: a
        // backfill of 300 windows must not send 300 mails).
        exec::finish(&project, &run, &report, plan.log_path.as_deref(), None)
            .instrument(span.clone())
            .await;
        if report
            .outcomes
            .iter()
            .any(|o| o.status == TaskStatus::Cancelled)
            || plan.cancel.is_cancelled()
        {
            State::Cancelled
        } else {
            State::Failed(format!(
                "{} did not succeed",
                exec::failed_tasks(&report).join(", ")
            ))
        }
    };
    WindowResult {
        state,
        run_id: run.id.clone(),
        rows,
        duration: started.elapsed(),
    }
}

/// For each window, the runs that did it already (`--resume`), from the audit table of the
/// project's target connection.
async fn done_windows(
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

fn dry_run_listing(project: &Project, tasks: &[String], range: &Range, slots: &[Slot]) -> String {
    let mut rows = vec![["window", "since", "until", "action"].map(String::from)];
    for s in slots {
        rows.push([
            format!("{}/{}", s.window.index + 1, slots.len()),
            range.text(s.window.since),
            range.text(s.window.until),
            match &s.state {
                State::Done(runs) => format!("skip: done by run {}", runs.join(", ")),
                _ => "run".into(),
            },
        ]);
    }
    let to_run = slots
        .iter()
        .filter(|s| !matches!(s.state, State::Done(_)))
        .count();
    format!(
        "Backfill of project '{}' (tasks: {}): {}, {to_run} to run.\n{}",
        project.meta.name,
        tasks.join(", "),
        plural(slots.len(), "window"),
        crate::table::render(&rows)
    )
}

fn summary(range: &Range, slots: &[Slot]) -> String {
    let mut rows = vec![[
        "window", "since", "until", "status", "rows", "duration", "run_id",
    ]
    .map(String::from)];
    for s in slots {
        let ran = matches!(
            s.state,
            State::Succeeded | State::Failed(_) | State::Cancelled
        );
        rows.push([
            format!("{}/{}", s.window.index + 1, slots.len()),
            range.text(s.window.since),
            range.text(s.window.until),
            s.state.label().to_string(),
            if ran {
                s.rows.to_string()
            } else {
                String::new()
            },
            if ran {
                format!("{:.2}s", s.duration.as_secs_f64())
            } else {
                String::new()
            },
            match &s.state {
                State::Done(runs) => runs.join(", "),
                _ => s.run_id.clone(),
            },
        ]);
    }
    crate::table::render(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        parse_date_arg(s).unwrap().0
    }

    fn texts(r: &Range) -> Vec<(String, String)> {
        r.windows()
            .iter()
            .map(|w| (r.text(w.since), r.text(w.until)))
            .collect()
    }

    #[test]
    fn windows_are_half_open_and_the_last_is_cut_at_to() {
        let r = Range::parse("2025-01-01", "2025-01-31", 3).unwrap();
        let w = texts(&r);
        assert_eq!(w.len(), 10);
        assert_eq!(w[0], ("2025-01-01".into(), "2025-01-04".into()));
        assert_eq!(w[9], ("2025-01-28".into(), "2025-01-31".into()));
        // Consecutive windows share their bound: nothing is read twice or skipped.
        for pair in r.windows().windows(2) {
            assert_eq!(pair[0].until, pair[1].since);
        }
        let r = Range::parse("2025-01-01", "2025-01-08", 3).unwrap();
        assert_eq!(
            texts(&r),
            [
                ("2025-01-01".into(), "2025-01-04".into()),
                ("2025-01-04".into(), "2025-01-07".into()),
                ("2025-01-07".into(), "2025-01-08".into()),
            ]
        );
        let one = Range::parse("2025-02-27", "2025-03-02", 30).unwrap();
        assert_eq!(texts(&one), [("2025-02-27".into(), "2025-03-02".into())]);
    }

    #[test]
    fn a_time_of_day_in_a_bound_makes_every_bound_a_date_time() {
        let r = Range::parse("2025-01-01 06:00", "2025-01-03", 1).unwrap();
        assert_eq!(
            texts(&r),
            [
                ("2025-01-01 06:00:00".into(), "2025-01-02 06:00:00".into()),
                ("2025-01-02 06:00:00".into(), "2025-01-03 00:00:00".into()),
            ]
        );
    }

    #[test]
    fn bad_ranges_say_what_to_change() {
        let e = Range::parse("2025-13-01", "2025-12-31", 1).unwrap_err();
        assert!(e.starts_with("--from '2025-13-01' is not a date"), "{e}");
        let e = Range::parse("2025-01-02", "2025-01-01", 1).unwrap_err();
        assert!(e.contains("must be after --from"), "{e}");
        let e = Range::parse("2025-01-01", "2025-01-01", 1).unwrap_err();
        assert!(e.contains("must be after --from"), "{e}");
        assert!(Range::parse("2025-01-01", "2025-01-02", 0)
            .unwrap_err()
            .contains("--days must be 1 or more"));
        let e = Range::parse("1900-01-01", "2100-01-01", 1).unwrap_err();
        assert!(e.contains("use a larger --days"), "{e}");
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
