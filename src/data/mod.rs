//! The typed data model shared by every connector: values, column types, schemas and batches.
//! Exactness lives here: decimals are kept as digits, never as floats, and NULL is never ''.

mod array;
mod batch;
mod decimal;
mod interval;
mod schema;
mod types;
mod value;

pub use array::write_json;
pub use batch::Batch;
pub use decimal::Decimal;
pub use interval::{format_interval, parse_interval};
pub use schema::{Column, Schema};
pub use types::DataType;
#[cfg(test)]
pub(crate) use types::EVERY_TYPE;
pub use value::Value;

/// Text cut to `max` characters with an ellipsis, for tables and messages.
pub fn shorten_text(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}
