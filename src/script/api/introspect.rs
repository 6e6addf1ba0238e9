//! Introspection on a connection: `src.tables()`, `src.columns(t)`, `src.primary_key(t)`.
//! A script may call these at its top level to define its tasks from a source's tables
//! (`copy::database`); the host decides what that means for each command (`etl check`
//! connects to read the catalog, or with `--offline` finds nothing and says so).

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, Map};

use super::connection::Conn;
use super::options::Options;
use super::{fail, Res};
use crate::connectors::Connection;
use crate::script::host::Mode;

pub fn register(engine: &mut Engine) {
    engine.register_fn("tables", |c: &mut Conn| tables(c, None, &[], &[]));
    engine.register_fn("tables", |c: &mut Conn, pattern: &str| {
        tables(c, None, &[pattern.to_string()], &[])
    });
    engine.register_fn("tables", |c: &mut Conn, patterns: Array| {
        let include = strings("tables()", patterns)?;
        tables(c, None, &include, &[])
    });
    engine.register_fn("tables", |c: &mut Conn, opts: Map| {
        let mut o = Options::new("tables()", opts, &["include", "exclude", "schema"])?;
        let include = pattern_option(&mut o, "include")?;
        let exclude = pattern_option(&mut o, "exclude")?;
        let schema = o.string("schema")?;
        tables(c, schema.as_deref(), &include, &exclude)
    });
    engine.register_fn("columns", |c: &mut Conn, table: &str| -> Res<Array> {
        let Some(conn) = catalog(c)? else {
            return Ok(Array::new());
        };
        let columns = conn
            .catalog()
            .map_err(fail)?
            .columns(&c.host.task_io(), table)
            .map_err(|e| failed(c, e))?;
        Ok(columns
            .into_iter()
            .map(|col| {
                let mut m = Map::new();
                m.insert("name".into(), col.name.into());
                m.insert("type".into(), col.declared.into());
                m.insert("nullable".into(), col.nullable.into());
                Dynamic::from_map(m)
            })
            .collect())
    });
    engine.register_fn("primary_key", |c: &mut Conn, table: &str| -> Res<Array> {
        let Some(conn) = catalog(c)? else {
            return Ok(Array::new());
        };
        let key = conn
            .catalog()
            .map_err(fail)?
            .primary_key(&c.host.task_io(), table)
            .map_err(|e| failed(c, e))?;
        Ok(key.into_iter().map(Dynamic::from).collect())
    });
}

/// A catalog read that failed; under `etl check` the message says why it connected at all.
fn failed(c: &Conn, e: crate::error::EtlError) -> Box<rhai::EvalAltResult> {
    if c.host.phase == Mode::Check {
        fail(format!(
            "{e} (etl check connects to read the catalog because the script lists tables at its top level; `etl check --offline` checks without connecting)"
        ))
    } else {
        fail(e)
    }
}

/// The connection to introspect; None under `etl check --offline`.
fn catalog(c: &Conn) -> Res<Option<Arc<Connection>>> {
    c.host.catalog_connection(&c.name).map_err(fail)
}

/// Tables matching any of `include` (all when empty) and none of `exclude`, sorted; named
/// `schema.table` when a schema was asked for, so the names go straight into `table()`.
fn tables(c: &Conn, schema: Option<&str>, include: &[String], exclude: &[String]) -> Res<Array> {
    let include = compile("tables()", include)?;
    let exclude = compile("tables()", exclude)?;
    let Some(conn) = catalog(c)? else {
        return Ok(Array::new());
    };
    let found = conn
        .catalog()
        .map_err(fail)?
        .tables(&c.host.task_io(), schema)
        .map_err(|e| failed(c, e))?;
    Ok(found
        .into_iter()
        .filter(|t| include.is_empty() || include.iter().any(|p| p.matches(&t.name)))
        .filter(|t| !exclude.iter().any(|p| p.matches(&t.name)))
        .map(|t| Dynamic::from(t.to_string()))
        .collect())
}

fn compile(what: &str, patterns: &[String]) -> Res<Vec<glob::Pattern>> {
    patterns
        .iter()
        .map(|p| {
            glob::Pattern::new(p)
                .map_err(|e| fail(format!("{what}: '{p}' is not a valid pattern: {e}")))
        })
        .collect()
}

fn pattern_option(o: &mut Options, key: &str) -> Res<Vec<String>> {
    match o.take(key) {
        None => Ok(Vec::new()),
        Some(v) if v.is_string() => Ok(vec![v.into_string().expect("string")]),
        Some(v) => match v.clone().try_cast::<Array>() {
            Some(list) => strings(&format!("tables(): {key}"), list),
            None => Err(fail(format!(
                "tables(): option '{key}' must be a pattern or an array of patterns, not {}",
                v.type_name()
            ))),
        },
    }
}

fn strings(what: &str, list: Array) -> Res<Vec<String>> {
    list.into_iter()
        .map(|v| {
            v.clone().into_string().map_err(|_| {
                fail(format!(
                    "{what}: patterns are strings (\"sales_*\"), not {}",
                    v.type_name()
                ))
            })
        })
        .collect()
}
