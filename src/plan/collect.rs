//! What each task would do, collected while its closure runs in plan mode: a `load` is
//! described (read-only) instead of run, SQL statements and files are listed.

use std::sync::{Arc, Mutex};

use rhai::NativeCallContext;

use super::dialect::Dialect;
use crate::connectors::{CursorWindow, Database, ReadOptions};
use crate::context::TaskCtx;
use crate::data::{DataType, Schema, Value};
use crate::error::{EtlError, Result};
use crate::load::{resolve_window, LoadMode, LoadSpec, Transform};
use crate::script::api::{Origin, Relation, RhaiTransform, Step};
use crate::script::Host;

/// Rows read through a `.map` to learn its output columns.
const MAP_SAMPLE_ROWS: u64 = 200;

#[derive(Default)]
pub struct Collector {
    items: Mutex<Vec<(String, Item)>>,
}

pub enum Item {
    Load(Box<LoadView>),
    /// A statement or SQL file the task runs on a connection.
    Sql {
        connection: String,
        what: String,
    },
    /// A load that could not be described.
    Error(String),
}

/// One load as `etl plan` prints it.
pub struct LoadView {
    pub connection: String,
    pub table: String,
    pub mode: LoadMode,
    pub key: Vec<String>,
    pub cursor: Option<String>,
    pub source: String,
    /// The source statement with `:since` / `:until` (and other parameters) written in.
    pub sql: Option<String>,
    /// The window in words (`updated_at >= '2024-01-02 00:00:00'`, or why there is none).
    pub window: String,
    pub rows: String,
    pub exists: bool,
    pub ddl: Vec<String>,
    pub columns: Vec<ColumnMap>,
    pub notes: Vec<String>,
}

pub struct ColumnMap {
    pub name: String,
    pub source: String,
    pub target: String,
    /// Why the cast needs attention (lossy or narrowing), if it does.
    pub flag: Option<String>,
}

impl Collector {
    pub fn take(&self) -> Vec<(String, Item)> {
        std::mem::take(&mut *self.items.lock().expect("plan lock"))
    }

    fn push(&self, task: &str, item: Item) {
        self.items
            .lock()
            .expect("plan lock")
            .push((task.to_string(), item));
    }

    pub fn sql(&self, task: &str, connection: &str, what: String) {
        self.push(
            task,
            Item::Sql {
                connection: connection.to_string(),
                what,
            },
        );
    }

    /// Describes a load without writing anything; a failure becomes part of the plan.
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        &self,
        ctx: &NativeCallContext,
        host: &Host,
        connection: &str,
        db: &Arc<dyn Database>,
        task: &TaskCtx,
        from: &Relation,
        spec: &LoadSpec,
    ) {
        let item = match describe(ctx, host, connection, db, task, from, spec) {
            Ok(view) => Item::Load(Box::new(view)),
            Err(e) => Item::Error(format!("load into {}: {e}", spec.into)),
        };
        self.push(&task.task, item);
    }
}

fn dialect_of(host: &Host, connection: &str) -> Dialect {
    host.config
        .connection_url(connection)
        .map(|u| Dialect::of_url(&u))
        .unwrap_or(Dialect::Sqlite)
}

fn describe(
    ctx: &NativeCallContext,
    host: &Host,
    connection: &str,
    db: &Arc<dyn Database>,
    task: &TaskCtx,
    from: &Relation,
    spec: &LoadSpec,
) -> Result<LoadView> {
    let io = &host.io;
    let run = &task.run;
    let dialect = dialect_of(host, connection);
    let audit = dialect.audit_exists(db, io, &host.config.audit_schema)?;
    let mut notes = Vec::new();
    let resolved = resolve_window(run, io, &from.source, spec, &mut || {
        if audit {
            db.audit_watermark(io, &run.project, &spec.into)
        } else {
            Ok(None)
        }
    })?;
    let window = describe_window(resolved.window.as_ref(), resolved.mode, run, audit);

    // The rows' columns: the source's, or what its `.map` makes of the first rows.
    let input = from.source.schema(io)?;
    let columns = if from.steps.iter().any(|s| matches!(s, Step::Map(_))) {
        notes.push(format!(
            "columns after .map, from its first {MAP_SAMPLE_ROWS} rows"
        ));
        mapped_schema(ctx, host, from, input.clone())?
    } else {
        input.clone()
    };

    let (sql, rows) = source_sql_and_rows(host, from, resolved.window.as_ref())?;

    let exists = dialect.table_exists(db, io, &spec.into)?;
    let existing = if exists {
        Some(db.table(&spec.into).schema(io)?)
    } else {
        None
    };
    let (ddl, map) = target_changes(dialect, spec, resolved.mode, &columns, existing.as_ref());
    if spec.limit.is_some() {
        notes.push(format!(
            "reads at most {} rows",
            spec.limit.unwrap_or_default()
        ));
    }
    Ok(LoadView {
        connection: connection.to_string(),
        table: spec.into.clone(),
        mode: resolved.mode,
        key: spec.key.clone(),
        cursor: spec.cursor.clone(),
        source: from.source.describe(),
        sql,
        window,
        rows,
        exists,
        ddl,
        columns: map,
        notes,
    })
}

