//! What each task would do, collected while its closure runs in plan mode: a `load` is
//! described (read-only) instead of run, SQL statements and files are listed. The source
//! statement is the one the source itself builds for the read, in its own dialect.

use std::sync::Mutex;

use super::columns::target_changes;
use super::literal::{literal, show};
use crate::connectors::{Connection, CursorWindow, ReadOptions, Source};
use crate::context::{current_task, LoadType, RunInfo};
use crate::data::Schema;
use crate::error::{EtlError, Result};
use crate::load::{resolve_window, LoadMode, LoadRequest, Transform};
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
    let mut window = describe_window(resolved.window.as_ref(), resolved.mode, run, audit_exists);
    if let (Some(lb), LoadType::Incremental, Some(mark)) =
        (&spec.lookback, run.load_type, &resolved.previous_max)
    {
        window.push_str(&format!(
            "; lookback {} below the watermark {mark} (late rows are merged again)",
            lb.text
        ));
    }

    // The rows' columns: the source's, or what its `.map` makes of the first rows.
    transform.start(&source.schema(io)?);
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
