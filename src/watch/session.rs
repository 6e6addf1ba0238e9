//! One `etl watch` session: the last good compiled project, what each task was when it last
//! ran (its fingerprint and the files it read), the open connections, and the loop that
//! turns file events and keys into re-runs of exactly the tasks an edit concerns.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::args::WatchArgs;
use super::diff::Snapshot;
use super::fingerprint::Analysis;
use super::sources::{absolute, shorten};
use super::timeline::Timeline;
use crate::config::Config;
use crate::connectors::Io;
use crate::context::LoadType;
use crate::exec;
use crate::outcome::CliError;
use crate::runmode::{RunMode, Sample};
use crate::runner;
use crate::script::record::Recorder;
use crate::script::{Host, HostOptions, Mode, Project, SharedConnections};

/// What a task was when it last ran.
pub(super) struct TaskRun {
    pub(super) print: u64,
    pub(super) inputs: BTreeSet<PathBuf>,
    pub(super) ok: bool,
}

pub struct Session {
    pub(super) args: WatchArgs,
    pub(super) config_arg: Option<PathBuf>,
    pub(super) config: Config,
    pub(super) io: Io,
    pub(super) connections: SharedConnections,
    pub(super) sample: Option<Arc<Sample>>,
    pub(super) recorder: Arc<Recorder>,
    pub(super) project: Option<Arc<Project>>,
    pub(super) analysis: Option<Analysis>,
    pub(super) selected: Vec<String>,
    pub(super) ran: HashMap<String, TaskRun>,
    /// Content hashes of the files that matter (None: missing), to drop events that
    /// change nothing (an editor saving twice, a touch).
    pub(super) known: HashMap<PathBuf, Option<u64>>,
    pub(super) snapshots: HashMap<(String, String), Snapshot>,
    pub(super) timeline: Timeline,
    pub(super) runs: u64,
    pub(super) load_type: LoadType,
    pub(super) params: std::collections::BTreeMap<String, String>,
    /// The session's log file (opened with the first good compilation).
    pub(super) log: Option<exec::RunLog>,
}

impl Session {
    pub fn setup(
        config_arg: Option<PathBuf>,
        args: WatchArgs,
        cancel: CancellationToken,
    ) -> Result<Box<Session>, CliError> {
        let load_type = match LoadType::parse(&args.load_type) {
            Ok(LoadType::Backfill) => {
                return Err(CliError::usage("--load-type B is for `etl backfill`"))
            }
            Ok(t) => t,
            Err(e) => return Err(CliError::usage(format!("--load-type: {e}"))),
        };
        let params = exec::parse_params(&args.params).map_err(CliError::usage)?;
        let sample = if args.limit.is_some() || args.scratch.is_some() {
            let sample = Sample::new(args.limit, args.scratch.as_deref())
                .map_err(|e| CliError::usage(format!("--scratch: {e}")))?;
            Some(Arc::new(sample))
        } else {
            None
        };
        let config = load_config(config_arg.as_deref(), &args)?;
        let timeline = Timeline::open(args.events.as_deref())
            .map_err(|e| CliError::system(format!("--events: {e}")))?;
        Ok(Box::new(Session {
            config_arg,
            config,
            io: exec::io(cancel),
            connections: SharedConnections::default(),
            sample,
            recorder: Arc::new(Recorder::default()),
            project: None,
            analysis: None,
            selected: Vec::new(),
            ran: HashMap::new(),
            known: HashMap::new(),
            snapshots: HashMap::new(),
            timeline,
            runs: 0,
            load_type,
            params,
            log: None,
            args,
        }))
    }

    /// Folders whose events never matter: logs, outputs and the embedded warehouse.
    pub fn ignored_dirs(&self) -> Vec<PathBuf> {
        vec![absolute(&self.config.metadata_dir)]
    }

    pub(super) fn project_dir(&self) -> PathBuf {
        std::path::absolute(&self.args.script)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."))
    }

    pub(super) fn stdlib_dir(&self) -> PathBuf {
        std::env::var_os("ETL_STDLIB")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.config.base_dir.join("stdlib"))
    }

    /// Compiles the script on a blocking thread. On success the new version replaces the
    /// old one; on failure the error is logged and the old version stays (the session goes
    /// on, so this is no command error).
    pub(super) async fn compile(&mut self) -> bool {
        let options = HostOptions {
            connections: Some(self.connections.clone()),
            mode: self.sample.clone().map(RunMode::Sample).unwrap_or_default(),
            recorder: Some(self.recorder.clone()),
            ..HostOptions::default()
        };
        let host = Host::with_options(
            Mode::Run,
            self.config.clone(),
            &self.args.script,
            self.io.clone(),
            options,
        );
        let started = Instant::now();
        let compiled = exec::compile(host).await.and_then(|p| {
            let selection = runner::Selection {
                tasks: self.args.tasks.clone(),
                with_deps: false,
            };
            let selected = runner::select(&p, &selection)?;
            Ok((p, selected))
        });
        match compiled {
            Ok((project, selected)) => {
                let analysis = Analysis::of(&project);
                let project = Arc::new(project);
                if self.log.is_none() {
                    let stamp = crate::logging::process_stamp();
                    let log = exec::open_log(&project, &stamp, false, exec::LogTo::Process);
                    if let Some(p) = &log.path {
                        crate::stdout::note(format_args!("watch: log in {}", shorten(p)));
                    }
                    self.log = Some(log);
                }
                self.timeline.emit(
                    "compiled",
                    json!({ "ms": started.elapsed().as_secs_f64() * 1000.0 }),
                );
                self.project = Some(project);
                self.analysis = Some(analysis);
                self.selected = selected;
                self.remember_sources();
                true
            }
            Err(e) => {
                tracing::error!("{e}");
                let kept = if self.project.is_some() {
                    "keeping the last good version; fix the script and save to reload"
                } else {
                    "nothing to run yet; fix the script and save to load it"
                };
                crate::stdout::note(format_args!("watch: the script does not compile: {kept}"));
                self.timeline.emit("compile_error", json!({ "error": e }));
                false
            }
        }
    }
}

pub(super) fn load_config(explicit: Option<&Path>, args: &WatchArgs) -> Result<Config, CliError> {
    exec::load_config(explicit, Some(&args.script), args.env.as_deref())
}
