//! The run context: what a run is (id, project, environment, load type, window, params) and
//! which task a script thread is executing, so API calls such as `load` know whom to audit.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

/// F: full reload; I: incremental from the audit watermark; B: a backfill window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadType {
    Full,
    Incremental,
    Backfill,
}

impl LoadType {
    pub fn code(self) -> &'static str {
        match self {
            LoadType::Full => "F",
            LoadType::Incremental => "I",
            LoadType::Backfill => "B",
        }
    }

    pub fn parse(s: &str) -> Result<LoadType, String> {
        match s.to_ascii_uppercase().as_str() {
            "F" | "FULL" => Ok(LoadType::Full),
            "I" | "INCREMENTAL" => Ok(LoadType::Incremental),
            "B" | "BACKFILL" => Ok(LoadType::Backfill),
            _ => Err(format!(
                "load type '{s}' is not one of F (full), I (incremental), B (backfill)"
            )),
        }
    }
}

pub struct RunInfo {
    pub id: String,
    pub project: String,
    pub env: String,
    pub load_type: LoadType,
    /// The window of a backfill run (`[since, until)`); None for F and I runs, whose `since`
    /// comes from the audit table per target.
    pub since: Option<String>,
    pub until: Option<String>,
    pub params: BTreeMap<String, String>,
    pub dry_run: bool,
    /// `--notify` (Some(true)) / `--no-notify` (Some(false)): whether mail may leave this
    /// run, over the environment's setting. None: the environment decides.
    pub notify: Option<bool>,
    pub script_version: String,
    pub started_at: DateTime<Utc>,
    pub output_dir: PathBuf,
    pub output_files: Mutex<Vec<PathBuf>>,
}

impl RunInfo {
    /// Sortable and unique enough for one machine: start time plus a random suffix.
    pub fn new_id(at: DateTime<Utc>) -> String {
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
        format!("{}-{suffix}", at.format("%Y%m%dT%H%M%S"))
    }

    /// The stamp in this run's file names (`NAME_YYYYmmdd_HHMMSS_mmm_SUFFIX`): its local
    /// start time to the millisecond, then the random suffix of its id, so two runs started
    /// in the same second (or millisecond) never share a log or an output file, names sort by
    /// start time, and a file leads to its run's audit records.
    pub fn file_stamp(&self) -> String {
        let suffix = self.id.rsplit('-').next().unwrap_or_default();
        crate::logging::stamp(self.started_at, suffix)
    }
}

/// One task's execution on one script thread.
pub struct TaskCtx {
    pub run: Arc<RunInfo>,
    pub task: String,
    /// Rows committed by this task's loads (for the summary table).
    pub rows: AtomicU64,
    /// Audit records written by loads; a failure outside any load gets a task-level record.
    pub load_records: AtomicU64,
    /// Loads that failed (and recorded their failure themselves).
    pub failed_loads: AtomicU64,
    /// The figures of the loads, shown in the summary.
    pub targets: Mutex<Vec<String>>,
    /// What the checks of this task's loads and check tasks found.
    pub checks: Mutex<Vec<crate::audit_checks::CheckRecord>>,
    /// This attempt's own stop: a child of the run's token, so it stops with the run, and
    /// alone when the task's `timeout` passes. None outside the runner: the run's token rules.
    pub cancel: Option<CancellationToken>,
    /// The task's `timeout`, per attempt.
    pub timeout: Option<Duration>,
    timed_out: AtomicBool,
}

impl TaskCtx {
    pub fn new(run: Arc<RunInfo>, task: &str) -> TaskCtx {
        TaskCtx {
            run,
            task: task.to_string(),
            rows: AtomicU64::new(0),
            load_records: AtomicU64::new(0),
            failed_loads: AtomicU64::new(0),
            targets: Mutex::new(Vec::new()),
            checks: Mutex::new(Vec::new()),
            cancel: None,
            timeout: None,
            timed_out: AtomicBool::new(false),
        }
    }

    /// An attempt the runner starts: stopped by `cancel`, and by `timeout` once it passes.
    pub fn with_stop(mut self, cancel: CancellationToken, timeout: Option<Duration>) -> TaskCtx {
        self.cancel = Some(cancel);
        self.timeout = timeout;
        self
    }

    /// The attempt's time is up: what it runs stops (the script at its next operation, a
    /// database call at once, a load rolling back), the rest of the run goes on.
    pub fn time_out(&self) {
        self.timed_out.store(true, Ordering::SeqCst);
        if let Some(c) = &self.cancel {
            c.cancel();
        }
    }

    /// Why this attempt failed when its `timeout` passed (None otherwise).
    pub fn timed_out(&self) -> Option<String> {
        let t = self.timeout?;
        self.timed_out.load(Ordering::SeqCst).then(|| {
            format!(
                "task '{}' timed out after {}s (its timeout option)",
                self.task,
                t.as_secs_f64()
            )
        })
    }

    pub fn add_rows(&self, n: u64) {
        self.rows.fetch_add(n, Ordering::Relaxed);
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<TaskCtx>>> = const { RefCell::new(None) };
}

/// Runs `f` with `ctx` as the current task of this thread.
pub fn with_task<R>(ctx: Arc<TaskCtx>, f: impl FnOnce() -> R) -> R {
    // The previous context comes back in a guard's drop so that it also comes back when `f`
    // panics: script threads are pooled, and a context left behind would make the next task
    // on this thread audit and log under the panicked task's name.
    struct Restore(Option<Arc<TaskCtx>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            // try_with: during thread teardown the slot may already be gone.
            let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.replace(Some(ctx))));
    f()
}

pub fn current_task() -> Option<Arc<TaskCtx>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Why the script on this thread must stop now, if it must: its task's attempt timed out, or
/// the run (`run`, its token) was cancelled. Asked between every two script operations, so it
/// clones nothing.
pub fn interruption(run: &CancellationToken) -> Option<String> {
    CURRENT
        .with(|c| c.borrow().as_deref().and_then(TaskCtx::timed_out))
        .or_else(|| {
            run.is_cancelled()
                .then(|| "the run was cancelled".to_string())
        })
}
