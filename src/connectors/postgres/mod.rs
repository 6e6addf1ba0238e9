//! PostgreSQL: the warehouse this tool exists for, and a source. tokio-postgres underneath, a
//! connection pool shared by the tasks of a run, TLS with rustls, sockets we open ourselves (`socket.rs`: keepalive, and
//! `watch.rs`: the read timeout). It has every role: relations
//! (`source.rs`), plain SQL (`sql.rs`), load target (`target.rs`, `txn.rs`: binary COPY, swap,
//! merge) and the audit table (`audit.rs`). Calls block a script thread and bridge into the
//! async client through `Io::block_on`, giving up when the run is cancelled (the server then
//! rolls back).

mod audit;
mod bind;
mod config;
mod connect;
mod copy_in;
mod copy_out;
mod error;
mod merge;
mod numeric;
mod pool;
mod read;
mod socket;
mod source;
mod sql;
mod sql_txn;
mod statement;
mod streams;
mod swap;
mod target;
mod txn;
pub mod types;
mod watch;
mod wire;

pub use connect::{Shared, CONNECTOR, DEFAULT_AUDIT_SCHEMA};
