//! `connect(name)` and what a connection does in a script: relations, SQL, loads.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, Map, NativeCallContext};

use super::options::Options;
use super::relation::{Origin, Relation};
use super::transform::RhaiTransform;
use super::values::{params, row_to_map, to_dynamic};
use super::{fail, Res};
use crate::connectors::{Access, Connection, Params, TableOptions, DEFAULT_BATCH_ROWS};
use crate::context::current_task;
use crate::load::checks::Severity;
use crate::load::{LoadMode, LoadRequest, LoadSpec, Lookback, Lookup, NullCursor, Scd2Spec, Track};
use crate::script::host::Host;
use crate::script::record::LoadEvent;

/// A named connection as scripts hold it. Opening is deferred to first use, so declaring
/// `let dw = connect("warehouse")` at the top level never touches the database. What it may
/// do is the host's run mode's business (a dry run, a plan, a sample run), never this file's.
#[derive(Clone)]
pub struct Conn {
    pub name: String,
    pub(super) host: Arc<Host>,
}

impl Conn {
    pub fn open(&self) -> Res<Arc<Connection>> {
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
    "max_errors",
    "max_error_ratio",
    "checks",
    "on_check_fail",
    "lookups",
    "lookback",
    "parallel",
];
/// `scd2()` takes a load's options but `mode`, and these.
const SCD2_OPTIONS: &[&str] = &["track", "effective_from", "deletes", "surrogate_key"];
/// `scd1()` takes a load's options but `mode` (always a merge on the key), and these.
const SCD1_OPTIONS: &[&str] = &["soft_delete"];
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
        relation_table(c, table, TableOptions::default())
    });
    // `conn.table("orders", #{ parallel: 4 })`: read over N primary-key ranges at once
    // (MySQL/MariaDB sources); other options are the connector's own (`sf.table("Account",
    // #{ bulk: true })`).
    engine.register_fn(
        "table",
        |c: &mut Conn, table: &str, mut opts: Map| -> Res<Relation> {
            let own = c.open()?.relations().map_err(fail)?.table_options();
            let mut theirs = Map::new();
            for name in own {
                if let Some(v) = opts.remove(*name) {
                    theirs.insert((*name).into(), v);
                }
            }
            let known: Vec<&str> = std::iter::once("parallel")
                .chain(own.iter().copied())
                .collect();
            let mut o = Options::new("table()", opts, &known)?;
            let parallel = match o.int("parallel")? {
                None => 1,
                Some(n) if (1..=64).contains(&n) => n as usize,
                Some(n) => {
                    return Err(fail(format!(
                        "table(): parallel must be from 1 to 64, not {n}"
                    )))
                }
            };
            let options = params(theirs).map_err(|e| fail(format!("table(): {e}")))?;
            relation_table(c, table, TableOptions { parallel, options })
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
        load(&ctx, c, spec, Kind::Load)
    });
    engine.register_fn("scd1", |ctx: NativeCallContext, c: &mut Conn, spec: Map| {
        load(&ctx, c, spec, Kind::Scd1)
    });
    engine.register_fn("scd2", |ctx: NativeCallContext, c: &mut Conn, spec: Map| {
        load(&ctx, c, spec, Kind::Scd2)
    });
    super::aggregate::register(engine);
}

fn relation_table(c: &Conn, table: &str, opts: TableOptions) -> Res<Relation> {
    let origin = Origin::Table {
        connection: c.name.clone(),
        table: table.to_string(),
    };
    let source = c
        .open()?
        .relations()
        .map_err(fail)?
        .table(table, &opts)
        .map_err(fail)?;
    Ok(Relation::with_origin(source, origin))
}

fn relation_sql(c: &Conn, sql: &str, params: Params) -> Res<Relation> {
    let origin = Origin::Sql {
        connection: c.name.clone(),
        sql: sql.to_string(),
        params: params.clone(),
    };
    let source = c
        .open()?
        .relations()
        .map_err(fail)?
        .query(sql, params)
        .map_err(fail)?;
    Ok(Relation::with_origin(source, origin))
}

fn execute(c: &Conn, sql: &str, p: Map) -> Res<i64> {
    let conn = c.open()?;
    let n = conn
        .sql()
        .map_err(fail)?
        .execute(&c.host.task_io(), sql, &params(p).map_err(fail)?)
        .map_err(fail)?;
    Ok(n as i64)
}

