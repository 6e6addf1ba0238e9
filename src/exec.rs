//! One run of a project, the way `etl exec`, each window of `etl backfill` and each run of
//! `etl schedule` do it: evaluate the script, build the run context, open the run's log, run
//! the selected tasks, log the summary, notify, clean up output files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::context::{LoadType, RunInfo};
use crate::logging;
use crate::runner::{self, RunReport, TaskStatus};
use crate::script::{factory, Host, Project};

/// What a run is asked to do, beyond the project itself.
#[derive(Clone, Debug)]
pub struct RunRequest {
    pub load_type: LoadType,
    /// `[since, until)` of a backfill window, as `run.since` / `run.until`.
    pub window: Option<(String, String)>,
    pub params: BTreeMap<String, String>,
    pub dry_run: bool,
}

/// Evaluates the script on a blocking thread (scripts never run on async workers). The error
/// is the rendered script error (`path:line:col`, the line, a caret).
pub async fn compile(host: Arc<Host>) -> Result<Project, String> {
    match tokio::task::spawn_blocking(move || factory::load(host)).await {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("evaluating the script panicked: {e}")),
    }
}

/// `--param KEY=VALUE` arguments as `run.params`.
pub fn parse_params(raw: &[String]) -> Result<BTreeMap<String, String>, String> {
    raw.iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(format!("--param '{p}' must look like KEY=VALUE")),
        })
        .collect()
}

/// Tasks at once when `--jobs` is not given: the number of cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// The context of a new run of `project`: its own id, start time and output folder.
pub fn new_run(project: &Project, request: RunRequest) -> Arc<RunInfo> {
    let meta = &project.meta;
    let config = &project.host.config;
    let started_at = chrono::Utc::now();
    let (since, until) = match request.window {
        Some((s, u)) => (Some(s), Some(u)),
        None => (None, None),
    };
    Arc::new(RunInfo {
        id: RunInfo::new_id(started_at),
        project: meta.name.clone(),
        env: config.env.clone(),
        load_type: request.load_type,
        since,
        until,
        params: request.params,
        dry_run: request.dry_run,
        script_version: meta.version.clone(),
        started_at,
        output_dir: config.metadata_dir.join("output").join(&meta.name),
        output_files: Default::default(),
    })
}

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

/// Runs the selected tasks of a run and logs its start, the summary table and the outcome.
pub async fn run_tasks(
    project: &Arc<Project>,
    run: &Arc<RunInfo>,
    selected: Vec<String>,
    jobs: usize,
) -> RunReport {
    let meta = &project.meta;
    let window = match (&run.since, &run.until) {
        (Some(s), Some(u)) => format!(", window {s} .. {u}"),
        _ => String::new(),
    };
    tracing::info!(
        run_id = %run.id, env = %run.env, load_type = run.load_type.code(), version = %meta.version,
        "Run of project '{}' started ({} tasks{window}{}).", meta.name, selected.len(), if run.dry_run { ", dry run" } else { "" }
    );
    let report = runner::run(project.clone(), run.clone(), selected, jobs).await;
    let table = runner::summary(&report);
    tracing::info!(
        "Run finished in {:.2}s.\n{table}",
        report.duration.as_secs_f64()
    );
    if report.succeeded() {
        tracing::info!(run_id = %run.id, "Run succeeded.");
    } else {
        tracing::error!(run_id = %run.id, "Run failed: {} did not succeed.", failed_tasks(&report).join(", "));
    }
    report
}

/// The tasks of a report that did not succeed.
pub fn failed_tasks(report: &RunReport) -> Vec<&str> {
    report
        .outcomes
        .iter()
        .filter(|o| o.status != TaskStatus::Success)
        .map(|o| o.name.as_str())
        .collect()
}

/// The end of a run: its notification (which never fails the run: a mail that cannot be sent
/// is a warning and an audit record), then the output files are deleted unless kept (after
/// the notification, which may attach them).
pub async fn finish(
    project: &Arc<Project>,
    run: &Arc<RunInfo>,
    report: &RunReport,
    log_path: Option<&Path>,
    notify: Option<bool>,
) {
    crate::notify::after_run(project, run, report, log_path, notify).await;
    remove_outputs(project, run);
}

/// Deletes the run's output files when the project does not keep them (`output: #{ keep: false }`).
pub fn remove_outputs(project: &Project, run: &RunInfo) {
    if !project.meta.keep_output {
        for f in run.output_files.lock().expect("output lock").drain(..) {
            let _ = std::fs::remove_file(&f);
        }
    }
}

/// Loads the configuration for `script`, evaluates the script and selects its tasks: what
/// every run path does before its first run. Errors are printed; the value is the exit code
/// (2: a usage, configuration or script error).
pub async fn prepare(
    config: Option<&Path>,
    script: &Path,
    env: Option<&str>,
    selection: &runner::Selection,
    cancel: tokio_util::sync::CancellationToken,
    mode: crate::runmode::RunMode,
) -> Result<(Arc<Project>, Vec<String>), u8> {
    let project_dir = std::path::absolute(script)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let config = crate::config::Config::load(config, project_dir.as_deref(), env).map_err(|e| {
        eprintln!("error: {e}");
        2
    })?;
    let io = crate::connectors::Io {
        handle: tokio::runtime::Handle::current(),
        cancel,
    };
    let options = crate::script::HostOptions {
        mode,
        ..Default::default()
    };
    let host = Host::with_options(crate::script::Mode::Run, config, script, io, options);
    let project = compile(host).await.map_err(|e| {
        eprintln!("error: {e}");
        2
    })?;
    if let Err(e) = crate::notify::NotifySpec::from_meta(&project.meta.extra) {
        eprintln!("error: {}: {e}", script.display());
        return Err(2);
    }
    let selected = runner::select(&project, selection).map_err(|e| {
        eprintln!("error: {e}");
        2
    })?;
    Ok((Arc::new(project), selected))
}
