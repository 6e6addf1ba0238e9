//! Snowflake: a source of relations and a place to run SQL, over the connector protocol the
//! official drivers use (login and query requests, Arrow results inline and in chunks).
//! Not a load target. See docs/operations.md#snowflake-sources.

mod catalog;
mod config;
mod connect;
mod decode;
mod session;
mod source;
mod sql;
mod types;

pub use connect::CONNECTOR;