fn run_file(c: &Conn, path: &str, p: Map) -> Res<i64> {
    let file = c
        .host
        .script_file(path)
        .map_err(|e| fail(format!("run_file(\"{path}\"): {e}")))?;
    let conn = c.open()?;
    // `sql/x.postgres.sql` beside `sql/x.sql` is that dialect's version of the file.
    let file = crate::connectors::dialect::file_for(&file, conn.dialect())
        .map_err(|e| fail(format!("run_file(\"{path}\"): {e}")))?;
    c.host.record_input(&file);
    let sql = std::fs::read_to_string(&file).map_err(|e| {
        fail(format!(
            "run_file(\"{path}\"): cannot read {}: {e}",
            file.display()
        ))
    })?;
    let n = conn
        .sql()
        .map_err(fail)?
        .run_script(&c.host.task_io(), path, &sql, &params(p).map_err(fail)?)
        .map_err(|e| fail(format!("{path}: {e}")))?;
    tracing::info!(connection = %c.name, file = path, changed = n, "Ran {path}.");
    Ok(n as i64)
}

fn rows(c: &Conn, sql: &str, p: Map) -> Res<crate::connectors::Rows> {
    let params = params(p).map_err(fail)?;
    c.open()?
        .sql()
        .map_err(fail)?
        .query(
            &c.host.task_io(),
            sql,
            &params,
            MAX_QUERY_ROWS,
            Access::ReadWrite,
        )
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

/// Which call a load came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Load,
    Scd1,
    Scd2,
}

