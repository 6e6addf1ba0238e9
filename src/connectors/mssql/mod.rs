//! SQL Server (`mssql://`, `sqlserver://`): a source of relations and a place to run SQL,
//! through tiberius (TDS 7.3+) with rustls. Not integration-tested in this repository (no SQL
//! Server installs here): the type map and value decoding are unit-tested, and the real binary
//! is tested against a local server in tests/mssql that speaks MS-TDS from canned responses
//! (TLS and logins, types and values, bound parameters, transactions), not against a real
//! SQL Server; docs/operations.md says what that covers and which versions the connector is
//! written for.

mod config;
mod connect;
mod decode;
mod source;
mod sql;
mod types;

pub use config::SubMicros;
pub use connect::CONNECTOR;
