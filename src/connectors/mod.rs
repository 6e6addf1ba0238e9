//! Connectors: where rows come from and where they go, one folder each, behind small role
//! traits (`roles.rs`): a source of relations, plain SQL, a load target, an audit store.
//! `registry.rs` is the one place URL schemes map to connectors. This layer knows nothing of
//! scripts, runs or load modes (DESIGN.md §1).

mod connection;
pub mod csv;
mod io;
pub mod mysql;
pub mod postgres;
pub mod registry;
mod roles;
pub mod sql_params;
pub mod sqlite;
mod stream;
pub(crate) mod url;
mod window;

pub use connection::{Connection, Role};
pub use io::Io;
pub use registry::{open, Connector, OpenOptions};
pub use roles::{
    Access, AuditStore, ColumnDef, LoadIdentity, LoadTarget, MergeCounts, Relations, ScratchNaming,
    Source, SourceStatement, SqlExec, TableId, TableOptions, TargetColumn, TargetTxn,
};
pub use stream::{BatchSender, BatchStream};
pub use url::mask_url;
pub use window::{CursorWindow, Predicate};

use crate::data::{Schema, Value};

/// Named parameters (`:name` in SQL), always bound, never formatted into the text.
pub type Params = Vec<(String, Value)>;

/// Rows of a small result (`query`, `scalar`), with their schema.
pub struct Rows {
    pub schema: Schema,
    pub rows: Vec<Vec<Value>>,
}

/// Rows per batch unless a load says otherwise: large enough to amortise per-batch work,
/// small enough that memory stays flat (DESIGN.md §6).
pub const DEFAULT_BATCH_ROWS: usize = 2048;

/// How far the bounded pipeline between a source and a target may run ahead.
pub const PIPELINE_DEPTH: usize = 4;

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

/// A source's row count as `etl plan` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowEstimate {
    pub rows: u64,
    /// A count, rather than an estimate.
    pub exact: bool,
    /// Where the figure comes from ("count", "planner estimate", "lines in the file").
    pub basis: &'static str,
}

impl std::fmt::Display for RowEstimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let approx = if self.exact { "" } else { "~" };
        write!(f, "{approx}{} ({})", self.rows, self.basis)
    }
}