fn load(ctx: &NativeCallContext, c: &Conn, spec: Map, kind: Kind) -> Res<Map> {
    let task = current_task().ok_or_else(|| {
        fail("load() runs inside a task: task(\"name\", |run| dw.load(#{ ... }))")
    })?;
    let own = |name: &'static str, extra: &[&str]| -> Res<Options<'static>> {
        let allowed: Vec<&str> = LOAD_OPTIONS
            .iter()
            .chain(extra)
            .copied()
            .filter(|o| *o != "mode")
            .collect();
        Options::new(name, spec.clone(), &allowed)
    };
    let mut o = match kind {
        Kind::Load => Options::new("load()", spec.clone(), LOAD_OPTIONS)?,
        Kind::Scd1 => own("scd1()", SCD1_OPTIONS)?,
        Kind::Scd2 => own("scd2()", SCD2_OPTIONS)?,
    };
    let scd2 = if kind == Kind::Scd2 {
        Some(scd2_spec(&mut o)?)
    } else {
        None
    };
    let soft_delete = if kind == Kind::Scd1 {
        scd1_soft_delete(&mut o)?
    } else {
        None
    };
    let from = o.take("from").ok_or_else(|| fail("load(): option 'from' is required (a relation: conn.table(..), conn.sql(..), csv_file(..))"))?;
    if !from.is::<Relation>() {
        return Err(fail(format!("load(): option 'from' must be a relation (conn.table(..), conn.sql(..), csv_file(..)), not {}", from.type_name())));
    }
    let from: Relation = from.cast();
    from.record_read(&c.host);
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
        max_errors: match o.int("max_errors")? {
            Some(n) if n >= 0 => Some(n as u64),
            Some(n) => {
                return Err(fail(format!(
                    "load(): max_errors must be 0 or more, not {n}"
                )))
            }
            None => None,
        },
        checks: match o.take("checks") {
            Some(v) => super::checks::check_list("load()", v)?,
            None => Vec::new(),
        },
        on_check_fail: match o.string("on_check_fail")? {
            Some(s) => Severity::parse(&s).map_err(|e| fail(format!("load(): on_check_fail: {e}")))?,
            None => Severity::Error,
        },
        scd2: scd2.clone(),
        lookback: match o.string("lookback")? {
            Some(t) => Some(Lookback::parse(&t).map_err(|e| fail(format!("load(): {e}")))?),
            None => None,
        },
        soft_delete,
        parallel: match o.take("parallel") {
            None => None,
            Some(v) if v.clone().into_string().is_ok_and(|s| s == "auto") => {
                Some(crate::load::auto_streams())
            }
            Some(v) => match v.as_int() {
                Ok(n) if (1..=32).contains(&n) => Some(n as usize),
                _ => {
                    return Err(fail(format!(
                        "load(): parallel (the COPY streams of a full load) must be from 1 to 32, or \"auto\" for one per two cores, not {v}"
                    )))
                }
            },
        },
        lookups: match o.take("lookups") {
            Some(v) => lookups(v)?,
            None => Vec::new(),
        },
        max_error_ratio: match o.number("max_error_ratio")? {
            Some(r) if (0.0..=1.0).contains(&r) => Some(r),
            Some(r) => {
                return Err(fail(format!(
                    "load(): max_error_ratio must be between 0 and 1 (a share of the rows read), not {r}"
                )))
            }
            None => None,
        },
    };
    let spec = LoadSpec {
        mode: match kind {
            Kind::Scd2 => Some(LoadMode::Scd2),
            Kind::Scd1 => Some(LoadMode::Merge),
            Kind::Load => spec.mode,
        },
        ..spec
    };
    let conn = c.open()?;
    let io = &c.host.task_io();
    let mut transform = RhaiTransform::new(ctx, &from.steps, None);
    let req = LoadRequest {
        io,
        task: &task,
        source: &from.source,
        transform: &mut transform,
        spec: spec.clone(),
    };
    let f = c.host.mode.load(&conn, req).map_err(fail)?;
    if let Some(recorder) = &c.host.recorder {
        if f.audit_id.is_some() {
            recorder.load(LoadEvent {
                task: task.task.clone(),
                connection: c.name.clone(),
                table: f.table.clone(),
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
    out.insert("rejected".into(), (f.rejected as i64).into());
    out.insert("unknown".into(), (f.unknown as i64).into());
    out.insert(
        "rejects".into(),
        f.rejects_file
            .map(|p| Dynamic::from(p.display().to_string()))
            .unwrap_or(Dynamic::UNIT),
    );
    Ok(out)
}

/// `scd1()`'s `soft_delete`: only for loads that read every key each run.
fn scd1_soft_delete(o: &mut Options) -> Res<Option<String>> {
    let Some(column) = o.string("soft_delete")? else {
        return Ok(None);
    };
    if o.has("cursor") {
        return Err(fail(format!(
            "scd1(): soft_delete: \"{column}\" cannot be used with a `cursor`: it marks every key missing \
             from the source as deleted, and an incremental read brings only the changed rows, so every \
             unchanged key would look deleted. Drop `cursor` (each run then reads the whole source), or \
             drop soft_delete"
        )));
    }
    if o.has("lookback") {
        return Err(fail(
            "scd1(): soft_delete reads the whole source each run; `lookback` (an incremental margin) has no place here",
        ));
    }
    Ok(Some(column))
}

/// `scd2()`'s own options: what makes a version, when it starts, what a missing key means.
fn scd2_spec(o: &mut Options) -> Res<Scd2Spec> {
    let track = match o.take("track") {
        None => Track::All,
        Some(v) if v.clone().into_string().is_ok_and(|s| s == "all") => Track::All,
        Some(v) => match v.clone().into_typed_array::<rhai::ImmutableString>() {
            Ok(cols) if !cols.is_empty() => {
                Track::Columns(cols.into_iter().map(|c| c.to_string()).collect())
            }
            _ => {
                return Err(fail(format!(
                    "scd2(): track is \"all\" or an array of column names, not {}",
                    v.type_name()
                )))
            }
        },
    };
    let close_deleted = match o.string("deletes")?.as_deref() {
        None | Some("ignore") => false,
        Some("close") => true,
        Some(other) => {
            return Err(fail(format!(
                "scd2(): deletes '{other}' is not one of ignore, close"
            )))
        }
    };
    Ok(Scd2Spec {
        track,
        effective_from: o.string("effective_from")?,
        close_deleted,
        surrogate_key: o
            .string("surrogate_key")?
            .unwrap_or_else(|| "sk".to_string()),
    })
}

/// `lookups: [#{ dim, on, take, dim_on, at, unknown }]`.
fn lookups(v: Dynamic) -> Res<Vec<Lookup>> {
    let what = "load(): lookups";
    let Some(list) = v.clone().try_cast::<Array>() else {
        return Err(fail(format!(
            "{what} is an array of maps (#{{ dim: \"dw.dim_customer\", on: \"customer_id\", take: \"customer_sk\" }}), not {}",
            v.type_name()
        )));
    };
    list.into_iter()
        .map(|item| {
            let Some(map) = item.clone().try_cast::<Map>() else {
                return Err(fail(format!(
                    "{what}: each lookup is a map, not {}",
                    item.type_name()
                )));
            };
            let mut o = Options::new(what, map, &["dim", "on", "take", "dim_on", "at", "unknown"])?;
            let need = |o: &mut Options, k: &str| -> Res<String> {
                o.string(k)?
                    .ok_or_else(|| fail(format!("{what}: each lookup needs `{k}`")))
            };
            let dim = need(&mut o, "dim")?;
            let on = need(&mut o, "on")?;
            let take = need(&mut o, "take")?;
            Ok(Lookup {
                dim_on: o.string("dim_on")?.unwrap_or_else(|| on.clone()),
                at: o.string("at")?,
                unknown: o.int("unknown")?.unwrap_or(-1),
                dim,
                on,
                take,
            })
        })
        .collect()
}
