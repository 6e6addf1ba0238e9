//! Parquet files as a `Source` (`parquet_file`): read with arrow-rs one record batch at a time
//! (a row group's column chunks at most are in memory), typed exactly from the file's schema.

mod convert;
mod object;
mod options;
mod reader;

pub use options::{Nanoseconds, ParquetOptions};
pub use reader::ParquetSource;

#[cfg(test)]
mod tests;
