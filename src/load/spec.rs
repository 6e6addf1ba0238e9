use super::checks::{CheckSpec, Severity};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadMode {
    /// Replace the whole table atomically.
    Full,
    Append,
    /// Upsert by key.
    Merge,
    /// A dimension with history: a new version when a tracked value changes (`scd2()`).
    Scd2,
}

impl LoadMode {
    pub fn parse(s: &str) -> Result<LoadMode, String> {
        match s {
            "full" | "replace" => Ok(LoadMode::Full),
            "append" => Ok(LoadMode::Append),
            "merge" | "upsert" => Ok(LoadMode::Merge),
            _ => Err(format!("mode '{s}' is not one of full, append, merge")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LoadMode::Full => "full",
            LoadMode::Append => "append",
            LoadMode::Merge => "merge",
            LoadMode::Scd2 => "scd2",
        }
    }
}

/// What to do with rows whose cursor is NULL: they can never be ordered against a watermark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NullCursor {
    Load,
    Skip,
    Fail,
}

impl NullCursor {
    pub fn parse(s: &str) -> Result<NullCursor, String> {
        match s {
            "load" => Ok(NullCursor::Load),
            "skip" => Ok(NullCursor::Skip),
            "fail" => Ok(NullCursor::Fail),
            _ => Err(format!("null_cursor '{s}' is not one of load, skip, fail")),
        }
    }
}

/// A load request as the script wrote it.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    pub into: String,
    pub key: Vec<String>,
    pub cursor: Option<String>,
    /// None: derived from the run's load type and the key (F: full; I/B: merge with a key,
    /// append without).
    pub mode: Option<LoadMode>,
    pub null_cursor: NullCursor,
    pub batch_rows: usize,
    pub allow_type_change: bool,
    /// A leading `.limit(n)` on the relation: the source stops reading after n rows.
    pub limit: Option<u64>,
    /// Rows that cannot be read or converted are set aside in a rejects file, and the load
    /// commits the others, as long as there are at most this many...
    pub max_errors: Option<u64>,
    /// ...and they are at most this share of the rows read (0.0 to 1.0).
    pub max_error_ratio: Option<f64>,
    /// Checks of the new rows, run inside the load's transaction before it commits.
    pub checks: Vec<CheckSpec>,
    /// The severity of a check that names none (`on_check_fail`).
    pub on_check_fail: Severity,
    /// `scd2()`: how the dimension keeps its history (the mode is then `Scd2`).
    pub scd2: Option<super::scd::Scd2Spec>,
    /// Surrogate keys filled from dimensions once the rows are staged.
    pub lookups: Vec<super::lookup::Lookup>,
    /// `lookback`: an incremental read starts this far below the watermark (late rows).
    pub lookback: Option<super::lookback::Lookback>,
    /// `scd1(#{ soft_delete })`: the column stamped on keys a complete read no longer has.
    pub soft_delete: Option<String>,
    /// `parallel`: a full load writes its rows over this many connections at once where the
    /// target can (None: one).
    pub parallel: Option<usize>,
}

/// `parallel: "auto"`: one COPY stream per two cores, at most four. Not the default: a load
/// killed while its streams write leaves their committed table behind until the next load,
/// and on two cores one stream measures best (docs/operations.md, "Parallel COPY streams").
pub fn auto_streams() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).clamp(1, 4)
}

impl LoadSpec {
    /// Whether bad rows are set aside rather than failing the load.
    pub fn rejects_allowed(&self) -> bool {
        self.max_errors.is_some() || self.max_error_ratio.is_some()
    }
}
