//! `etl schedule`: a long-lived process that runs the projects of a folder on their
//! `schedule` (cron syntax, in a configurable time zone), in-process through the same run path
//! as `etl exec`.
//!
//! - Never two runs of one project at once: an occurrence that falls while the previous run
//!   is still going is skipped (and logged).
//! - Hot reload: the folder is polled; an edited script is compiled off the async threads
//!   (after it stayed unchanged for one poll) and used from the project's next run; a new
//!   project folder is picked up; a script that no longer compiles keeps its last good
//!   version and the error is logged.
//! - SIGTERM / SIGINT: no new run starts; running ones get a grace period to finish, then
//!   they are cancelled (their loads roll back and are recorded as failed).
//! - Runs missed while the scheduler was down are found from `METADATA/schedule/state.json`
//!   and handled by the project's `missed` policy: skip them, or run once.

pub mod cron;
mod options;
mod state;
mod watch;

pub use cron::{Schedule, Zone};
pub use options::{Missed, ProjectOptions};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::Config;
use crate::connectors::Io;
use crate::exec::{self, RunRequest};
use crate::logging;
use crate::script::{Host, Mode, Project};
use state::State;
use watch::Fingerprint;

/// Used when neither `--grace` nor `[schedule] grace_seconds` says otherwise.
pub const DEFAULT_GRACE_SECONDS: f64 = 60.0;
/// After the grace period, how long cancelled runs get to roll back before the process exits.
const CANCEL_WAIT: Duration = Duration::from_secs(120);
/// Missed occurrences counted for the log line (a minutely schedule down for a month).
const MISSED_COUNT_CAP: usize = 10_000;

#[derive(clap::Args)]
pub struct ScheduleArgs {
    /// The folder of projects (each a folder holding project.rhai)
    #[arg(default_value = "projects", value_name = "PROJECTS_DIR")]
    pub dir: PathBuf,
    /// Environment from etl.toml (default: ETL_ENV, then the file's default_env, then dev)
    #[arg(long, env = "ETL_ENV")]
    pub env: Option<String>,
    /// Time zone of schedules whose project sets no `timezone` (IANA name, or "local";
    /// default: [schedule] timezone in etl.toml, else the system's)
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
    /// Seconds running loads may take to finish after SIGTERM/SIGINT before they are
    /// cancelled (default: [schedule] grace_seconds in etl.toml, else 60)
    #[arg(long, value_name = "SECONDS")]
    pub grace: Option<f64>,
    /// Seconds between two looks at the folder for new and edited scripts
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub poll: f64,
    /// Tasks run at once in each run (default: the number of cores)
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
}

/// A project as last compiled successfully.
struct Loaded {
    project: Arc<Project>,
    /// Cancels this version's runs (shutdown after the grace period).
    cancel: CancellationToken,
    options: ProjectOptions,
    schedule: Option<Schedule>,
}

struct Running {
    due: DateTime<Utc>,
    started: DateTime<Utc>,
    run_id: String,
    cancel: CancellationToken,
}

/// One project folder.
#[derive(Default)]
struct Entry {
    /// The scripts as last compiled (successfully or not).
    compiled: Option<Fingerprint>,
    /// Changed scripts seen once, compiled when the next poll sees them unchanged.
    pending: Option<Fingerprint>,
    loaded: Option<Loaded>,
    /// Missed runs are looked for once, at the first successful load.
    checked_missed: bool,
    next_due: Option<DateTime<Utc>>,
    running: Option<Running>,
}

impl Entry {
    fn name(&self) -> Option<&str> {
        self.loaded.as_ref().map(|l| l.project.meta.name.as_str())
    }
}

struct Done {
    dir: PathBuf,
    project: String,
    run_id: String,
    ok: bool,
    seconds: f64,
}

struct Scheduler {
    config_path: Option<PathBuf>,
    env: Option<String>,
    dir: PathBuf,
    default_zone: Zone,
    jobs: usize,
    entries: BTreeMap<PathBuf, Entry>,
    state: State,
    done_tx: mpsc::UnboundedSender<Done>,
    /// The folder could not be read (logged once until it can again).
    dir_error: bool,
}

