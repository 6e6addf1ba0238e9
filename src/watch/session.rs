//! One `etl watch` session: the last good compiled project, what each task was when it last
//! ran (its fingerprint and the files it read), the open connections, and the loop that
//! turns file events and keys into re-runs of exactly the tasks an edit concerns.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use notify::RecursiveMode;
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

use super::diff::Snapshot;
use super::files::{FileWatcher, Trigger};
use super::fingerprint::{hash_text, Analysis};
use super::timeline::{micros, Timeline};
use super::WatchArgs;
use crate::config::Config;
use crate::connectors::Io;
use crate::context::LoadType;
use crate::exec::{self, RunRequest};
use crate::runmode::{RunMode, Sample};
use crate::runner::{self, RunReport, TaskStatus};
use crate::script::record::{LoadEvent, Recorder};
use crate::script::{Host, HostOptions, Mode, Project, SharedConnections};

/// What a task was when it last ran.
struct TaskRun {
    print: u64,
    inputs: BTreeSet<PathBuf>,
    ok: bool,
}

/// Why a run starts.
#[derive(Clone, Copy)]
enum Reason {
    Start,
    Change,
    Full,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Start => "start",
            Reason::Change => "change",
            Reason::Full => "full",
        }
    }
}

pub struct Session {
    args: WatchArgs,
    config_arg: Option<PathBuf>,
    config: Config,
    io: Io,
    connections: SharedConnections,
    sample: Option<Arc<Sample>>,
    recorder: Arc<Recorder>,
    project: Option<Arc<Project>>,
    analysis: Option<Analysis>,
    selected: Vec<String>,
    ran: HashMap<String, TaskRun>,
    /// Content hashes of the files that matter (None: missing), to drop events that
    /// change nothing (an editor saving twice, a touch).
    known: HashMap<PathBuf, Option<u64>>,
    snapshots: HashMap<(String, String), Snapshot>,
    timeline: Timeline,
    runs: u64,
    load_type: LoadType,
    params: std::collections::BTreeMap<String, String>,
    /// The session's log file (opened with the first good compilation).
    log: Option<exec::RunLog>,
}

pub enum Setup {
    Ready(Box<Session>),
    Exit(u8),
}

