//! `connect(name)` and what a connection does in a script: relations, SQL, loads.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, Map, NativeCallContext};

use super::options::Options;
use super::relation::{Origin, Relation, RhaiTransform};
use super::values::{params, row_to_map, to_dynamic};
use super::{fail, Res};
use crate::connectors::{Database, Params, DEFAULT_BATCH_ROWS};
use crate::context::current_task;
use crate::load::{run_load, LoadMode, LoadSpec, Naming, NullCursor};
use crate::script::host::Host;
use crate::script::record::LoadEvent;

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

    /// How this connection's scratch tables are named in a sample run.
    fn naming(&self) -> Naming {
        self.host
            .config
            .connection_url(&self.name)
            .map(|u| Naming::of_url(&u))
            .unwrap_or(Naming::Prefix)
    }

    /// A table the script names, read from its scratch copy when this sample session
    /// loaded one.
    fn read_name(&self, table: &str) -> String {
        match &self.host.sample {
            Some(s) if s.was_loaded(&self.name, table) => s.target(table, self.naming()),
            _ => table.to_string(),
        }
    }

    /// In a sample run, raw SQL is not run: it names production tables, which a sample run
    /// never writes. Returns true (after saying so) when `what` is skipped.
    fn skipped_in_sample(&self, what: &str) -> bool {
        let Some(sample) = &self.host.sample else {
            return false;
        };
        tracing::warn!(
            connection = %self.name,
            "Sample run: not running {what}: raw SQL names production tables, and a sample run \
             writes only to scratch ({}). Run `etl watch` without --limit to develop SQL steps.",
            sample.scratch
        );
        true
    }

    /// `etl plan`: notes a statement the task would run.
    fn planned(&self, what: String) -> bool {
        let Some(plan) = &self.host.plan else {
            return false;
        };
        if let Some(task) = current_task() {
            plan.sql(&task.task, &self.name, what);
        }
        true
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
        let table = c.read_name(table);
        let origin = Origin::Table {
            connection: c.name.clone(),
            table: table.clone(),
        };
        Ok(Relation::with_origin(c.db()?.table(&table), origin))
    });
    // `conn.table("orders", #{ parallel: 4 })`: read over N primary-key ranges at once
    // (MySQL/MariaDB sources).
    engine.register_fn(
        "table",
        |c: &mut Conn, table: &str, opts: Map| -> Res<Relation> {
            let mut o = Options::new("table()", opts, &["parallel"])?;
            let parallel = match o.int("parallel")? {
                None => 1,
                Some(n) if (1..=64).contains(&n) => n as usize,
                Some(n) => {
                    return Err(fail(format!(
                        "table(): parallel must be from 1 to 64, not {n}"
                    )))
                }
            };
            let table = c.read_name(table);
            let origin = Origin::Table {
                connection: c.name.clone(),
                table: table.clone(),
            };
            let source = c
                .db()?
                .table_with_parallel(&table, parallel)
                .map_err(fail)?;
            Ok(Relation::with_origin(source, origin))
        },
    );
    engine.register_fn("sql", |c: &mut Conn, sql: &str| -> Res<Relation> {
        relation_sql(c, sql, Params::new())
    });
    engine.register_fn("sql", |c: &mut Conn, sql: &str, p: Map| -> Res<Relation> {
        relation_sql(c, sql, params(p).map_err(fail)?)
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

fn relation_sql(c: &Conn, sql: &str, params: Params) -> Res<Relation> {
    let origin = Origin::Sql {
        connection: c.name.clone(),
        sql: sql.to_string(),
        params: params.clone(),
    };
    Ok(Relation::with_origin(c.db()?.sql(sql, params), origin))
}

fn dry_run() -> bool {
    current_task().is_some_and(|t| t.run.dry_run)
}

fn execute(c: &Conn, sql: &str, p: Map) -> Res<i64> {
    if c.planned(format!("execute: {}", first_line(sql)))
        || c.skipped_in_sample(&format!("execute({})", first_line(sql)))
    {
        return Ok(0);
    }
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
    c.host.record_input(&file);
    let sql = std::fs::read_to_string(&file).map_err(|e| {
        fail(format!(
            "run_file(\"{path}\"): cannot read {}: {e}",
            file.display()
        ))
    })?;
    let statements = sql.split(';').filter(|s| !s.trim().is_empty()).count();
    if c.planned(format!(
        "run_file: {path} ({statements} statements, not parsed further)"
    )) || c.skipped_in_sample(&format!("run_file(\"{path}\")"))
    {
        return Ok(0);
    }
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
    from.record_read(&c.host);
    let into = o
        .string("into")?
        .ok_or_else(|| fail("load(): option 'into' (the target table) is required"))?;
    let production = into.clone();
    // A sample run loads into scratch, reading at most its row limit.
    let (into, limit) = match &c.host.sample {
        Some(sample) => (
            sample.target(&into, c.naming()),
            sample.read_limit(from.read_limit()),
        ),
        None => (into, from.read_limit()),
    };
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
        limit,
    };
    let db = c.db()?;
    if let Some(plan) = &c.host.plan {
        plan.load(ctx, &c.host, &c.name, &db, &task, &from, &spec);
        let mut out = Map::new();
        out.insert("table".into(), spec.into.clone().into());
        out.insert("rows".into(), 0_i64.into());
        return Ok(out);
    }
    let input = from.source.schema(&c.host.io).map_err(fail)?;
    let mut transform = RhaiTransform::new(ctx, &from.steps, input);
    let f = run_load(&db, &c.host.io, &task, &from.source, &mut transform, &spec).map_err(fail)?;
    if let Some(sample) = &c.host.sample {
        if !task.run.dry_run {
            sample.mark_loaded(&c.name, &production);
        }
    }
    if let Some(recorder) = &c.host.recorder {
        if !task.run.dry_run {
            recorder.load(LoadEvent {
                task: task.task.clone(),
                connection: c.name.clone(),
                table: spec.into.clone(),
                key: spec.key.clone(),
                rows: f.rows,
            });
        }
    }
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
