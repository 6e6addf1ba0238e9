//! The general helpers a data engineer reaches for in a script, one file per domain: dates,
//! the environment, files of the project, SQL text, JSON and hashes. All are plain functions
//! (no connection), so `etl check` validates calls to them like the rest of the API and
//! `etl defs` lists them.

use std::sync::Arc;

use rhai::Engine;

use crate::script::host::Host;

mod dates;
mod env;
mod fs;
mod hash;
mod json;
mod sql;
#[cfg(test)]
mod tests;

pub fn register(engine: &mut Engine, host: &Arc<Host>) {
    dates::register(engine);
    env::register(engine);
    fs::register(engine, host);
    sql::register(engine);
    json::register(engine);
    hash::register(engine);
}
