//! What happened to each window of a backfill.

use std::time::Duration;

use super::range::Window;

/// What happened to one window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum State {
    /// Done by an earlier backfill (`--resume`): the run ids.
    Done(Vec<String>),
    NotRun,
    Succeeded,
    Failed(String),
    Cancelled,
}

impl State {
    pub(super) fn label(&self) -> &'static str {
        match self {
            State::Done(_) => "done earlier",
            State::NotRun => "not run",
            State::Succeeded => "success",
            State::Failed(_) => "failed",
            State::Cancelled => "cancelled",
        }
    }
}

pub(super) struct Slot {
    pub(super) window: Window,
    pub(super) state: State,
    pub(super) run_id: String,
    pub(super) rows: u64,
    pub(super) duration: Duration,
}
