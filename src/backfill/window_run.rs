//! One window of a backfill, run as a run of its own.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::range::{Range, Window};
use super::slots::State;
use crate::config::Config;
use crate::context::LoadType;
use crate::exec::{self, RunRequest};
use crate::runner::{self, RunReport, TaskStatus};
use crate::script::{Host, Mode};

/// Everything a window's run needs, shared by the windows.
pub(super) struct Plan {
    pub(super) config: Config,
    pub(super) script: PathBuf,
    pub(super) selection: runner::Selection,
    pub(super) params: BTreeMap<String, String>,
    pub(super) jobs: usize,
    pub(super) cancel: CancellationToken,
    pub(super) range: Range,
    pub(super) total: usize,
    /// The backfill's log, quoted by failure notifications.
    pub(super) log_path: Option<PathBuf>,
}

pub(super) struct WindowResult {
    pub(super) state: State,
    pub(super) run_id: String,
    pub(super) rows: u64,
    pub(super) duration: Duration,
}

/// One window as a run of its own: the script is evaluated again for it (its own connections,
/// so parallel windows never share a session), its tasks run with load type B and the window.
pub(super) async fn run_window(plan: Arc<Plan>, window: Window) -> WindowResult {
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
    let io = exec::io(plan.cancel.clone());
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
            notify: None,
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
        exec::finish(&project, &run, &report, plan.log_path.as_deref())
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
