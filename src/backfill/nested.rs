//! The `etl backfill` command behind the script function `run_backfill()`: `etl exec` hands
//! this to the script host, so a project (`projects/backfill`) can run another project's
//! backfill from schedulers that can only start projects.

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use super::args::BackfillArgs;
use crate::outcome::Outcome;
use crate::script::host::{BackfillRequest, Backfiller};

pub struct CommandBackfiller {
    /// `--config` of the run, so the backfilled project reads the same etl.toml.
    pub config: Option<PathBuf>,
    /// The run's environment: the backfill runs in it too.
    pub env: String,
    /// The `projects/` folder of the calling script.
    pub projects_dir: PathBuf,
    pub handle: tokio::runtime::Handle,
    /// The calling run's: Ctrl-C stops the backfill's loads as well.
    pub cancel: CancellationToken,
}

impl Backfiller for CommandBackfiller {
    fn backfill(&self, r: BackfillRequest) -> Result<(), String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if r.project.is_empty() || !r.project.chars().all(allowed) {
            return Err(format!(
                "project \"{}\": name a folder under {} (letters, digits, '_' and '-')",
                r.project.escape_debug(),
                self.projects_dir.display()
            ));
        }
        let script = self.projects_dir.join(&r.project).join("project.rhai");
        if !script.is_file() {
            return Err(format!(
                "there is no project '{}' ({} does not exist)",
                r.project,
                script.display()
            ));
        }
        let args = BackfillArgs {
            script,
            from: r.from,
            to: r.to,
            days: r.days,
            env: Some(self.env.clone()),
            tasks: r.tasks,
            with_deps: false,
            params: Vec::new(),
            parallel: 1,
            resume: r.resume,
            keep_going: r.keep_going,
            dry_run: r.dry_run,
            jobs: None,
        };
        let project = r.project.clone();
        // Called on a task's blocking thread, never on an async worker, so it may wait here.
        match self.handle.block_on(super::command::run(
            self.config.as_deref(),
            args,
            self.cancel.clone(),
            false,
        )) {
            Ok(Outcome::Success) => Ok(()),
            Ok(_) => Err(format!(
                "the backfill of project '{project}' failed (its windows are in the log above); run it again with resume: true to do the rest"
            )),
            Err(e) => Err(format!("the backfill of project '{project}': {e}")),
        }
    }
}