impl Session {
    pub fn setup(config_arg: Option<PathBuf>, args: WatchArgs, cancel: CancellationToken) -> Setup {
        let fail = |e: String| {
            eprintln!("error: {e}");
            Setup::Exit(2)
        };
        let load_type = match LoadType::parse(&args.load_type) {
            Ok(LoadType::Backfill) => return fail("--load-type B is for `etl backfill`".into()),
            Ok(t) => t,
            Err(e) => return fail(format!("--load-type: {e}")),
        };
        let params = match exec::parse_params(&args.params) {
            Ok(p) => p,
            Err(e) => return fail(e),
        };
        let sample = if args.limit.is_some() || args.scratch.is_some() {
            match Sample::new(args.limit, args.scratch.as_deref()) {
                Ok(s) => Some(Arc::new(s)),
                Err(e) => return fail(format!("--scratch: {e}")),
            }
        } else {
            None
        };
        let config = match load_config(config_arg.as_deref(), &args) {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        let timeline = match Timeline::open(args.events.as_deref()) {
            Ok(t) => t,
            Err(e) => return fail(format!("--events: {e}")),
        };
        Setup::Ready(Box::new(Session {
            config_arg,
            config,
            io: Io {
                handle: tokio::runtime::Handle::current(),
                cancel,
            },
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

    fn project_dir(&self) -> PathBuf {
        std::path::absolute(&self.args.script)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."))
    }

    fn stdlib_dir(&self) -> PathBuf {
        std::env::var_os("ETL_STDLIB")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.config.base_dir.join("stdlib"))
    }

    /// Compiles the script on a blocking thread. On success the new version replaces the
    /// old one; on failure the error is printed and the old version stays.
    async fn compile(&mut self) -> bool {
        let options = HostOptions {
            connections: Some(self.connections.clone()),
            mode: self.sample.clone().map(RunMode::Sample).unwrap_or_default(),
            recorder: Some(self.recorder.clone()),
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
                    let stamp = chrono::Local::now().format("%Y%m%d_%H%M%S").to_string();
                    let log = exec::open_log(&project, &stamp, false, exec::LogTo::Process);
                    if let Some(p) = &log.path {
                        println!("watch: log in {}", shorten(p));
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
                eprintln!("error: {e}");
                let kept = if self.project.is_some() {
                    "keeping the last good version; fix the script and save to reload"
                } else {
                    "nothing to run yet; fix the script and save to load it"
                };
                println!("watch: the script does not compile: {kept}");
                self.timeline.emit("compile_error", json!({ "error": e }));
                false
            }
        }
    }

    /// The files a compiled version was made of: their hashes now, and folders to watch.
    fn remember_sources(&mut self) {
        let Some(p) = &self.project else { return };
        let names: Vec<String> = p.host.sources.all().into_iter().map(|(n, _)| n).collect();
        for name in names {
            let path = PathBuf::from(&name);
            if path.is_file() {
                self.known
                    .entry(path.clone())
                    .or_insert_with(|| content_hash(&path));
            }
        }
        if let Some(c) = &self.config.path {
            let c = absolute(c);
            self.known
                .entry(c.clone())
                .or_insert_with(|| content_hash(&c));
        }
    }

    fn watch_dirs(&self, watcher: &mut FileWatcher) {
        let project_dir = self.project_dir();
        watcher.watch(&project_dir, RecursiveMode::Recursive);
        watcher.watch(&self.stdlib_dir(), RecursiveMode::Recursive);
        if let Some(dir) = self
            .config
            .path
            .as_ref()
            .and_then(|p| absolute(p).parent().map(Path::to_path_buf))
        {
            watcher.watch(&dir, RecursiveMode::NonRecursive);
        }
        for path in self.known.keys() {
            if let Some(dir) = path.parent() {
                watcher.watch(dir, RecursiveMode::NonRecursive);
            }
        }
    }

    /// Whether an event on `path` can matter: a file the project is made of or reads, the
    /// configuration, or a new script or SQL file beside them.
    fn relevant(&self, path: &Path) -> bool {
        if path.starts_with(&self.config.metadata_dir) {
            return false;
        }
        if self.known.contains_key(path) {
            return true;
        }
        let script_like = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("rhai" | "sql")
        );
        script_like && (path.starts_with(self.project_dir()) || path.starts_with(self.stdlib_dir()))
    }

    fn is_config(&self, path: &Path) -> bool {
        self.config
            .path
            .as_ref()
            .is_some_and(|c| absolute(c) == path)
    }

    /// Runs the session until Ctrl-C or `q`. The exit code is 0.
    pub async fn run(
        mut self: Box<Self>,
        mut triggers: UnboundedReceiver<Trigger>,
        mut watcher: FileWatcher,
    ) -> u8 {
        let cancel = self.io.cancel.clone();
        if self.compile().await {
            let all = self.selected.clone();
            self.run_tasks(all, Reason::Start).await;
        }
        self.watch_dirs(&mut watcher);
        println!(
            "watch: watching {} (save a file to re-run what it concerns; r + Enter re-runs everything, q + Enter or Ctrl-C quits)",
            self.project_dir().display()
        );
        self.timeline.emit("ready", json!({}));
        loop {
            let trigger = tokio::select! {
                t = triggers.recv() => t,
                _ = cancel.cancelled() => None,
            };
            let Some(mut trigger) = trigger else { break };
            // Folders created since (a new stdlib/, a module elsewhere) are watched from now on.
            self.watch_dirs(&mut watcher);
            // Coalesce what queued up meanwhile (a run in progress, a burst of saves).
            let mut paths: Vec<PathBuf> = Vec::new();
            let mut first: Option<SystemTime> = None;
            let mut full = false;
            loop {
                match trigger {
                    Trigger::Quit => {
                        println!("watch: bye");
                        return 0;
                    }
                    Trigger::Full => full = true,
                    Trigger::Files { paths: p, first: t } => {
                        paths.extend(p);
                        first = Some(first.map_or(t, |f| f.min(t)));
                    }
                }
                match triggers.try_recv() {
                    Ok(t) => trigger = t,
                    Err(_) => break,
                }
            }
            let changed = self.changed_files(paths);
            if !changed.is_empty() {
                let shown: Vec<String> = changed.iter().map(|p| shorten(p)).collect();
                println!("watch: changed {}", shown.join(", "));
                self.timeline.emit(
                    "change",
                    json!({ "first_event": first.map(micros), "paths": shown }),
                );
            }
            if changed.is_empty() && !full {
                continue;
            }
            self.on_change(&changed, full).await;
        }
        println!("watch: stopped");
        0
    }

    /// Keeps the paths whose content differs from what was last seen.
    fn changed_files(&mut self, paths: Vec<PathBuf>) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for p in paths {
            let p = absolute(&p);
            if !self.relevant(&p) {
                continue;
            }
            let now = content_hash(&p);
            let before = self.known.insert(p.clone(), now);
            if before != Some(now) {
                out.push(p);
            }
        }
        out
    }

    async fn on_change(&mut self, changed: &[PathBuf], full: bool) {
        let config_changed = changed.iter().any(|p| self.is_config(p));
        if config_changed {
            match load_config(self.config_arg.as_deref(), &self.args) {
                Ok(c) => {
                    self.config = c;
                    // Connections may point elsewhere now: open them anew.
                    self.connections = SharedConnections::default();
                    println!("watch: configuration reloaded");
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    println!("watch: the configuration does not load: keeping the previous one");
                    return;
                }
            }
        }
        let scripts_changed = changed
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "rhai"));
        if (config_changed || scripts_changed || self.project.is_none()) && !self.compile().await {
            return;
        }
        if self.project.is_none() {
            return;
        }
        let tasks = if full || config_changed || self.args.all {
            self.selected.clone()
        } else {
            self.affected(changed)
        };
        if tasks.is_empty() {
            println!("watch: no task is affected by this change");
            self.timeline.emit("nothing_to_run", json!({}));
            return;
        }
        let reason = if full { Reason::Full } else { Reason::Change };
        self.run_tasks(tasks, reason).await;
    }

