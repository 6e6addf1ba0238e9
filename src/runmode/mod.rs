//! Run modes that cannot write by construction. A dry run, `etl plan` and a sample run
//! (`etl watch --limit`) hand scripts connections whose roles are wrapped once, here: SQL that
//! is not a read is skipped (logged, shown in the plan, or refused by the database in a
//! read-only transaction), loads are logged, described or redirected to scratch tables, and
//! audit records are skipped or kept in a scratch audit table. The script API has no checks
//! of its own.

mod mode;
mod readonly;
mod sample;

pub use mode::{Planner, RunMode};
pub use sample::{default_scratch, Sample};
