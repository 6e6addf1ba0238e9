//! Data-quality checks (issue 13): what a check is (`spec.rs`), the SQL that finds the rows
//! failing it in any dialect (`sql.rs`), running a list of them against the new rows of a load
//! inside its transaction, or against any table (`run.rs`), and what each found (`result.rs`).
//! A one-column `unique` on integers is proven as the rows are written (`distinct.rs`).

mod distinct;
mod result;
mod run;
mod spec;
pub(crate) mod sql;

pub use distinct::{Distinct, KeyBits};
pub use result::{CheckResult, CheckStatus};
pub use run::{needs_statistics, run_checks, CheckTarget, Checked, Rowset};
pub use spec::{duration_seconds, CheckKind, CheckSpec, Severity};