    /// The tasks an edit concerns: those whose fingerprint changed or that read a changed
    /// file, their dependants, and the dependencies they need that have not succeeded.
    fn affected(&self, changed: &[PathBuf]) -> Vec<String> {
        let (Some(project), Some(analysis)) = (&self.project, &self.analysis) else {
            return Vec::new();
        };
        let selected: HashSet<&str> = self.selected.iter().map(String::as_str).collect();
        let mut run: HashSet<String> = HashSet::new();
        for name in &self.selected {
            let def = project.task(name).expect("selected tasks exist");
            let dirty = match self.ran.get(name) {
                None => true,
                Some(r) => {
                    r.print != analysis.task(def) || r.inputs.iter().any(|i| changed.contains(i))
                }
            };
            if dirty {
                run.insert(name.clone());
            }
        }
        // Dependants, transitively.
        loop {
            let before = run.len();
            for t in &project.tasks {
                if selected.contains(t.name.as_str())
                    && !run.contains(&t.name)
                    && t.after.iter().any(|d| run.contains(d))
                {
                    run.insert(t.name.clone());
                }
            }
            if run.len() == before {
                break;
            }
        }
        // Dependencies that never succeeded in this session.
        let mut stack: Vec<String> = run.iter().cloned().collect();
        while let Some(n) = stack.pop() {
            let Some(def) = project.task(&n) else {
                continue;
            };
            for d in &def.after {
                let ok = self.ran.get(d).is_some_and(|r| r.ok);
                if selected.contains(d.as_str()) && !ok && run.insert(d.clone()) {
                    stack.push(d.clone());
                }
            }
        }
        self.selected
            .iter()
            .filter(|n| run.contains(*n))
            .cloned()
            .collect()
    }

