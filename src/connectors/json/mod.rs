//! JSON files as a `Source` (`json_file`): newline-delimited JSON or a top-level array, split
//! into records without holding the file (`split`), typed like CSV (`reader`).

mod options;
mod reader;
mod split;

pub use options::JsonOptions;
pub use reader::JsonSource;

#[cfg(test)]
mod tests;
