//! `run_backfill(#{ project, from, to, days, tasks, resume, keep_going })`: runs another
//! project's backfill exactly as `etl backfill` does, for schedulers that can only start
//! projects (`launchers/run.sh backfill --param project_name=shop ...`). The command itself is
//! handed in by `etl exec` through [`Backfiller`]; anywhere else the function is refused.

use std::sync::Arc;

use rhai::{Engine, Map};

use super::options::Options;
use super::{fail, Res};
use crate::context::current_task;
use crate::runmode::RunMode;
use crate::script::host::{BackfillRequest, Host};

const OPTIONS: &[&str] = &[
    "project",
    "from",
    "to",
    "days",
    "tasks",
    "resume",
    "keep_going",
];

pub fn register(engine: &mut Engine, host: &Arc<Host>) {
    let h = host.clone();
    engine.register_fn("run_backfill", move |opts: Map| run_backfill(&h, opts));
}

fn run_backfill(host: &Host, opts: Map) -> Res<()> {
    current_task().ok_or_else(|| fail("run_backfill() runs inside a task"))?;
    let mut o = Options::new("run_backfill()", opts, OPTIONS)?;
    let required = |v: Option<String>, key: &str, example: &str| {
        v.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
            fail(format!(
                "run_backfill(): '{key}' is required, e.g. {key}: {example}"
            ))
        })
    };
    let project = required(o.string("project")?, "project", "\"shop\"")?;
    let from = required(o.string("from")?, "from", "\"2025-01-01\"")?;
    let to = required(o.string("to")?, "to", "\"2025-02-01\"")?;
    let days = match o.int("days")? {
        None => 1,
        Some(d) => u32::try_from(d)
            .ok()
            .filter(|d| *d > 0)
            .ok_or_else(|| fail(format!("run_backfill(): 'days' is 1 or more, not {d}")))?,
    };
    let request = BackfillRequest {
        project,
        from,
        to,
        days,
        tasks: o.strings("tasks")?.unwrap_or_default(),
        resume: o.bool("resume")?.unwrap_or(false),
        keep_going: o.bool("keep_going")?.unwrap_or(false),
        dry_run: !matches!(host.mode, RunMode::Write),
    };
    let backfiller = host.backfiller.get().ok_or_else(|| {
        fail("run_backfill() runs only in a run started by `etl exec` (or launchers/run.sh), not in etl backfill, etl schedule or etl watch")
    })?;
    backfiller
        .backfill(request)
        .map_err(|e| fail(format!("run_backfill(): {e}")))
}
