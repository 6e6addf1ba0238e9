//! How a source is read: batch size, row limit, window; and what `etl plan` says of its size.

use super::CursorWindow;
use crate::data::Value;

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
    /// A record that cannot be read (a CSV line with the wrong number of fields, a value that
    /// is not its column's type) goes to `Batch::rejects` instead of failing the read. Sources
    /// whose rows are typed by a database have no such records.
    pub keep_going: bool,
    /// Rows wanted already encoded for a target (`Batch::encoded`) where the source can
    /// produce exactly what the target would write; a source that cannot sends values.
    pub encoded: Option<EncodedTarget>,
}

/// A wire format some targets take rows in as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// PostgreSQL `COPY ... (FORMAT binary)` rows: a field count, then per field its length
    /// and bytes.
    PgCopyBinary,
}

/// What a target's open write takes undecoded: the format, per column a signature of the
/// column's type in that format (a source whose columns have the same signatures may hand its
/// own rows over as they are), which columns may not be NULL, and an encoder a source may
/// write its rows with instead of building values.
#[derive(Clone)]
pub struct EncodedTarget {
    pub encoding: Encoding,
    pub columns: Vec<String>,
    /// Positions of the key columns: a NULL there is reported (`Encoded::refused`).
    pub not_null: Vec<usize>,
    /// Position of the load's cursor: its values are reported (`Encoded::cursor`).
    pub cursor: Option<usize>,
    pub encoder: std::sync::Arc<dyn RowEncoder>,
}

impl std::fmt::Debug for EncodedTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodedTarget")
            .field("encoding", &self.encoding)
            .field("columns", &self.columns)
            .field("not_null", &self.not_null)
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

/// Writes rows in a target's wire format on the source's thread, for sources whose rows are
/// not already in it (CSV, JSON, Parquet, MySQL, parameterised PostgreSQL reads; through
/// `connectors/encoded.rs`): a field goes from the reader's buffer into the target's bytes, and
/// the batch of values the load would have built, sent and freed is never made. Values are of
/// their column's type (the load hands an encoder over only where the source's types are the
/// target's).
pub trait RowEncoder: Send + Sync {
    /// Starts a row (all of its columns follow).
    fn start_row(&self, out: &mut bytes::BytesMut);
    fn null(&self, out: &mut bytes::BytesMut);
    /// A non-NULL value of column `col`; the error is the reason, without the column.
    fn value(&self, col: usize, v: &Value, out: &mut bytes::BytesMut) -> Result<(), String>;
    /// A non-NULL text of column `col`, a text column without a length limit.
    fn text(&self, col: usize, s: &str, out: &mut bytes::BytesMut) -> Result<(), String>;
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            batch_rows: DEFAULT_BATCH_ROWS,
            limit: None,
            window: None,
            keep_going: false,
            encoded: None,
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
