//! SQL Server (`mssql://`, `sqlserver://`): a source of relations and a place to run SQL,
//! through tiberius (TDS 7.3+) with rustls. Not integration-tested in this repository (no SQL
//! Server installs here): the type map and value decoding are unit-tested; docs/operations.md
//! says which versions it is written for.

mod config;
mod connect;
mod decode;
mod source;
mod sql;
mod types;

pub use config::SubMicros;
pub use connect::CONNECTOR;
