//! `connect(name)` and what a connection does in a script: relations, SQL, loads.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, Map, NativeCallContext};

use super::options::Options;
use super::relation::{Relation, RhaiTransform};
use super::values::{params, row_to_map, to_dynamic};
use super::{fail, Res};
use crate::connectors::{Database, Params, DEFAULT_BATCH_ROWS};
use crate::context::current_task;
use crate::load::{run_load, LoadMode, LoadSpec, NullCursor};
use crate::script::host::Host;

/// A named connection as scripts hold it. Opening is deferred to first use, so declaring
/// `let dw = connect("warehouse")` at the top level never touches the database.
#[derive(Clone)]
pub struct Conn {
    pub name: String,
    host: Arc<Host>,
}

impl Conn {
    pub fn db(&self) -> Res<Arc<dyn Database>> {
        self.host.connection(&self.name).map_err(fail)
    }
}

const LOAD_OPTIONS: &[&str] = &[
    "from",
    "into",
    "key",
    "cursor",
    "mode",
    "null_cursor",
    "batch_rows",
    "allow_type_change",
];
/// Small results only: `query` is for lookups and checks, loads stream.
const MAX_QUERY_ROWS: usize = 100_000;

pub fn register(engine: &mut Engine, host: &Arc<Host>) {
    engine.register_type_with_name::<Conn>("Connection");
    let h = host.clone();
    engine.register_fn("connect", move |name: &str| -> Res<Conn> {
        h.check_connection(name).map_err(fail)?;
        Ok(Conn {
            name: name.to_string(),
            host: h.clone(),
        })
    });
    engine.register_get("name", |c: &mut Conn| c.name.clone());
    engine.register_fn("to_string", |c: &mut Conn| {
        format!("connection '{}'", c.name)
    });

    engine.register_fn("table", |c: &mut Conn, table: &str| -> Res<Relation> {
        Ok(Relation::new(c.db()?.table(table)))
    });
    engine.register_fn("sql", |c: &mut Conn, sql: &str| -> Res<Relation> {
        Ok(Relation::new(c.db()?.sql(sql, Params::new())))
    });
    engine.register_fn("sql", |c: &mut Conn, sql: &str, p: Map| -> Res<Relation> {
        Ok(Relation::new(c.db()?.sql(sql, params(p).map_err(fail)?)))
    });

    engine.register_fn("execute", |c: &mut Conn, sql: &str| {
        execute(c, sql, Map::new())
    });
    engine.register_fn("execute", |c: &mut Conn, sql: &str, p: Map| {
        execute(c, sql, p)
    });
    engine.register_fn("run_file", |c: &mut Conn, path: &str| {
        run_file(c, path, Map::new())
    });
    engine.register_fn("run_file", |c: &mut Conn, path: &str, p: Map| {
        run_file(c, path, p)
    });
    engine.register_fn("query", |c: &mut Conn, sql: &str| query(c, sql, Map::new()));
    engine.register_fn("query", |c: &mut Conn, sql: &str, p: Map| query(c, sql, p));
    engine.register_fn("scalar", |c: &mut Conn, sql: &str| {
        scalar(c, sql, Map::new())
    });
    engine.register_fn("scalar", |c: &mut Conn, sql: &str, p: Map| {
        scalar(c, sql, p)
    });
    engine.register_fn("load", |ctx: NativeCallContext, c: &mut Conn, spec: Map| {
        load(&ctx, c, spec)
    });
}

fn dry_run() -> bool {
    current_task().is_some_and(|t| t.run.dry_run)
}

fn execute(c: &Conn, sql: &str, p: Map) -> Res<i64> {
    if dry_run() {
        tracing::info!(connection = %c.name, "Dry run: would execute {}", first_line(sql));
        return Ok(0);
    }
    let n = c
        .db()?
        .execute(&c.host.io, sql, &params(p).map_err(fail)?)
        .map_err(fail)?;
    Ok(n as i64)
}

