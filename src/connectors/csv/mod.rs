//! CSV files as a `Source`, and the writer for `output_csv`. Both follow PostgreSQL's CSV
//! convention: an unquoted empty field is NULL, a quoted empty field (`""`) is the empty string.
//!
//! `scanner` splits bytes into records (knowing which fields were quoted), `infer` picks column
//! types from a sample without ever choosing a lossy one, `reader` turns records into typed
//! batches, `writer` goes the other way.

mod encoding;
pub(crate) mod infer;
mod iso;
mod options;
mod reader;
mod scanner;
mod writer;

#[cfg(test)]
mod props;
#[cfg(test)]
mod throughput;

pub use encoding::Encoding;
pub use options::CsvOptions;
pub use reader::CsvSource;
pub use writer::CsvWriter;
