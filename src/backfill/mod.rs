//! `etl backfill`: reloads a date range window by window (DESIGN.md §3). Each half-open window
//! `[from + k·N days, from + (k+1)·N days)`, the last one cut at `--to`, is a run of its own
//! with load type B and `run.since` / `run.until` set to the window; its loads replace exactly
//! that range (merge by key, or delete-range + insert in one transaction) and write their audit
//! records. Each task of a window also writes a task-level record with the window: the marker
//! `--resume` looks for to skip the windows already done.

mod args;
mod command;
mod nested;
mod range;
mod resume;
mod slots;
mod summary;
mod window_run;

pub use args::BackfillArgs;
pub use command::{command, run};
pub use nested::CommandBackfiller;
pub use range::{Range, Window, MAX_WINDOWS};
pub use resume::{completed_by, stored_bound};
