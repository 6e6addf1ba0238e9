//! Fault injection and hostile input, through the real `etl` binary and the public connector
//! API (issue 11): SIGKILL at points spread over full and incremental loads into PostgreSQL
//! and SQLite (`kill_*`), a corpus of malformed CSV, hostile identifiers and parameters,
//! wrong types, duplicate and NULL keys and runaway scripts (each a clear error with its
//! location, an exit code as documented, nothing partially committed), and property tests of
//! the binary COPY encoder and of typed values through CSV.
//!
//! No test sleeps to let something happen: waits poll with a deadline (a hang guard).

#[path = "../common/mod.rs"]
mod common;

mod bad_csv;
mod copy_props;
mod corpus;
mod csv_values;
mod hostile;
mod keys_types;
mod kill_data;
mod kill_load;
mod kill_pg;
mod kill_sqlite;
mod pg_hold;
mod rig;
mod runaway;
mod values;
mod warehouse;
