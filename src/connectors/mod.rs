//! Connectors: where rows come from (`Source`) and where they go. Each connector is one module;
//! `open.rs` is the one place URL schemes are mapped to connectors.

pub mod csv;
mod database;
pub mod mysql;
pub mod open;
pub mod postgres;
pub mod sql_params;
pub mod sqlite;
mod stream;
pub(crate) mod url;

pub use database::{Database, LoadSession, MergeCounts, Params, Rows};
pub use stream::{BatchSender, BatchStream};

use crate::data::{Schema, Value};
use crate::error::Result;
use tokio_util::sync::CancellationToken;

/// What a blocking caller (a script thread) needs to reach the async core.
#[derive(Clone)]
pub struct Io {
    pub handle: tokio::runtime::Handle,
    pub cancel: CancellationToken,
}

/// Rows per batch unless a load says otherwise: large enough to amortise per-batch work,
/// small enough that memory stays flat (DESIGN.md §6).
pub const DEFAULT_BATCH_ROWS: usize = 2048;

/// How far the bounded pipeline between a source and a target may run ahead.
pub const PIPELINE_DEPTH: usize = 4;

/// An incremental or backfill window on a cursor column: `since <= cursor < until`
/// (`since < cursor` when `since_inclusive` is false).
#[derive(Clone, Debug, Default)]
pub struct CursorWindow {
    pub column: String,
    pub since: Option<Value>,
    pub since_inclusive: bool,
    pub until: Option<Value>,
}

impl CursorWindow {
    /// Whether a cursor value lies inside the window. NULL cursors are the caller's decision.
    pub fn contains(&self, v: &Value) -> bool {
        use std::cmp::Ordering::*;
        let after_since = match &self.since {
            None => true,
            Some(s) => {
                matches!(v.compare(s), Some(Greater))
                    || (self.since_inclusive && v.compare(s) == Some(Equal))
            }
        };
        let before_until = match &self.until {
            None => true,
            Some(u) => v.compare(u) == Some(Less),
        };
        after_since && before_until
    }
}

#[derive(Clone, Debug)]
pub struct ReadOptions {
    pub batch_rows: usize,
    /// Stop after this many rows (sample runs, `.limit(n)`).
    pub limit: Option<u64>,
    /// Pushed down by sources that can filter (SQL); applied by the load otherwise.
    pub window: Option<CursorWindow>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            batch_rows: DEFAULT_BATCH_ROWS,
            limit: None,
            window: None,
        }
    }
}

/// A place rows come from. Calls block (they run on script threads); the rows themselves are
/// produced on another thread or task and handed over through a bounded `BatchStream`.
pub trait Source: Send + Sync {
    /// A short human description for logs and errors ("csv data/orders.csv").
    fn describe(&self) -> String;

    /// The columns and their types, without reading all the data.
    fn schema(&self, io: &Io) -> Result<Schema>;

    /// Starts streaming. Rows match `schema()`.
    fn open(&self, io: &Io, opts: &ReadOptions) -> Result<BatchStream>;

    /// True when `open` applies `opts.window` itself.
    fn applies_window(&self) -> bool {
        false
    }

    /// How many rows `open` would read with this window, without reading them (`etl plan`):
    /// exact or the database's estimate. None when the source cannot tell cheaply.
    fn estimate_rows(
        &self,
        _io: &Io,
        _window: Option<&CursorWindow>,
    ) -> Result<Option<RowEstimate>> {
        Ok(None)
    }
}

/// A source's row count as `etl plan` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowEstimate {
    pub rows: u64,
    /// A count, rather than a planner's estimate.
    pub exact: bool,
}
