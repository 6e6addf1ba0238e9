//! What each task would do, collected while its closure runs in plan mode: a `load` is
//! described (read-only) instead of run, SQL statements and files are listed. The source
//! statement is the one the source itself builds for the read, in its own dialect.

use std::sync::Mutex;

use crate::connectors::{
    Connection, CursorWindow, LoadTarget, ReadOptions, Source, SourceStatement, TargetColumn,
};
use crate::context::{current_task, LoadType, RunInfo};
use crate::data::{Column, DataType, Schema, Value};
use crate::error::{EtlError, Result};
use crate::load::{resolve_window, LoadMode, LoadRequest, LoadSpec, Transform};
use crate::runmode::Planner;

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
}

impl Planner for Collector {
    fn statement(&self, connection: &str, what: String) {
        if let Some(task) = current_task() {
            self.push(
                &task.task,
                Item::Sql {
                    connection: connection.to_string(),
                    what,
                },
            );
        }
    }

    /// A failure to describe becomes part of the plan, not an error of the task.
    fn load(&self, conn: &Connection, req: LoadRequest<'_>) -> Result<()> {
        let task = req.task.task.clone();
        let table = req.spec.into.clone();
        let item = match describe(conn, req) {
            Ok(view) => Item::Load(Box::new(view)),
            Err(e) => Item::Error(format!("load into {table}: {e}")),
        };
        self.push(&task, item);
        Ok(())
    }
}

fn describe(conn: &Connection, req: LoadRequest<'_>) -> Result<LoadView> {
    let LoadRequest {
        io,
        task,
        source,
        transform,
        spec,
    } = req;
    let spec = &spec;
    let run = &task.run;
    let audit = conn.audit()?;
    let target = conn.target()?;
    let audit_exists = audit.exists(io)?;
    let mut notes = Vec::new();
    // The connection is plan-wrapped: reading the watermark never creates the audit table.
    let resolved = resolve_window(run, io, source, spec, &mut || {
        audit.watermark(io, &run.project, &spec.into)
    })?;
    let window = describe_window(resolved.window.as_ref(), resolved.mode, run, audit_exists);

    // The rows' columns: the source's, or what its `.map` makes of the first rows.
    let columns = match transform.output_schema() {
        Some(schema) => schema,
        None => {
            notes.push(format!(
                "columns after .map, from its first {MAP_SAMPLE_ROWS} rows"
            ));
            mapped_schema(io, source.as_ref(), transform)?
        }
    };

    let read = ReadOptions {
        limit: spec.limit,
        window: resolved.window.clone().filter(|_| source.applies_window()),
        ..ReadOptions::default()
    };
    let statement = source.statement(io, &read)?;
    let rows = match source.estimate_rows(io, &read)? {
        Some(e) => e.to_string(),
        None if statement.as_ref().is_some_and(|s| !s.unbounded.is_empty()) => {
            "unknown (unbounded :since/:until)".into()
        }
        None => "unknown".into(),
    };
    let existing = target.inspect(io, &spec.into)?;
    let (ddl, map) = target_changes(
        target.as_ref(),
        spec,
        resolved.mode,
        &columns,
        existing.as_deref(),
    );
    if let Some(limit) = spec.limit {
        notes.push(format!("reads at most {limit} rows"));
    }
    Ok(LoadView {
        connection: conn.name.clone(),
        table: spec.into.clone(),
        mode: resolved.mode,
        key: spec.key.clone(),
        cursor: spec.cursor.clone(),
        source: source.describe(),
        sql: statement.map(|s| show(&s)),
        window,
        rows,
        exists: existing.is_some(),
        ddl,
        columns: map,
        notes,
    })
}

/// A source statement for reading: its parameters written in as literals (a run always
/// binds them), the open window ends said in a comment.
fn show(s: &SourceStatement) -> String {
    let mut text = inline(&s.sql, &s.params);
    for name in &s.unbounded {
        text.push_str(&format!(
            "\n-- :{name} unbounded: bound to the {} value of the cursor's type",
            if name == "since" { "lowest" } else { "highest" }
        ));
    }
    text
}

fn describe_window(
    window: Option<&CursorWindow>,
    mode: LoadMode,
    run: &RunInfo,
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
            LoadType::Incremental => " (watermark from etl_runs)",
            LoadType::Backfill => " (backfill range)",
            LoadType::Full => "",
        };
        return format!("{}{from}", parts.join(" AND "));
    }
    match (mode, run.load_type) {
        (LoadMode::Full, _) => format!("none: a full load reads every row (cursor {})", w.column),
        (_, LoadType::Incremental) if !audit => {
            "none: no audit table yet, the first run reads every row".into()
        }
        (_, LoadType::Incremental) => {
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
    io: &crate::connectors::Io,
    source: &dyn Source,
    transform: &mut dyn Transform,
) -> Result<Schema> {
    let opts = ReadOptions {
        limit: Some(MAP_SAMPLE_ROWS),
        ..ReadOptions::default()
    };
    let mut stream = source.open(io, &opts)?;
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
    target: &dyn LoadTarget,
    spec: &LoadSpec,
    mode: LoadMode,
    columns: &Schema,
    existing: Option<&[TargetColumn]>,
) -> (Vec<String>, Vec<ColumnMap>) {
    let existing = existing.map(|cols| {
        Schema::new(
            cols.iter()
                .map(|c| Column::new(c.name.clone(), c.data_type.clone()))
                .collect(),
        )
    });
    let existing = existing.as_ref();
    let mut ddl = Vec::new();
    let mut map = Vec::new();
    let replace = mode == LoadMode::Full;
    match existing {
        None => ddl.push(target.create_table_sql(&spec.into, columns, &spec.key)),
        Some(_) if replace => ddl.push(format!(
            "{}  -- built beside the table, then swapped in",
            target.create_table_sql(&spec.into, columns, &spec.key)
        )),
        Some(_) => {}
    }
    for c in &columns.columns {
        let have = existing.and_then(|e| e.index_of(&c.name).map(|i| &e.columns[i]));
        let (target, flag) = match have {
            None if existing.is_some() && !replace => {
                ddl.push(target.add_column_sql(&spec.into, &c.name, &c.data_type));
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
        assert_eq!(inline("WHERE a < :untilx", &params), "WHERE a < :untilx");
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
