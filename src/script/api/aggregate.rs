//! `dw.aggregate(#{ into, sql_file, key, window_column, grain, reads })`: an aggregate table
//! rebuilt in the windows this run's loads touched (`load/aggregate.rs`).

use rhai::{Array, Dynamic, Engine, Map};

use super::connection::Conn;
use super::options::Options;
use super::{fail, Res};
use crate::context::current_task;
use crate::load::{run_aggregate, AggregateSpec, Grain};
use crate::runmode::RunMode;

const OPTIONS: &[&str] = &["into", "sql_file", "key", "window_column", "grain", "reads"];

pub(super) fn register(engine: &mut Engine) {
    engine.register_fn("aggregate", |c: &mut Conn, spec: Map| aggregate(c, spec));
}

fn aggregate(c: &Conn, spec: Map) -> Res<Map> {
    let what = "aggregate()";
    let task = current_task().ok_or_else(|| {
        fail("aggregate() runs inside a task: task(\"name\", |run| dw.aggregate(#{ ... }))")
    })?;
    let mut o = Options::new(what, spec, OPTIONS)?;
    let need = |o: &mut Options, k: &str, example: &str| -> Res<String> {
        o.string(k)?
            .ok_or_else(|| fail(format!("{what}: option '{k}' is required ({example})")))
    };
    let into = need(
        &mut o,
        "into",
        "the aggregate table, e.g. \"dw.agg_sales_daily\"",
    )?;
    let sql_file = need(&mut o, "sql_file", "e.g. \"sql/agg_sales_daily.sql\"")?;
    let window_column = need(
        &mut o,
        "window_column",
        "the aggregate's date column, e.g. \"day\"",
    )?;
    let key = o.strings("key")?.unwrap_or_default();
    if key.is_empty() {
        return Err(fail(format!(
            "{what}: option 'key' is required: the aggregate's grain columns, e.g. [\"day\", \"country\"]"
        )));
    }
    let grain = match o.string("grain")? {
        Some(g) => Grain::parse(&g).map_err(|e| fail(format!("{what}: {e}")))?,
        None => Grain::Day,
    };
    let reads = match o.take("reads") {
        None => {
            return Err(fail(format!(
                "{what}: option 'reads' is required: the tables the SQL reads, as the loads name them \
                 ([\"dw.fact_sales\"], their window column then being '{window_column}'), or with each \
                 table's own date column (#{{ \"dw.fact_sales\": \"sale_date\" }}); loads into them record \
                 the days they touch"
            )))
        }
        Some(v) => reads(what, v, &window_column)?,
    };
    let path = c
        .host
        .script_file(&sql_file)
        .map_err(|e| fail(format!("{what}: sql_file \"{sql_file}\": {e}")))?;
    let conn = c.open()?;
    let path = crate::connectors::dialect::file_for(&path, conn.dialect())
        .map_err(|e| fail(format!("{what}: sql_file \"{sql_file}\": {e}")))?;
    c.host.record_input(&path);
    let sql = std::fs::read_to_string(&path)
        .map_err(|e| fail(format!("{what}: cannot read {}: {e}", path.display())))?;
    let spec = AggregateSpec {
        into,
        sql_file,
        sql,
        key,
        window_column,
        grain,
        reads,
    };
    let mut out = Map::new();
    out.insert("table".into(), spec.into.clone().into());
    if !matches!(c.host.mode, RunMode::Write) {
        let note = format!(
            "Would rebuild the touched windows of {} (this run writes nothing).",
            spec.into
        );
        tracing::info!(table = %spec.into, "{note}");
        out.insert("skipped".into(), true.into());
        out.insert("note".into(), note.into());
        return Ok(out);
    }
    let f = run_aggregate(&conn, &c.host.task_io(), &task, &spec).map_err(fail)?;
    out.insert("full".into(), f.full.into());
    out.insert("rows".into(), (f.rows as i64).into());
    out.insert("deleted".into(), (f.deleted as i64).into());
    out.insert(
        "windows".into(),
        f.windows
            .iter()
            .map(|(s, e)| Dynamic::from(format!("{s}..{e}")))
            .collect::<Array>()
            .into(),
    );
    out.insert("note".into(), f.note.into());
    Ok(out)
}

/// `["t1", "t2"]` (each windowed by `window_column`) or `#{ t1: "col", .. }`.
fn reads(what: &str, v: Dynamic, window_column: &str) -> Res<Vec<(String, String)>> {
    let wrong = |v: &Dynamic| {
        fail(format!(
            "{what}: reads is an array of table names or a map of table => date column, not {}",
            v.type_name()
        ))
    };
    let out: Vec<(String, String)> = if let Some(list) = v.clone().try_cast::<Array>() {
        list.into_iter()
            .map(|t| {
                t.clone()
                    .into_string()
                    .map(|t| (t, window_column.to_string()))
                    .map_err(|_| wrong(&t))
            })
            .collect::<Res<_>>()?
    } else if let Some(map) = v.clone().try_cast::<Map>() {
        map.into_iter()
            .map(|(t, c)| {
                c.clone()
                    .into_string()
                    .map(|c| (t.to_string(), c))
                    .map_err(|_| wrong(&c))
            })
            .collect::<Res<_>>()?
    } else {
        return Err(wrong(&v));
    };
    if out.is_empty() {
        return Err(fail(format!("{what}: reads names no table")));
    }
    Ok(out)
}
