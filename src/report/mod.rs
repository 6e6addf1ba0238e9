//! `etl report`: a self-contained HTML page of the run history in the audit table: per project,
//! runs over time by status, rows and duration per run as SVG charts, the latest failures with
//! their errors, and the watermark of each target table. `history.rs` reads the audit table
//! for it and for `etl runs`.

mod args;
mod command;
pub mod history;
pub mod html;
pub mod model;
pub mod svg;

pub use args::ReportArgs;
pub use command::{command, MAX_RECORDS};
