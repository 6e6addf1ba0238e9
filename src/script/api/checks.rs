//! Data-quality checks in scripts: `not_null(["id"])`, `unique(["id"])`,
//! `accepted_values("status", [...])`, `relationships("customer_id", "dw.dim_customer",
//! "customer_id")`, `row_count(#{ min: 1, max_change: 0.5 })`, `range("amount", #{ min: 0 })`,
//! `freshness("updated_at", "2 days")`, `sql_check("name", "SELECT ... FROM :new ...")`, each
//! with an optional `#{ severity: "warn", name: "..." }`. They are values: a load's `checks:`
//! list, a list kept in a module, or `check_table(dw, "table", [...])` as a task of its own.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, Map};

use super::connection::Conn;
use super::options::Options;
use super::values::from_dynamic;
use super::{fail, Res};
use crate::connectors::{Access, Io, LoadTarget, Params, Rows, SqlExec};
use crate::context::current_task;
use crate::error::Result;
use crate::load::checks::{
    duration_seconds, run_checks, CheckKind, CheckSpec, CheckTarget, Rowset, Severity,
};
use crate::script::host::Host;

/// A check's own options, last argument of every check function.
fn with_options(mut check: CheckSpec, what: &str, opts: Map) -> Res<CheckSpec> {
    let mut o = Options::new(what, opts, &["severity", "name"])?;
    if let Some(s) = o.string("severity")? {
        check.severity = Some(Severity::parse(&s).map_err(|e| fail(format!("{what}: {e}")))?);
    }
    if let Some(n) = o.string("name")? {
        check.name = n;
    }
    Ok(check)
}

/// A column name or a list of them.
fn columns(what: &str, v: Dynamic) -> Res<Vec<String>> {
    let list: Vec<Dynamic> = if v.is_array() {
        v.into_array().expect("array")
    } else {
        vec![v]
    };
    let cols: Vec<String> = list
        .into_iter()
        .map(|c| {
            c.into_string()
                .map_err(|t| fail(format!("{what}: columns are strings, not {t}")))
        })
        .collect::<Res<_>>()?;
    if cols.is_empty() {
        return Err(fail(format!("{what}: name at least one column")));
    }
    Ok(cols)
}

fn register_checks(engine: &mut Engine) {
    engine.register_type_with_name::<CheckSpec>("Check");
    engine.register_fn("to_string", |c: &mut CheckSpec| format!("check {}", c.name));
    engine.register_get("name", |c: &mut CheckSpec| c.name.clone());

    let not_null = |cols: Dynamic, opts: Map| -> Res<CheckSpec> {
        let kind = CheckKind::NotNull(columns("not_null()", cols)?);
        with_options(CheckSpec::new(kind), "not_null()", opts)
    };
    engine.register_fn("not_null", move |c: Dynamic| not_null(c, Map::new()));
    engine.register_fn("not_null", not_null);

    let unique = |cols: Dynamic, opts: Map| -> Res<CheckSpec> {
        let kind = CheckKind::Unique(columns("unique()", cols)?);
        with_options(CheckSpec::new(kind), "unique()", opts)
    };
    engine.register_fn("unique", move |c: Dynamic| unique(c, Map::new()));
    engine.register_fn("unique", unique);

    let accepted = |col: &str, values: Array, opts: Map| -> Res<CheckSpec> {
        let values = values
            .into_iter()
            .map(|v| from_dynamic(v, None).map_err(|e| fail(format!("accepted_values(): {e}"))))
            .collect::<Res<Vec<_>>>()?;
        let kind = CheckKind::AcceptedValues(col.to_string(), values);
        with_options(CheckSpec::new(kind), "accepted_values()", opts)
    };
    engine.register_fn("accepted_values", move |c: &str, v: Array| {
        accepted(c, v, Map::new())
    });
    engine.register_fn("accepted_values", accepted);

    let relationships = |col: &str, table: &str, to: &str, opts: Map| -> Res<CheckSpec> {
        let kind = CheckKind::Relationships {
            column: col.to_string(),
            to_table: table.to_string(),
            to_column: to.to_string(),
        };
        with_options(CheckSpec::new(kind), "relationships()", opts)
    };
    engine.register_fn("relationships", move |c: &str, t: &str, to: &str| {
        relationships(c, t, to, Map::new())
    });
    engine.register_fn("relationships", relationships);

    engine.register_fn("row_count", |opts: Map| -> Res<CheckSpec> {
        let what = "row_count()";
        let mut o = Options::new(
            what,
            opts,
            &["min", "max", "max_change", "severity", "name"],
        )?;
        let count = |v: Option<i64>, key: &str| -> Res<Option<u64>> {
            v.map(|n| {
                u64::try_from(n).map_err(|_| fail(format!("{what}: {key} must be 0 or more")))
            })
            .transpose()
        };
        let min = count(o.int("min")?, "min")?;
        let max = count(o.int("max")?, "max")?;
        let max_change = o.number("max_change")?;
        if max_change.is_some_and(|c| c.is_nan() || c < 0.0) {
            return Err(fail(format!(
                "{what}: max_change is a share of the previous load's rows, 0 or more (0.5: 50%)"
            )));
        }
        let rest: Map = ["severity", "name"]
            .iter()
            .filter_map(|k| o.take(k).map(|v| ((*k).into(), v)))
            .collect();
        let kind = CheckKind::RowCount {
            min,
            max,
            max_change,
        };
        with_options(CheckSpec::new(kind), what, rest)
    });

    engine.register_fn("range", |col: &str, opts: Map| -> Res<CheckSpec> {
        let what = "range()";
        let mut o = Options::new(what, opts, &["min", "max", "severity", "name"])?;
        let bound = |v: Option<Dynamic>| {
            v.map(|v| from_dynamic(v, None).map_err(|e| fail(format!("{what}: {e}"))))
                .transpose()
        };
        let min = bound(o.take("min"))?;
        let max = bound(o.take("max"))?;
        if min.is_none() && max.is_none() {
            return Err(fail(format!("{what}: give min, max or both")));
        }
        let rest: Map = ["severity", "name"]
            .iter()
            .filter_map(|k| o.take(k).map(|v| ((*k).into(), v)))
            .collect();
        let kind = CheckKind::Range {
            column: col.to_string(),
            min,
            max,
        };
        with_options(CheckSpec::new(kind), what, rest)
    });

    let freshness = |col: &str, within: &str, opts: Map| -> Res<CheckSpec> {
        let within_seconds =
            duration_seconds(within).map_err(|e| fail(format!("freshness(): {e}")))?;
        let kind = CheckKind::Freshness {
            column: col.to_string(),
            within_seconds,
        };
        with_options(CheckSpec::new(kind), "freshness()", opts)
    };
    engine.register_fn("freshness", move |c: &str, w: &str| {
        freshness(c, w, Map::new())
    });
    engine.register_fn("freshness", freshness);

    let sql_check = |name: &str, sql: &str, opts: Map| -> Res<CheckSpec> {
        let mut check = CheckSpec::new(CheckKind::Sql(sql.to_string()));
        check.name = name.to_string();
        with_options(check, "sql_check()", opts)
    };
    engine.register_fn("sql_check", move |n: &str, s: &str| {
        sql_check(n, s, Map::new())
    });
    engine.register_fn("sql_check", sql_check);
}