fn describe_window(
    window: Option<&CursorWindow>,
    mode: LoadMode,
    run: &crate::context::RunInfo,
    audit: bool,
) -> String {
    let Some(w) = window else {
        return "none (no cursor: every row)".into();
    };
    let mut parts = Vec::new();
    if let Some(s) = &w.since {
        let op = if w.since_inclusive { ">=" } else { ">" };
        parts.push(format!("{} {op} {}", w.column, literal(s)));
    }
    if let Some(u) = &w.until {
        parts.push(format!("{} < {}", w.column, literal(u)));
    }
    if !parts.is_empty() {
        let from = match run.load_type {
            crate::context::LoadType::Incremental => " (watermark from etl_runs)",
            crate::context::LoadType::Backfill => " (backfill range)",
            crate::context::LoadType::Full => "",
        };
        return format!("{}{from}", parts.join(" AND "));
    }
    match (mode, run.load_type) {
        (LoadMode::Full, _) => format!("none: a full load reads every row (cursor {})", w.column),
        (_, crate::context::LoadType::Incremental) if !audit => {
            "none: no audit table yet, the first run reads every row".into()
        }
        (_, crate::context::LoadType::Incremental) => {
            "none: no successful load of this table yet, the first run reads every row".into()
        }
        _ => "none".into(),
    }
}

/// A value as a SQL literal, for display.
fn literal(v: &Value) -> String {
    match v {
        Value::Int16(_) | Value::Int32(_) | Value::Int64(_) | Value::Decimal(_) => {
            v.to_text().unwrap_or_default()
        }
        _ => format!("'{}'", v.to_text().unwrap_or_default().replace('\'', "''")),
    }
}

/// Learns the columns a `.map` returns by running it over the first rows.
fn mapped_schema(
    ctx: &NativeCallContext,
    host: &Host,
    from: &Relation,
    input: Schema,
) -> Result<Schema> {
    let opts = ReadOptions {
        limit: Some(MAP_SAMPLE_ROWS),
        ..ReadOptions::default()
    };
    let mut stream = from.source.open(&host.io, &opts)?;
    let mut transform = RhaiTransform::new(ctx, &from.steps, input);
    while let Some(batch) = stream.next_blocking() {
        transform.apply(batch?)?;
        if let Some(s) = transform.output_schema() {
            return Ok(s);
        }
    }
    Err(EtlError::Other(
        "no row reached the end of .map in the first rows: the target's columns are unknown until one does"
            .into(),
    ))
}

