//! A record left out of a load: it could not be read or converted, and the load was told to
//! set such records aside (`max_errors`, `max_error_ratio`) instead of failing.

/// One rejected record, as the rejects file shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reject {
    /// Its line in the source file, when the source is a file.
    pub line: Option<u64>,
    /// Its 1-based number among the source's records.
    pub row: u64,
    pub column: Option<String>,
    pub reason: String,
    /// The record as read, cut to `MAX_RECORD` bytes.
    pub record: String,
}

/// A rejected record's text is kept up to this many bytes: enough to see what was wrong,
/// bounded so one huge field cannot blow up the rejects file.
pub const MAX_RECORD: usize = 64 * 1024;

/// `text` cut at a character boundary within `MAX_RECORD` bytes.
pub fn bounded_record(text: &str) -> String {
    if text.len() <= MAX_RECORD {
        return text.to_string();
    }
    let mut end = MAX_RECORD;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
