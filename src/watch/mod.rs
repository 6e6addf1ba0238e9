//! `etl watch`: run a project, then re-run what each saved edit concerns (DESIGN.md §5.6).
//!
//! - `files.rs`: notify on its own thread, a debounce thread, the keyboard.
//! - `fingerprint.rs`: what each task is, so only changed tasks (and their dependants) re-run.
//! - `session.rs`: the session's state; recompile off the async workers, keep the last good
//!   version.
//! - `sources.rs`: which files matter, and whether an event changed one.
//! - `event_loop.rs`: events and keys become re-runs; `affected.rs`: which tasks an edit
//!   concerns; `rerun.rs`: run them and summarise.
//! - `diff.rs`: what each load changed since the previous re-run.
//! - `timeline.rs`: `--events`, the timestamps tools and tests read.

mod affected;
mod args;
mod command;
mod diff;
mod event_loop;
mod files;
mod fingerprint;
mod rerun;
mod session;
mod sources;
mod timeline;

pub use args::WatchArgs;
pub use command::command;
pub use diff::{Change, Snapshot};
pub use fingerprint::Analysis;
