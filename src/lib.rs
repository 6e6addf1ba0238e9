//! `etl`: a data-warehouse loader whose pipelines are Rhai scripts.
//! Rhai is the control plane (what moves where), Rust is the data plane (rows in batches).

pub mod audit;
pub mod audit_checks;
pub mod audit_files;
pub mod backfill;
pub mod cli;
pub mod config;
pub mod connectors;
pub mod context;
pub mod cron;
pub mod data;
pub mod defs;
pub mod dotenv;
pub mod error;
pub mod exec;
pub mod launcher;
pub mod lineage;
pub mod load;
pub mod logging;
pub mod migrate;
pub mod notify;
pub mod outcome;
pub mod plan;
pub mod progress;
pub mod report;
pub mod runmode;
pub mod runner;
pub mod scaffold;
pub mod schedule;
pub mod script;
pub mod stdout;
pub mod summary;
pub mod table;
pub mod watch;
