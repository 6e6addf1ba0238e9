//! `etl plan`: what a run would do, per task, without moving data. The task closures run
//! as in a dry run, except that each `load` is described instead: the source statement with
//! `:since`/`:until` from the audit table, the DDL it would run on the target, the source ->
//! target type of each column with lossy or narrowing casts flagged, the backfill windows,
//! and a row estimate. It only reads: catalogs, the audit table (when it exists), counts.

mod args;
mod collect;
mod columns;
mod command;
mod literal;
mod render;

pub use args::PlanArgs;
pub use collect::{Collector, ColumnMap, Item, LoadView};
pub use command::command;
pub use render::render;
