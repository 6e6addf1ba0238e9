//! Loads: what a `conn.load(#{...})` call means (mode, key, cursor, window) and the driver
//! that streams a source into a target with its audit record (DESIGN.md §3).

mod driver;
mod rows;
mod spec;
#[cfg(test)]
mod tests;
mod turn;
mod window;
mod write;

pub use driver::{run_load, LoadFigures, LoadRequest, Transform};
pub use spec::{LoadMode, LoadSpec, NullCursor};
pub use turn::{table_turn, TableTurn};
pub use window::{bound_value, parse_date_arg, resolve_window, Resolved};

use crate::connectors::CursorWindow;
use crate::data::Schema;

/// What the target must do, decided once the rows' columns are known.
#[derive(Clone, Debug)]
pub(crate) struct LoadPlan {
    pub table: String,
    /// Columns of the rows that will be written, in order.
    pub schema: Schema,
    pub key: Vec<String>,
    pub mode: LoadMode,
    /// A backfill window without a key: rows of this range are deleted first, in the same
    /// transaction, so re-running a window never duplicates.
    pub replace_window: Option<CursorWindow>,
    pub allow_type_change: bool,
}
