//! Acceptance tests of the PostgreSQL warehouse (issue 3) through the real `etl` binary: fixture
//! projects under tests/projects/pga_*/ run with `ETL_CONN_WAREHOUSE` and `ETL_CONN_SRC` pointing
//! at throwaway databases, while the tests watch and disturb the loads from outside (a concurrent
//! reader, `pg_terminate_backend`, SIGKILL, a second run) and then read the warehouse and its
//! audit table `etl.etl_runs`.
//!
//! Nothing here sleeps for a fixed time to let something happen: every wait polls the database
//! or the child process with a deadline (a hang guard, not a timing assertion).

#[path = "../common/mod.rs"]
mod common;

mod harness;

mod concurrency;
mod failures;
mod incremental;
mod swap;
