//! MySQL and MariaDB: a source of relations (`source.rs`, `parallel.rs`) and a place to run
//! SQL (`sql.rs`); not a load target, not the home of the audit table. mysql_async underneath,
//! pooled, TLS with rustls.

mod config;
mod connect;
mod decode;
mod parallel;
mod pool;
mod reader;
mod source;
mod sql;
mod statement;
mod types;

pub use config::ZeroDates;
pub use connect::{Shared, CONNECTOR};
