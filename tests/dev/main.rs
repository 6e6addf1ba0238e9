//! Integration tests of the development loop: `etl watch` driven as a child process (edits,
//! broken edits, modules, SQL files, sample runs), the `etl plan` snapshot, `etl defs`.

#[path = "../common/mod.rs"]
mod common;
#[path = "../cli/support.rs"]
#[allow(dead_code)]
mod support;

mod defs;
mod plan;
mod watch;
