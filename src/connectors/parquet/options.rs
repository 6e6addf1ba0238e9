//! The options map of `parquet_file(path, #{ ... })`.

use rhai::Map;

const VALID_KEYS: &str = "file_column, nanoseconds";

/// What to do with a timestamp or time that has digits below the microsecond, which neither
/// PostgreSQL nor SQLite keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Nanoseconds {
    /// Fail the read at the first such value (the default: nothing is changed silently).
    #[default]
    Error,
    /// Drop the digits below the microsecond, with one warning per column and file.
    Truncate,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParquetOptions {
    pub file_column: Option<String>,
    pub nanoseconds: Nanoseconds,
}

impl ParquetOptions {
    pub fn from_map(options: &Map) -> Result<ParquetOptions, String> {
        let mut o = ParquetOptions::default();
        for (key, value) in options {
            let text = || {
                value
                    .clone()
                    .into_string()
                    .map_err(|t| format!("{key} must be a string, not {t}"))
            };
            match key.as_str() {
                "file_column" => {
                    let name = text()?;
                    if name.trim().is_empty() {
                        return Err("file_column must name a column, such as \"_file\"".into());
                    }
                    o.file_column = Some(name);
                }
                "nanoseconds" => {
                    o.nanoseconds = match text()?.as_str() {
                        "error" => Nanoseconds::Error,
                        "truncate" => Nanoseconds::Truncate,
                        other => {
                            return Err(format!(
                                "nanoseconds must be \"error\" or \"truncate\", not \"{other}\""
                            ))
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "unknown Parquet option '{other}' (valid options: {VALID_KEYS})"
                    ))
                }
            }
        }
        Ok(o)
    }
}