/// The source statement with its parameters written in, and the row estimate.
fn source_sql_and_rows(
    host: &Host,
    from: &Relation,
    window: Option<&CursorWindow>,
) -> Result<(Option<String>, String)> {
    let io = &host.io;
    let estimate = from.source.estimate_rows(io, window)?;
    let fmt =
        |rows: u64, exact: bool, how: &str| format!("{}{rows}{how}", if exact { "" } else { "~" });
    match &from.origin {
        Origin::Table { connection, table } => {
            let d = dialect_of(host, connection);
            let (sql, params) = table_sql(d, table, window);
            let rows = match estimate {
                Some(e) => fmt(
                    e.rows,
                    e.exact,
                    if e.exact { " (count)" } else { " (estimate)" },
                ),
                None => explain(host, connection, &sql, &params)?,
            };
            Ok((Some(inline(&sql, &params)), rows))
        }
        Origin::Sql {
            connection,
            sql,
            params,
        } => {
            let mut params = params.clone();
            let mut unbound = Vec::new();
            for (name, bound) in [
                ("since", window.and_then(|w| w.since.clone())),
                ("until", window.and_then(|w| w.until.clone())),
            ] {
                if params.iter().any(|(k, _)| k == name) || !mentions(sql, name) {
                    continue;
                }
                match bound {
                    Some(v) => params.push((name.to_string(), v)),
                    None => unbound.push(name),
                }
            }
            let mut text = inline(sql, &params);
            for name in &unbound {
                text.push_str(&format!(
                    "\n-- :{name} unbounded: bound to the {} value of the cursor's type",
                    if *name == "since" {
                        "lowest"
                    } else {
                        "highest"
                    }
                ));
            }
            let rows = match estimate {
                Some(e) => fmt(
                    e.rows,
                    e.exact,
                    if e.exact { " (count)" } else { " (estimate)" },
                ),
                None if unbound.is_empty() => explain(host, connection, sql, &params)?,
                None => "unknown (unbounded :since/:until)".into(),
            };
            Ok((Some(text), rows))
        }
        Origin::Csv { path, .. } => {
            let rows = match std::fs::read(path) {
                Ok(bytes) => {
                    let mut lines = memchr::memchr_iter(b'\n', &bytes).count();
                    if !bytes.ends_with(b"\n") && !bytes.is_empty() {
                        lines += 1;
                    }
                    let note = if window.is_some_and(|w| w.since.is_some() || w.until.is_some()) {
                        " (lines in the file, before the window)"
                    } else {
                        " (lines in the file)"
                    };
                    fmt(lines.saturating_sub(1) as u64, false, note)
                }
                Err(e) => format!("unknown ({e})"),
            };
            Ok((None, rows))
        }
        Origin::Other => Ok((
            None,
            estimate
                .map(|e| fmt(e.rows, e.exact, ""))
                .unwrap_or_else(|| "unknown".into()),
        )),
    }
}

fn explain(
    host: &Host,
    connection: &str,
    sql: &str,
    params: &crate::connectors::Params,
) -> Result<String> {
    let d = dialect_of(host, connection);
    let db = host.connection(connection)?;
    Ok(match d.explain_rows(&db, &host.io, sql, params)? {
        Some(n) => format!("~{n} (planner estimate)"),
        None => "unknown".into(),
    })
}

/// `SELECT * FROM t` with the window's conditions, as the table source reads it.
fn table_sql(
    d: Dialect,
    table: &str,
    window: Option<&CursorWindow>,
) -> (String, crate::connectors::Params) {
    let mut sql = format!("SELECT * FROM {}", d.table(table));
    let mut params = Vec::new();
    if let Some(w) = window {
        let col = d.ident(&w.column);
        let mut conds = Vec::new();
        if let Some(s) = &w.since {
            let op = if w.since_inclusive { ">=" } else { ">" };
            conds.push(format!("{col} {op} :since"));
            params.push(("since".to_string(), s.clone()));
        }
        if let Some(u) = &w.until {
            conds.push(format!("{col} < :until"));
            params.push(("until".to_string(), u.clone()));
        }
        if !conds.is_empty() {
            let mut cond = conds.join(" AND ");
            if w.until.is_none() {
                cond = format!("({cond} OR {col} IS NULL)");
            }
            sql.push_str(&format!(" WHERE {cond}"));
        }
    }
    (sql, params)
}

fn mentions(sql: &str, name: &str) -> bool {
    find_param(sql, name, 0).is_some()
}

