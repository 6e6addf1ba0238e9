//! The runner: executes a project's task graph in dependency order, independent tasks in
//! parallel (each on a blocking thread), with retries, skipping the dependants of a failure
//! (a panic included), and stopping cleanly on cancellation.

mod graph;
mod panic;
mod report;
mod retry;
mod run;
mod select;
mod task;

#[cfg(test)]
mod panic_tests;

pub use report::{not_run, RunReport, TaskOutcome, TaskStatus};
pub use retry::MAX_RETRY_PAUSE;
pub use run::run;
pub use select::{select, Selection};