/// A list of checks from a script value (a load's `checks:`, `check_table`'s third argument).
pub fn check_list(what: &str, v: Dynamic) -> Res<Vec<CheckSpec>> {
    let items: Array = if v.is_array() {
        v.into_array().expect("array")
    } else {
        vec![v]
    };
    items
        .into_iter()
        .map(|c| {
            let t = c.type_name();
            c.try_cast::<CheckSpec>().ok_or_else(|| {
                fail(format!(
                    "{what}: checks are made by not_null(..), unique(..), accepted_values(..), \
                     relationships(..), row_count(..), range(..), freshness(..), sql_check(..); not {t}"
                ))
            })
        })
        .collect()
}

/// Checks over a table through a connection, read-only.
struct OnConnection<'a> {
    sql: &'a dyn SqlExec,
    target: &'a dyn LoadTarget,
    io: &'a Io,
}

impl CheckTarget for OnConnection<'_> {
    fn query(&mut self, sql: &str, params: &Params, max_rows: usize) -> Result<Rows> {
        self.sql
            .query(self.io, sql, params, max_rows, Access::ReadOnly)
    }

    fn quoted_table(&self, name: &str) -> String {
        self.target.quote_table(name)
    }

    fn as_number(&self, expr: &str) -> String {
        self.target.as_number(expr)
    }
}

fn check_table(host: &Host, c: &Conn, table: &str, checks: Dynamic, opts: Map) -> Res<Map> {
    let what = "check_table()";
    let task = current_task().ok_or_else(|| {
        fail(format!(
            "{what} runs inside a task: task(\"checks\", |run| ...)"
        ))
    })?;
    let checks = check_list(what, checks)?;
    let mut o = Options::new(what, opts, &["on_check_fail", "key"])?;
    let default = match o.string("on_check_fail")? {
        Some(s) => Severity::parse(&s).map_err(|e| fail(format!("{what}: {e}")))?,
        None => Severity::Error,
    };
    let key = o.strings("key")?.unwrap_or_default();
    let conn = c.open()?;
    let io = host.task_io();
    let mut on = OnConnection {
        sql: conn.sql().map_err(fail)?.as_ref(),
        target: conn.target().map_err(fail)?.as_ref(),
        io: &io,
    };
    let rows = on.target.quote_table(table);
    let set = Rowset {
        table,
        rows: &rows,
        key: &key,
        previous_rows: None,
        keys: Vec::new(),
        unique: Vec::new(),
    };
    let checked = run_checks(&mut on, &set, &checks, default).map_err(fail)?;
    let store = conn.audit().map_err(fail)?;
    let record_io = Io {
        handle: io.handle.clone(),
        cancel: Default::default(),
    };
    crate::load::record_checks(store.as_ref(), &record_io, &task, table, &checked.results);
    let failed = checked
        .results
        .iter()
        .filter(|r| r.status == crate::load::checks::CheckStatus::Failed)
        .count();
    for r in checked.results.iter().filter(|r| !r.is_error()) {
        if r.status == crate::load::checks::CheckStatus::Failed {
            tracing::warn!(table, check = %r.check, "Check {}.", r.describe());
        }
    }
    if let Some(errors) = checked.errors() {
        return Err(fail(format!("{what}: checks of {table} failed: {errors}")));
    }
    tracing::info!(
        table,
        checks = checked.results.len(),
        failed,
        "Checked {table}: {} check(s), {failed} failed (warnings).",
        checked.results.len()
    );
    let mut out = Map::new();
    out.insert("checks".into(), (checked.results.len() as i64).into());
    out.insert("failed".into(), (failed as i64).into());
    Ok(out)
}

pub fn register(engine: &mut Engine, host: &Arc<Host>) {
    register_checks(engine);
    let h = host.clone();
    engine.register_fn(
        "check_table",
        move |c: Conn, table: &str, checks: Dynamic| check_table(&h, &c, table, checks, Map::new()),
    );
    let h = host.clone();
    engine.register_fn(
        "check_table",
        move |c: Conn, table: &str, checks: Dynamic, opts: Map| {
            check_table(&h, &c, table, checks, opts)
        },
    );
}
