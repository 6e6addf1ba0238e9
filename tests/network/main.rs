//! Network faults (issue 11): a loopback TCP proxy (tests/common/proxy.rs) between `etl` and
//! PostgreSQL or MariaDB cuts, stalls and slows the connection mid-COPY (PostgreSQL target)
//! and mid-extract (MariaDB and PostgreSQL sources). Each time the load rolls back (target
//! unchanged, no leftover tables), the audit record says failed with an error naming the
//! connection, a task with `retries` succeeds once the proxy is healthy again, and a stalled
//! connection ends by the read or statement timeout the test configures.
//!
//! Faults are injected on observable events (a COPY in `pg_stat_activity`, bytes through the
//! proxy, a line of the run's output), never after a sleep; waits have a generous hang guard.

#[path = "../common/mod.rs"]
mod common;

#[allow(dead_code)]
#[path = "../pg_acceptance/harness.rs"]
mod pga;

mod harness;

mod copy;
mod extract;
mod timeouts;
