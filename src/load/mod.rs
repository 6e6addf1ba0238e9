//! Loads (DESIGN.md §3), once for every target: what a `conn.load(#{...})` call means
//! (`spec.rs`), which window it reads (`window.rs`), full / append / merge over a target's
//! primitives (`write.rs`), what happens to each batch on the way (`rows.rs`), and the audit
//! record's life cycle around it all (`driver.rs`). Targets supply only dialect primitives.

mod aggregate;
pub mod checks;
mod driver;
mod files;
mod lookback;
mod lookup;
mod rejects;
mod rows;
mod scd;
mod soft_delete;
mod spec;
#[cfg(test)]
mod tests;
mod touched;
mod turn;
mod window;
mod write;

pub(crate) use write::LoadPlan;

pub use aggregate::{run_aggregate, AggregateFigures, AggregateSpec, Grain};
pub(crate) use driver::record_checks;
pub use driver::{run_load, LoadFigures, LoadRequest, Transform};
pub use lookback::Lookback;
pub use lookup::Lookup;
pub use scd::{Scd2Spec, Track};
pub use spec::{auto_streams, LoadMode, LoadSpec, NullCursor};
pub use turn::{table_turn, TableTurn};
pub use window::{bound_value, parse_date_arg, resolve_window, Resolved};
