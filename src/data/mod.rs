//! The typed data model shared by every connector: values, column types, schemas and batches.
//! Exactness lives here: decimals are kept as digits, never as floats, and NULL is never ''.

mod array;
mod batch;
mod decimal;
mod interval;
mod reject;
mod schema;
mod text;
mod types;
mod value;

pub use array::write_json;
pub use batch::{Batch, CursorSeen, Encoded, Refused};
pub use decimal::Decimal;
pub use interval::{format_interval, parse_interval};
pub use reject::{bounded_record, Reject};
pub use schema::{Column, Schema};
pub use text::shorten_text;
pub use types::DataType;
#[cfg(test)]
pub(crate) use types::EVERY_TYPE;
pub use value::Value;
