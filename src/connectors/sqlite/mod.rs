//! The embedded warehouse and SQLite sources (rusqlite, bundled). SQLite has every role:
//! relations and plain SQL (`sql.rs`, `source.rs`), load target (`target.rs`, `txn.rs`) and
//! the audit table (`audit.rs`).

mod audit;
mod connect;
mod db;
mod hash;
mod source;
mod sql;
mod sql_txn;
mod target;
mod txn;
pub mod types;

pub use connect::CONNECTOR;
pub use db::table_ident;
