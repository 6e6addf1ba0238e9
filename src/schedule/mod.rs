//! `etl schedule`: a long-lived process that runs the projects of a folder on their
//! `schedule` (cron syntax, in a configurable time zone), in-process through the same run path
//! as `etl exec`.
//!
//! - Never two runs of one project at once: an occurrence that falls while the previous run
//!   is still going is skipped (and logged).
//! - Hot reload: the folder is polled; an edited script is compiled off the async threads
//!   (after it stayed unchanged for one poll) and used from the project's next run; a new
//!   project folder is picked up; a script that no longer compiles keeps its last good
//!   version and the error is logged.
//! - SIGTERM / SIGINT: no new run starts; running ones get a grace period to finish, then
//!   they are cancelled (their loads roll back and are recorded as failed).
//! - Runs missed while the scheduler was down are found from `METADATA/schedule/state.json`
//!   and handled by the project's `missed` policy: skip them, or run once.

mod apply;
mod args;
mod command;
mod runs;
mod scheduler;
mod shutdown;
mod signals;
mod state;
mod watch;

pub use args::{ScheduleArgs, DEFAULT_GRACE_SECONDS};
pub use command::command;
pub use watch::project_names;