/// The byte offset of `:name` (not `::name`, not `:names`) at or after `from`.
fn find_param(sql: &str, name: &str, from: usize) -> Option<usize> {
    let needle = format!(":{name}");
    let mut at = from;
    while let Some(i) = sql[at..].find(&needle) {
        let start = at + i;
        let end = start + needle.len();
        let before_ok = start == 0 || sql.as_bytes()[start - 1] != b':';
        let after_ok = sql[end..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if before_ok && after_ok {
            return Some(start);
        }
        at = end;
    }
    None
}

/// The statement with its named parameters written in as literals (for reading only: a
/// run always binds them).
fn inline(sql: &str, params: &crate::connectors::Params) -> String {
    let mut out = sql.trim().to_string();
    for (name, value) in params {
        let lit = literal(value);
        let mut at = 0;
        while let Some(i) = find_param(&out, name, at) {
            out.replace_range(i..i + name.len() + 1, &lit);
            at = i + lit.len();
        }
    }
    out
}

/// The DDL the load would run and the source -> target type of each column.
fn target_changes(
    d: Dialect,
    spec: &LoadSpec,
    mode: LoadMode,
    columns: &Schema,
    existing: Option<&Schema>,
) -> (Vec<String>, Vec<ColumnMap>) {
    let mut ddl = Vec::new();
    let mut map = Vec::new();
    let replace = mode == LoadMode::Full;
    match existing {
        None => ddl.push(d.create_table(&spec.into, columns, &spec.key)),
        Some(_) if replace => ddl.push(format!(
            "{}  -- built beside the table, then swapped in",
            d.create_table(&spec.into, columns, &spec.key)
        )),
        Some(_) => {}
    }
    for c in &columns.columns {
        let have = existing.and_then(|e| e.index_of(&c.name).map(|i| &e.columns[i]));
        let (target, flag) = match have {
            None if existing.is_some() && !replace => {
                ddl.push(d.add_column(&spec.into, &c.name, &c.data_type));
                (c.data_type.to_string(), Some("new column".to_string()))
            }
            None => (c.data_type.to_string(), None),
            Some(t) if replace => {
                let flag = (t.data_type != c.data_type)
                    .then(|| format!("type change: the table's {} is replaced", t.data_type));
                (c.data_type.to_string(), flag)
            }
            Some(t) => (
                t.data_type.to_string(),
                cast_flag(&c.data_type, &t.data_type, spec),
            ),
        };
        map.push(ColumnMap {
            name: c.name.clone(),
            source: c.data_type.to_string(),
            target,
            flag,
        });
    }
    if let Some(e) = existing {
        for t in &e.columns {
            if columns.index_of(&t.name).is_none() {
                map.push(ColumnMap {
                    name: t.name.clone(),
                    source: "-".into(),
                    target: t.data_type.to_string(),
                    flag: Some(if replace {
                        "not in the source: dropped by the swap".into()
                    } else {
                        "not in the source: NULL in new rows".into()
                    }),
                });
            }
        }
    }
    (ddl, map)
}

/// Flags a source type the existing column cannot hold exactly.
fn cast_flag(source: &DataType, target: &DataType, spec: &LoadSpec) -> Option<String> {
    if source.widens_to(target) {
        return None;
    }
    let what = if narrows(source, target) {
        "NARROWING"
    } else {
        "LOSSY"
    };
    Some(if spec.allow_type_change {
        format!("{what} cast (allow_type_change: rows whose values do not fit fail)")
    } else {
        format!("{what} cast: the load refuses it (cast in the source or allow_type_change: true)")
    })
}

/// Same kind of value, smaller range (integer widths, text lengths, numeric digits).
fn narrows(source: &DataType, target: &DataType) -> bool {
    use DataType::*;
    matches!(
        (source, target),
        (Int16 | Int32 | Int64, Int16 | Int32 | Int64)
            | (Float64, Float32)
            | (Text { .. }, Text { .. })
            | (Decimal { .. }, Decimal { .. })
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Value;

    #[test]
    fn parameters_are_written_in_whole_words_only() {
        let params = vec![
            ("since".to_string(), Value::Text("2024-01-02".into())),
            ("n".to_string(), Value::Int64(5)),
        ];
        assert_eq!(
            inline(
                "SELECT x::text FROM t WHERE a >= :since AND b = :n AND c = :nn",
                &params
            ),
            "SELECT x::text FROM t WHERE a >= '2024-01-02' AND b = 5 AND c = :nn"
        );
        assert!(mentions("WHERE a < :until", "until"));
        assert!(!mentions("WHERE a < :untilx", "until"));
    }

    #[test]
    fn casts_are_flagged_by_kind() {
        let t = |s| DataType::parse(s).unwrap();
        let spec = LoadSpec {
            into: "t".into(),
            key: vec![],
            cursor: None,
            mode: None,
            null_cursor: crate::load::NullCursor::Load,
            batch_rows: 10,
            allow_type_change: false,
            limit: None,
        };
        assert!(cast_flag(&t("integer"), &t("bigint"), &spec).is_none());
        assert!(cast_flag(&t("bigint"), &t("integer"), &spec)
            .unwrap()
            .starts_with("NARROWING"));
        assert!(cast_flag(&t("numeric(12,2)"), &t("integer"), &spec)
            .unwrap()
            .starts_with("LOSSY"));
    }
}
