//! Running projects in production, through the real binary: `etl backfill` (on SQLite here and
//! on PostgreSQL in `backfill_pg`), the scheduler, the launchers and what `etl launcher` /
//! `etl export` write, and the Docker build script's check.

#[path = "../cli/support.rs"]
#[allow(dead_code)]
mod support;

#[path = "../common/mod.rs"]
mod common;

mod backfill;
mod backfill_pg;
mod docker;
mod export;
mod generated_text;
mod launcher_options;
mod launchers;
mod lineage;
mod schedule;