fn run_file(c: &Conn, path: &str, p: Map) -> Res<i64> {
    let file = c.host.resolve_path(path);
    let sql = std::fs::read_to_string(&file).map_err(|e| {
        fail(format!(
            "run_file(\"{path}\"): cannot read {}: {e}",
            file.display()
        ))
    })?;
    if dry_run() {
        tracing::info!(connection = %c.name, "Dry run: would run {path}");
        return Ok(0);
    }
    let n = c
        .db()?
        .run_script(&c.host.io, &sql, &params(p).map_err(fail)?)
        .map_err(|e| fail(format!("{path}: {e}")))?;
    tracing::info!(connection = %c.name, file = path, changed = n, "Ran {path}.");
    Ok(n as i64)
}

fn rows(c: &Conn, sql: &str, p: Map) -> Res<crate::connectors::Rows> {
    let params = params(p).map_err(fail)?;
    c.db()?
        .query(&c.host.io, sql, &params, MAX_QUERY_ROWS)
        .map_err(fail)
}

fn query(c: &Conn, sql: &str, p: Map) -> Res<Array> {
    let rows = rows(c, sql, p)?;
    Ok(rows
        .rows
        .iter()
        .map(|r| row_to_map(&rows.schema, r).into())
        .collect())
}

fn scalar(c: &Conn, sql: &str, p: Map) -> Res<Dynamic> {
    let rows = rows(c, sql, p)?;
    let first = rows
        .rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next());
    Ok(first.map(to_dynamic).unwrap_or(Dynamic::UNIT))
}

fn load(ctx: &NativeCallContext, c: &Conn, spec: Map) -> Res<Map> {
    let task = current_task().ok_or_else(|| {
        fail("load() runs inside a task: task(\"name\", |run| dw.load(#{ ... }))")
    })?;
    let mut o = Options::new("load()", spec, LOAD_OPTIONS)?;
    let from = o.take("from").ok_or_else(|| fail("load(): option 'from' is required (a relation: conn.table(..), conn.sql(..), csv_file(..))"))?;
    if !from.is::<Relation>() {
        return Err(fail(format!("load(): option 'from' must be a relation (conn.table(..), conn.sql(..), csv_file(..)), not {}", from.type_name())));
    }
    let from: Relation = from.cast();
    let into = o
        .string("into")?
        .ok_or_else(|| fail("load(): option 'into' (the target table) is required"))?;
    let spec = LoadSpec {
        into,
        key: o.strings("key")?.unwrap_or_default(),
        cursor: o.string("cursor")?,
        mode: o
            .string("mode")?
            .map(|m| LoadMode::parse(&m))
            .transpose()
            .map_err(fail)?,
        null_cursor: o
            .string("null_cursor")?
            .map(|m| NullCursor::parse(&m))
            .transpose()
            .map_err(fail)?
            .unwrap_or(NullCursor::Load),
        batch_rows: match o.int("batch_rows")? {
            Some(n) if (1..=1_000_000).contains(&n) => n as usize,
            Some(n) => {
                return Err(fail(format!(
                    "load(): batch_rows must be between 1 and 1000000, not {n}"
                )))
            }
            None => DEFAULT_BATCH_ROWS,
        },
        allow_type_change: o.bool("allow_type_change")?.unwrap_or(false),
        limit: from.read_limit(),
    };
    let db = c.db()?;
    let input = from.source.schema(&c.host.io).map_err(fail)?;
    let mut transform = RhaiTransform::new(ctx, &from.steps, input);
    let f = run_load(&db, &c.host.io, &task, &from.source, &mut transform, &spec).map_err(fail)?;
    let mut out = Map::new();
    out.insert("table".into(), f.table.into());
    out.insert(
        "mode".into(),
        f.mode.map(|m| m.as_str()).unwrap_or_default().into(),
    );
    out.insert("rows".into(), (f.rows as i64).into());
    out.insert("inserted".into(), (f.inserted as i64).into());
    out.insert("updated".into(), (f.updated as i64).into());
    out.insert("null_cursor".into(), (f.null_cursor_rows as i64).into());
    out.insert("min".into(), f.min.map(to_dynamic).unwrap_or(Dynamic::UNIT));
    out.insert("max".into(), f.max.map(to_dynamic).unwrap_or(Dynamic::UNIT));
    out.insert(
        "since".into(),
        f.since.map(to_dynamic).unwrap_or(Dynamic::UNIT),
    );
    Ok(out)
}

fn first_line(sql: &str) -> &str {
    sql.trim().lines().next().unwrap_or_default()
}
