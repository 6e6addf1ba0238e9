// Shared helpers for integration tests. Each test binary (`mod common;`) uses only a
// subset, so unused items are expected.
#![allow(dead_code, unused_imports)]

pub mod db;

pub use db::{MyTestDb, PgTestDb};
