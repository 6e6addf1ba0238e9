//! Integration tests that drive the real `etl` binary against fixture projects
//! (tests/projects/*) in throwaway folders, asserting on the warehouse's contents, the audit
//! table, files and exit codes (DESIGN.md §5.5).

mod support;

mod aggregates;
mod arguments;
mod check_errors;
mod checks;
mod compressed;
mod config;
mod demo;
mod facts;
mod files;
mod interrupt;
mod limits;
mod loads;
mod runner;
mod scd1;
mod scd2;
mod timeout;
mod trust;