pub async fn command(config: Option<&Path>, args: ScheduleArgs) -> u8 {
    match start(config, args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

async fn start(config_path: Option<&Path>, args: ScheduleArgs) -> Result<u8, String> {
    if !args.dir.is_dir() {
        return Err(format!(
            "{} is not a folder: give the folder that holds the projects (etl schedule PROJECTS_DIR)",
            args.dir.display()
        ));
    }
    let dir = std::path::absolute(&args.dir).unwrap_or_else(|_| args.dir.clone());
    let config =
        Config::load(config_path, Some(&dir), args.env.as_deref()).map_err(|e| e.to_string())?;
    let zone_text = args.timezone.clone().or(config.schedule.timezone.clone());
    let default_zone = match &zone_text {
        Some(z) => Zone::parse(z).map_err(|e| match &args.timezone {
            Some(_) => format!("--timezone: {e}"),
            None => format!("[schedule] timezone in etl.toml: {e}"),
        })?,
        None => Zone::Local,
    };
    let grace = args
        .grace
        .or(config.schedule.grace_seconds)
        .unwrap_or(DEFAULT_GRACE_SECONDS);
    if !(0.0..=86_400.0).contains(&grace) {
        return Err(format!(
            "the grace period must be 0 to 86400 seconds, not {grace}"
        ));
    }
    if !(0.05..=3600.0).contains(&args.poll) {
        return Err(format!(
            "--poll must be between 0.05 and 3600 seconds, not {}",
            args.poll
        ));
    }
    let home = config.metadata_dir.join("schedule");
    let stamp = chrono::Local::now().format("%Y%m%d_%H%M%S").to_string();
    let log_path = logging::attach_file(&home, "schedule", &stamp);
    logging::apply_retention(&home, "schedule", 30, 30);
    let mut signals = Signals::new().map_err(|e| format!("cannot watch for signals: {e}"))?;

    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let mut s = Scheduler {
        config_path: config_path.map(Path::to_path_buf),
        env: args.env.clone(),
        dir: dir.clone(),
        default_zone,
        jobs: args.jobs.unwrap_or_else(exec::default_jobs),
        entries: BTreeMap::new(),
        state: State::load(&home),
        done_tx,
        dir_error: false,
    };
    tracing::info!(
        "Scheduler started: projects in {}, environment '{}', time zone {}, grace period {grace}s{}.",
        dir.display(),
        config.env,
        s.default_zone.name(),
        match &log_path {
            Ok(p) => format!(", log {}", p.display()),
            Err(_) => String::new(),
        }
    );
    s.scan(true).await;
    if s.entries.is_empty() {
        tracing::warn!(
            "No project in {} yet (a project is a folder with project.rhai); new ones are picked up as they appear.",
            dir.display()
        );
    }

    let poll = Duration::from_secs_f64(args.poll);
    let mut next_poll = tokio::time::Instant::now() + poll;
    let signal = loop {
        s.start_due(Utc::now());
        let wake = match s.earliest_due() {
            Some(due) => {
                let until_due = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                next_poll.min(tokio::time::Instant::now() + until_due)
            }
            None => next_poll,
        };
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            Some(done) = done_rx.recv() => s.finished(done),
            sig = signals.recv() => break sig,
        }
        if tokio::time::Instant::now() >= next_poll {
            s.scan(false).await;
            next_poll = tokio::time::Instant::now() + poll;
        }
    };
    s.shutdown(signal, grace, &mut done_rx, &mut signals).await;
    Ok(0)
}

impl Scheduler {
    /// Looks at the folder: new, removed and edited projects. At startup every project is
    /// compiled at once; later an edit is compiled once it is stable for one poll.
    async fn scan(&mut self, startup: bool) {
        let dirs = match watch::project_dirs(&self.dir) {
            Ok(d) => {
                self.dir_error = false;
                d
            }
            Err(e) => {
                if !self.dir_error {
                    tracing::error!(
                        "Cannot read {}: {e}; the projects loaded keep their schedules.",
                        self.dir.display()
                    );
                    self.dir_error = true;
                }
                return;
            }
        };
        let gone: Vec<PathBuf> = self
            .entries
            .keys()
            .filter(|k| !dirs.contains(k))
            .cloned()
            .collect();
        for dir in gone {
            let entry = self.entries.remove(&dir).expect("listed");
            tracing::warn!(
                "{} has no project.rhai any more: project '{}' is no longer scheduled{}.",
                dir.display(),
                entry.name().unwrap_or("?"),
                if entry.running.is_some() {
                    " (its running run finishes)"
                } else {
                    ""
                }
            );
        }
        for dir in dirs {
            let fp = Fingerprint::of(&dir);
            let entry = self.entries.entry(dir.clone()).or_default();
            if entry.compiled.as_ref() == Some(&fp) {
                entry.pending = None;
                continue;
            }
            if !startup && entry.pending.as_ref() != Some(&fp) {
                entry.pending = Some(fp);
                continue;
            }
            entry.pending = None;
            entry.compiled = Some(fp);
            let result = self.compile(&dir).await;
            self.apply(&dir, result);
        }
    }

    async fn compile(&self, dir: &Path) -> Result<Loaded, String> {
        let script = dir.join(watch::SCRIPT);
        let config = Config::load(self.config_path.as_deref(), Some(dir), self.env.as_deref())
            .map_err(|e| e.to_string())?;
        let cancel = CancellationToken::new();
        let io = Io {
            handle: tokio::runtime::Handle::current(),
            cancel: cancel.clone(),
        };
        let host = Host::new(Mode::Run, config, &script, io);
        let project = exec::compile(host).await?;
        crate::notify::NotifySpec::from_meta(&project.meta.extra)
            .map_err(|e| format!("{}: {e}", script.display()))?;
        let options = ProjectOptions::from_meta(&project.meta)
            .map_err(|e| format!("{}: {e}", script.display()))?;
        let schedule = options
            .schedule(&self.default_zone)
            .transpose()
            .map_err(|e| format!("{}: {e}", script.display()))?;
        Ok(Loaded {
            project: Arc::new(project),
            cancel,
            options,
            schedule,
        })
    }

    fn apply(&mut self, dir: &Path, result: Result<Loaded, String>) {
        let now = Utc::now();
        let entry = self.entries.get_mut(dir).expect("entry exists");
        let loaded = match result {
            Ok(l) => l,
            Err(e) => {
                match &entry.loaded {
                    Some(old) => tracing::error!(
                        "The edited script of project '{}' does not compile; the scheduler keeps its last good version (v{}) until it is fixed:\n{e}",
                        old.project.meta.name,
                        old.project.meta.version
                    ),
                    None => tracing::error!(
                        "{} does not compile; it is not scheduled until it is fixed:\n{e}",
                        dir.join(watch::SCRIPT).display()
                    ),
                }
                return;
            }
        };
        let meta = &loaded.project.meta;
        let schedule_changed = entry
            .loaded
            .as_ref()
            .is_none_or(|old| old.schedule != loaded.schedule);
        match &entry.loaded {
            Some(_) => tracing::info!(
                "Reloaded project '{}' v{} from {}: its next run uses it.",
                meta.name,
                meta.version,
                dir.display()
            ),
            None => tracing::info!(
                "Loaded project '{}' v{} from {} ({} tasks, load type {}).",
                meta.name,
                meta.version,
                dir.display(),
                loaded.project.tasks.len(),
                loaded.options.load_type.code()
            ),
        }
        let name = meta.name.clone();
        match &loaded.schedule {
            None => {
                if schedule_changed {
                    tracing::info!(
                        "Project '{name}' has no schedule: the scheduler does not run it."
                    );
                }
                entry.next_due = None;
            }
            Some(schedule) => {
                if schedule_changed || entry.next_due.is_none() {
                    entry.next_due = schedule.next_after(now);
                }
                if !entry.checked_missed {
                    if let Some(last) = self.state.get(&name).last_due() {
                        let (count, latest) = schedule.between(last, now, MISSED_COUNT_CAP);
                        if let Some(latest) = latest {
                            let many = if count >= MISSED_COUNT_CAP {
                                format!("{count} or more runs")
                            } else if count == 1 {
                                "1 run".into()
                            } else {
                                format!("{count} runs")
                            };
                            match loaded.options.missed {
                                Missed::RunOnce => {
                                    tracing::warn!(
                                        "Project '{name}' missed {many} while the scheduler was not running (last {}): running once now (missed: \"run_once\").",
                                        local(latest)
                                    );
                                    entry.next_due = Some(now);
                                }
                                Missed::Skip => {
                                    tracing::warn!(
                                        "Project '{name}' missed {many} while the scheduler was not running (last {}): skipped (missed: \"skip\"; \"run_once\" runs once instead).",
                                        local(latest)
                                    );
                                    self.state
                                        .update(&name, |p| p.last_due = Some(state::stamp(latest)));
                                }
                            }
                        }
                    }
                }
                if let Some(next) = entry.next_due {
                    if schedule_changed {
                        tracing::info!(
                            "Project '{name}': schedule \"{}\" ({}); next run {}.",
                            schedule.text,
                            schedule.zone.name(),
                            local(next)
                        );
                    }
                } else {
                    tracing::warn!(
                        "Project '{name}': schedule \"{}\" never falls again; it is not run.",
                        schedule.text
                    );
                }
            }
        }
        entry.checked_missed = true;
        entry.loaded = Some(loaded);
    }

    fn earliest_due(&self) -> Option<DateTime<Utc>> {
        self.entries
            .values()
            .filter(|e| e.loaded.is_some())
            .filter_map(|e| e.next_due)
            .min()
    }

    /// Starts every project whose time has come, unless its previous run is still going.
    fn start_due(&mut self, now: DateTime<Utc>) {
        let due: Vec<PathBuf> = self
            .entries
            .iter()
            .filter(|(_, e)| e.loaded.is_some() && e.next_due.is_some_and(|d| d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for dir in due {
            let entry = self.entries.get_mut(&dir).expect("listed");
            let loaded = entry.loaded.as_ref().expect("filtered");
            let due = entry.next_due.expect("filtered");
            let name = loaded.project.meta.name.clone();
            entry.next_due = loaded
                .schedule
                .as_ref()
                .and_then(|s| s.next_after(now.max(due)));
            if let Some(r) = &entry.running {
                tracing::warn!(
                    run_id = %r.run_id,
                    "Project '{name}' is due ({}) but its run started {} is still going: this occurrence is skipped (runs of a project never overlap).",
                    local(due),
                    local(r.started)
                );
                self.state
                    .update(&name, |p| p.last_due = Some(state::stamp(due)));
                continue;
            }
            let project = loaded.project.clone();
            let cancel = loaded.cancel.clone();
            let load_type = loaded.options.load_type;
            let run = exec::new_run(
                &project,
                RunRequest {
                    load_type,
                    window: None,
                    params: BTreeMap::new(),
                    dry_run: false,
                },
            );
            let span = tracing::error_span!("run", project = %name);
            let log = exec::open_log(&project, &run.file_stamp(), false, exec::LogTo::Span(&span));
            tracing::info!(
                run_id = %run.id,
                "Starting the scheduled run of project '{name}' (due {}, load type {}){}.",
                local(due),
                load_type.code(),
                entry
                    .next_due
                    .map(|n| format!("; next {}", local(n)))
                    .unwrap_or_default()
            );
            self.state.update(&name, |p| {
                p.last_due = Some(state::stamp(due));
                p.last_started = Some(state::stamp(now));
                p.last_run_id = Some(run.id.clone());
            });
            entry.running = Some(Running {
                due,
                started: now,
                run_id: run.id.clone(),
                cancel,
            });
            let selected: Vec<String> = project.tasks.iter().map(|t| t.name.clone()).collect();
            let jobs = self.jobs;
            let tx = self.done_tx.clone();
            let started = std::time::Instant::now();
            tokio::spawn(async move {
                let work = async {
                    let report = exec::run_tasks(&project, &run, selected, jobs)
                        .instrument(span.clone())
                        .await;
                    if let Some(p) = &log.path {
                        span.in_scope(|| tracing::info!("Log: {}", p.display()));
                    }
                    exec::finish(&project, &run, &report, log.path.as_deref(), None)
                        .instrument(span.clone())
                        .await;
                    report.succeeded()
                };
                let ok = std::panic::AssertUnwindSafe(work)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| {
                        tracing::error!(run_id = %run.id, "The run of project '{name}' panicked.");
                        false
                    });
                drop(log);
                let _ = tx.send(Done {
                    dir,
                    project: name,
                    run_id: run.id.clone(),
                    ok,
                    seconds: started.elapsed().as_secs_f64(),
                });
            });
        }
    }

    fn finished(&mut self, done: Done) {
        if let Some(entry) = self.entries.get_mut(&done.dir) {
            if entry
                .running
                .as_ref()
                .is_some_and(|r| r.run_id == done.run_id)
            {
                entry.running = None;
            }
        }
        let status = if done.ok { "success" } else { "failed" };
        self.state.update(&done.project, |p| {
            p.last_finished = Some(state::stamp(Utc::now()));
            p.last_status = Some(status.into());
            p.last_run_id = Some(done.run_id.clone());
        });
        if done.ok {
            tracing::info!(run_id = %done.run_id, "Scheduled run of project '{}' succeeded in {:.2}s.", done.project, done.seconds);
        } else {
            tracing::error!(run_id = %done.run_id, "Scheduled run of project '{}' failed after {:.2}s (see its log).", done.project, done.seconds);
        }
    }

    fn running_names(&self) -> Vec<String> {
        self.entries
            .values()
            .filter(|e| e.running.is_some())
            .map(|e| e.name().unwrap_or("?").to_string())
            .collect()
    }

    /// No new run starts; running ones finish within the grace period or are cancelled.
    async fn shutdown(
        &mut self,
        signal: &str,
        grace: f64,
        done_rx: &mut mpsc::UnboundedReceiver<Done>,
        signals: &mut Signals,
    ) {
        let running = self.running_names();
        if running.is_empty() {
            tracing::info!("{signal}: stopping; no run was in progress. Scheduler stopped.");
            return;
        }
        tracing::warn!(
            "{signal}: stopping. No new run starts; waiting up to {grace}s for the running runs of: {} (again to cancel them now).",
            running.join(", ")
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(grace);
        while !self.running_names().is_empty() {
            tokio::select! {
                Some(done) = done_rx.recv() => self.finished(done),
                _ = tokio::time::sleep_until(deadline) => break,
                sig = signals.recv() => {
                    tracing::warn!("{sig} again: cancelling now.");
                    break;
                }
            }
        }
        let still = self.running_names();
        if !still.is_empty() {
            tracing::warn!(
                "Cancelling the runs of: {} (loads in progress roll back and are recorded as failed).",
                still.join(", ")
            );
            for e in self.entries.values() {
                if let Some(r) = &e.running {
                    r.cancel.cancel();
                    tracing::debug!(run_id = %r.run_id, due = %local(r.due), "Cancelled.");
                }
            }
            let hard = tokio::time::Instant::now() + CANCEL_WAIT;
            while !self.running_names().is_empty() {
                tokio::select! {
                    Some(done) = done_rx.recv() => self.finished(done),
                    _ = tokio::time::sleep_until(hard) => {
                        tracing::error!(
                            "The runs of {} did not stop within {}s of being cancelled; exiting anyway.",
                            self.running_names().join(", "),
                            CANCEL_WAIT.as_secs()
                        );
                        break;
                    }
                }
            }
        }
        tracing::info!("Scheduler stopped.");
    }
}

/// A time as the log shows it: local, to the second.
fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// SIGTERM and SIGINT (Ctrl-C), each as often as they come.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// The folder names of the projects under `dir` (for messages).
pub fn project_names(dir: &Path) -> Vec<String> {
    watch::project_dirs(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect()
}