    async fn run_tasks(&mut self, tasks: Vec<String>, reason: Reason) {
        let Some(project) = self.project.clone() else {
            return;
        };
        self.runs += 1;
        let run = exec::new_run(
            &project,
            RunRequest {
                load_type: self.load_type,
                window: None,
                params: self.params.clone(),
                dry_run: false,
            },
        );
        let _ = self.recorder.take();
        println!(
            "watch: run {} ({}): {}",
            self.runs,
            reason.as_str(),
            tasks.join(", ")
        );
        self.timeline.emit(
            "run_start",
            json!({ "run": self.runs, "reason": reason.as_str(), "tasks": tasks }),
        );
        let jobs = self.args.jobs.unwrap_or_else(exec::default_jobs);
        let report = runner::run(project.clone(), run.clone(), tasks.clone(), jobs).await;
        let ended = SystemTime::now();
        exec::remove_outputs(&project, &run);
        let recorded = self.recorder.take();
        if let Some(analysis) = &self.analysis {
            for name in &tasks {
                let Some(def) = project.task(name) else {
                    continue;
                };
                let outcome = report.outcomes.iter().find(|o| &o.name == name);
                let inputs = recorded.inputs.get(name).cloned().unwrap_or_default();
                for i in &inputs {
                    self.known
                        .entry(i.clone())
                        .or_insert_with(|| content_hash(i));
                }
                self.ran.insert(
                    name.clone(),
                    TaskRun {
                        print: analysis.task(def),
                        inputs,
                        ok: outcome.is_some_and(|o| o.status == TaskStatus::Success),
                    },
                );
            }
        }
        let changes = self.compare_loads(&project, recorded.loads).await;
        let table = summary(&report, &changes);
        print!("{table}");
        for o in &report.outcomes {
            if o.status == TaskStatus::Failed {
                println!(
                    "watch: task '{}' failed:\n{}",
                    o.name,
                    o.error.clone().unwrap_or_default()
                );
            }
        }
        let outcomes: Vec<serde_json::Value> = report
            .outcomes
            .iter()
            .map(|o| {
                json!({
                    "task": o.name,
                    "status": o.status.as_str(),
                    "rows": o.rows,
                    "seconds": o.duration.as_secs_f64(),
                    "change": changes.get(&o.name).cloned().unwrap_or_default(),
                })
            })
            .collect();
        let mut line = json!({
            "run": self.runs,
            "ok": report.succeeded(),
            "seconds": report.duration.as_secs_f64(),
            "outcomes": outcomes,
        });
        line["ended"] = json!(micros(ended));
        self.timeline.emit("run_end", line);
    }

    /// Reads back each loaded table and compares it with the previous re-run: per task, a
    /// short description of the changes of its loads.
    async fn compare_loads(
        &mut self,
        project: &Arc<Project>,
        loads: Vec<LoadEvent>,
    ) -> HashMap<String, String> {
        let mut per_task: HashMap<String, Vec<String>> = HashMap::new();
        for load in loads {
            let host = project.host.clone();
            let io = self.io.clone();
            let (conn, table, key) = (
                load.connection.clone(),
                load.table.clone(),
                load.key.clone(),
            );
            let snap = tokio::task::spawn_blocking(move || {
                let db = host.connection(&conn)?;
                Snapshot::take(&db, &io, &table, &key)
            })
            .await;
            let text = match snap {
                Ok(Ok(new)) => {
                    let id = (load.connection.clone(), load.table.clone());
                    let text = match self.snapshots.get(&id) {
                        None => format!("{} rows (first load)", new.count),
                        Some(old) => match new.since(old) {
                            Some(c) => c.describe(),
                            None => format!("{} rows (too many to compare)", new.count),
                        },
                    };
                    self.snapshots.insert(id, new);
                    text
                }
                Ok(Err(e)) => format!("cannot compare: {e}"),
                Err(e) => format!("cannot compare: {e}"),
            };
            per_task
                .entry(load.task.clone())
                .or_default()
                .push(format!("{}: {text}", load.table));
        }
        per_task
            .into_iter()
            .map(|(k, v)| (k, v.join("; ")))
            .collect()
    }
}

fn load_config(explicit: Option<&Path>, args: &WatchArgs) -> Result<Config, String> {
    let dir = std::path::absolute(&args.script)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    Config::load(explicit, dir.as_deref(), args.env.as_deref()).map_err(|e| e.to_string())
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn content_hash(p: &Path) -> Option<u64> {
    std::fs::read(p)
        .ok()
        .map(|b| hash_text(&String::from_utf8_lossy(&b)))
}

/// A path relative to the working directory when it is under it.
fn shorten(p: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(cwd).ok().map(|r| r.display().to_string()))
        .unwrap_or_else(|| p.display().to_string())
}

/// The table after a re-run: task, status, rows, time, and what its loads changed.
fn summary(report: &RunReport, changes: &HashMap<String, String>) -> String {
    let mut rows = vec![[
        "task".to_string(),
        "status".into(),
        "rows".into(),
        "time".into(),
        "change since the previous run".into(),
    ]];
    for o in &report.outcomes {
        rows.push([
            o.name.clone(),
            o.status.as_str().into(),
            o.rows.to_string(),
            format!("{:.2}s", o.duration.as_secs_f64()),
            changes.get(&o.name).cloned().unwrap_or_default(),
        ]);
    }
    crate::table::render(&rows)
}
