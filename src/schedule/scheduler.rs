//! The scheduler's state: each project folder with its last good compiled version, its next
//! due time and its running run; looking at the folder and compiling what changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::state::State;
use super::watch::{self, Fingerprint};
use crate::config::Config;
use crate::cron::{Schedule, Zone};
use crate::exec;
use crate::script::project_options::ProjectOptions;
use crate::script::{Host, Mode, Project};

/// A project as last compiled successfully.
pub(super) struct Loaded {
    pub(super) project: Arc<Project>,
    /// Cancels this version's runs (shutdown after the grace period).
    pub(super) cancel: CancellationToken,
    pub(super) options: ProjectOptions,
    pub(super) schedule: Option<Schedule>,
}

pub(super) struct Running {
    pub(super) due: DateTime<Utc>,
    pub(super) started: DateTime<Utc>,
    pub(super) run_id: String,
    pub(super) cancel: CancellationToken,
}

/// One project folder.
#[derive(Default)]
pub(super) struct Entry {
    /// The scripts as last compiled (successfully or not).
    pub(super) compiled: Option<Fingerprint>,
    /// Changed scripts seen once, compiled when the next poll sees them unchanged.
    pub(super) pending: Option<Fingerprint>,
    pub(super) loaded: Option<Loaded>,
    /// Missed runs are looked for once, at the first successful load.
    pub(super) checked_missed: bool,
    pub(super) next_due: Option<DateTime<Utc>>,
    pub(super) running: Option<Running>,
}

impl Entry {
    pub(super) fn name(&self) -> Option<&str> {
        self.loaded.as_ref().map(|l| l.project.meta.name.as_str())
    }
}

pub(super) struct Done {
    pub(super) dir: PathBuf,
    pub(super) project: String,
    pub(super) run_id: String,
    pub(super) ok: bool,
    pub(super) seconds: f64,
}

pub(super) struct Scheduler {
    pub(super) config_path: Option<PathBuf>,
    pub(super) env: Option<String>,
    pub(super) dir: PathBuf,
    pub(super) default_zone: Zone,
    pub(super) jobs: usize,
    pub(super) entries: BTreeMap<PathBuf, Entry>,
    pub(super) state: State,
    pub(super) done_tx: mpsc::UnboundedSender<Done>,
    /// The folder could not be read (logged once until it can again).
    pub(super) dir_error: bool,
}

impl Scheduler {
    /// Looks at the folder: new, removed and edited projects. At startup every project is
    /// compiled at once; later an edit is compiled once it is stable for one poll.
    pub(super) async fn scan(&mut self, startup: bool) {
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

    pub(super) async fn compile(&self, dir: &Path) -> Result<Loaded, String> {
        let script = dir.join(watch::SCRIPT);
        let config = Config::load(self.config_path.as_deref(), Some(dir), self.env.as_deref())
            .map_err(|e| e.to_string())?;
        let cancel = CancellationToken::new();
        let host = Host::new(Mode::Run, config, &script, exec::io(cancel.clone()));
        let project = exec::compile(host).await?;
        exec::check_options(&project, &script)?;
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

    pub(super) fn earliest_due(&self) -> Option<DateTime<Utc>> {
        self.entries
            .values()
            .filter(|e| e.loaded.is_some())
            .filter_map(|e| e.next_due)
            .min()
    }
}

/// A time as the log shows it: local, to the second.
pub(super) fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}
