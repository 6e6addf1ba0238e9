use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::Utc;

use super::{LoadMode, LoadPlan, LoadSpec, NullCursor};
use crate::audit::{error_text, AuditRecord, Status};
use crate::connectors::{CursorWindow, Database, Io, ReadOptions, Source};
use crate::context::{LoadType, TaskCtx};
use crate::data::{Batch, Schema, Value};
use crate::error::{EtlError, Result};
use crate::progress::Progress;

/// Row-level script steps (`.map`, `.filter`) applied between source and target.
pub trait Transform {
    /// Transforms one batch; the first call fixes the output schema.
    fn apply(&mut self, batch: Batch) -> Result<Batch>;
    /// The output columns once known (None before the first batch when it depends on data).
    fn output_schema(&self) -> Option<Schema>;
}

/// The figures a load returns to the script and records in the audit table.
#[derive(Clone, Debug, Default)]
pub struct LoadFigures {
    pub table: String,
    pub mode: Option<LoadMode>,
    pub rows: u64,
    pub inserted: u64,
    pub updated: u64,
    pub null_cursor_rows: u64,
    pub skipped: u64,
    pub min: Option<Value>,
    pub max: Option<Value>,
    pub since: Option<Value>,
    pub audit_id: Option<i64>,
}

/// Streams `source` through `transform` into `db`, writing the audit record: `running`
/// before, `success` inside the load's transaction, `failed` (separately) after a rollback.
pub fn run_load(
    db: &Arc<dyn Database>,
    io: &Io,
    task: &TaskCtx,
    source: &Arc<dyn Source>,
    transform: &mut dyn Transform,
    spec: &LoadSpec,
) -> Result<LoadFigures> {
    let run = &task.run;
    let mut audit = AuditRecord {
        run_id: run.id.clone(),
        project: run.project.clone(),
        task: task.task.clone(),
        status: Status::Running.as_str().into(),
        load_type: run.load_type.code().into(),
        environment: run.env.clone(),
        script_version: run.script_version.clone(),
        target_database: db.name().to_string(),
        target_table: Some(spec.into.clone()),
        start_script_execution_time: Some(Utc::now()),
        ..AuditRecord::default()
    };
    if run.dry_run {
        tracing::info!(task = %task.task, table = %spec.into, "Dry run: would load {} into {}.", source.describe(), spec.into);
        return Ok(LoadFigures {
            table: spec.into.clone(),
            ..LoadFigures::default()
        });
    }
    // Backfill windows running at once take turns per target table (a warehouse may refuse
    // two loads of one project into one table at the same time).
    let _turn = match run.load_type {
        LoadType::Backfill => Some(super::table_turn(db.name(), &spec.into, io)?),
        _ => None,
    };
    // The record exists before anything can fail (even reading the source's header), so
    // every failure of this load is audited against its table.
    let id = db.audit_insert(io, &audit)?;
    audit.id = Some(id);
    task.load_records.fetch_add(1, Ordering::Relaxed);
    let mut figures = LoadFigures {
        table: spec.into.clone(),
        audit_id: Some(id),
        ..LoadFigures::default()
    };

    let resolved = super::resolve_window(run, io, source, spec, &mut || {
        db.audit_watermark(io, &run.project, &spec.into)
    });
    let result = resolved.and_then(
        |super::Resolved {
             mode,
             window,
             previous_max,
         }| {
            audit.previous_max_date = previous_max;
            match &window {
                Some(w) => {
                    audit.start_load_date = w.since.as_ref().and_then(Value::to_text);
                    audit.end_load_date = w.until.as_ref().and_then(Value::to_text);
                }
                // The record still names the run's window, which `etl backfill --resume` reads.
                None if run.load_type == LoadType::Backfill => {
                    audit.start_load_date = run.since.clone();
                    audit.end_load_date = run.until.clone();
                }
                None => {}
            }
            figures.mode = Some(mode);
            figures.since = window.as_ref().and_then(|w| w.since.clone());
            let replace_window = match (mode, run.load_type) {
                (LoadMode::Append, LoadType::Backfill) => window.clone(),
                _ => None,
            };
            stream_into(
                db,
                io,
                source,
                transform,
                spec,
                mode,
                window,
                replace_window,
                &mut figures,
                &mut audit,
            )
        },
    );
    match result {
        Ok(()) => {
            task.add_rows(figures.rows);
            task.targets
                .lock()
                .expect("targets lock")
                .push(spec.into.clone());
            let mode = figures.mode.map(LoadMode::as_str).unwrap_or_default();
            tracing::info!(
                task = %task.task, table = %spec.into, rows = figures.rows, inserted = figures.inserted, updated = figures.updated,
                "Loaded {} rows into {} ({mode}).", figures.rows, spec.into
            );
            if figures.null_cursor_rows > 0 {
                let what = match spec.null_cursor {
                    NullCursor::Load => "loaded",
                    NullCursor::Skip => "skipped",
                    NullCursor::Fail => "failed",
                };
                tracing::warn!(table = %spec.into, "{} rows had a NULL cursor ({what}).", figures.null_cursor_rows);
            }
            Ok(figures)
        }
        Err(e) => {
            task.failed_loads.fetch_add(1, Ordering::Relaxed);
            audit.status = Status::Failed.as_str().into();
            // An interruption surfaces as whatever step it stopped (a script step reports
            // "Script terminated"); the record says why.
            let message = match &e {
                EtlError::Cancelled => e.to_string(),
                _ if io.cancel.is_cancelled() => format!("cancelled: {e}"),
                _ => e.to_string(),
            };
            audit.error_message = Some(error_text(&message));
            audit.end_script_execution_time = Some(Utc::now());
            audit.number_of_records = Some(0);
            if let Err(audit_err) = db.audit_update(io, id, &audit) {
                tracing::error!("Could not record the failure in the audit table: {audit_err}");
            }
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn stream_into(
    db: &Arc<dyn Database>,
    io: &Io,
    source: &Arc<dyn Source>,
    transform: &mut dyn Transform,
    spec: &LoadSpec,
    mode: LoadMode,
    window: Option<CursorWindow>,
    replace_window: Option<CursorWindow>,
    figures: &mut LoadFigures,
    audit: &mut AuditRecord,
) -> Result<()> {
    let pushed_down = source.applies_window();
    let opts = ReadOptions {
        batch_rows: spec.batch_rows,
        limit: spec.limit,
        window: if pushed_down { window.clone() } else { None },
    };
    let mut stream = source.open(io, &opts)?;
    let source_schema = stream.schema.clone();
    let cursor_index = spec
        .cursor
        .as_deref()
        .and_then(|c| source_schema.index_of(c));
    let filter_window = if pushed_down { None } else { window };
    let mut progress = Progress::new(&spec.into);
    let mut session = None;

    loop {
        if io.cancel.is_cancelled() {
            return Err(EtlError::Cancelled);
        }
        let Some(batch) = stream.next_blocking() else {
            break;
        };
        let batch = batch?;
        let batch = cursor_pass(batch, cursor_index, filter_window.as_ref(), spec, figures)?;
        let batch = transform.apply(batch)?;
        if session.is_none() {
            // With a .map the output columns are known only once a row came through it.
            let Some(schema) = transform.output_schema() else {
                continue;
            };
            session = Some(db.begin_load(io, &plan(spec, mode, schema, replace_window.clone()))?);
        }
        let s = session.as_mut().expect("session started");
        if batch.is_empty() {
            continue;
        }
        let batch = coerce(batch, s.columns(), &spec.into)?;
        s.write(&batch)?;
        figures.rows += batch.len() as u64;
        progress.update(figures.rows);
    }
    let session = match session {
        Some(s) => Some(s),
        None => match transform.output_schema() {
            Some(schema) => Some(db.begin_load(io, &plan(spec, mode, schema, replace_window))?),
            // No row reached a .map: nothing tells the target's columns, and nothing changes.
            None => None,
        },
    };
    progress.finish(figures.rows);
    audit.status = Status::Success.as_str().into();
    audit.number_of_records = Some(figures.rows as i64);
    audit.data_min_date = figures.min.as_ref().and_then(Value::to_text);
    audit.data_max_date = figures
        .max
        .as_ref()
        .and_then(Value::to_text)
        .or_else(|| audit.previous_max_date.clone());
    audit.end_script_execution_time = Some(Utc::now());
    match session {
        Some(session) => {
            let counts = session.commit(io, audit)?;
            figures.inserted = counts.inserted;
            figures.updated = counts.updated;
        }
        None => db.audit_update(io, audit.id.expect("audit record inserted"), audit)?,
    }
    Ok(())
}

fn plan(
    spec: &LoadSpec,
    mode: LoadMode,
    schema: Schema,
    replace_window: Option<CursorWindow>,
) -> LoadPlan {
    LoadPlan {
        table: spec.into.clone(),
        schema,
        key: spec.key.clone(),
        mode,
        replace_window,
        allow_type_change: spec.allow_type_change,
    }
}

/// Applies the window for sources that cannot, handles NULL cursors and tracks min/max.
fn cursor_pass(
    batch: Batch,
    cursor: Option<usize>,
    window: Option<&CursorWindow>,
    spec: &LoadSpec,
    figures: &mut LoadFigures,
) -> Result<Batch> {
    let Some(ci) = cursor else { return Ok(batch) };
    let mut keep = Vec::with_capacity(batch.len());
    let mut dropped = false;
    for (i, row) in batch.rows().enumerate() {
        let v = &row[ci];
        if v.is_null() {
            figures.null_cursor_rows += 1;
            // A NULL cursor lies in no backfill window: counted, never loaded there.
            let bounded = window.is_some_and(|w| w.until.is_some());
            match if bounded { NullCursor::Skip } else { spec.null_cursor } {
                NullCursor::Load => keep.push(true),
                NullCursor::Skip => {
                    keep.push(false);
                    dropped = true;
                    figures.skipped += 1;
                }
                NullCursor::Fail => {
                    return Err(EtlError::Load {
                        table: spec.into.clone(),
                        row: Some(batch.first_row + i as u64),
                        column: spec.cursor.clone(),
                        message: "the cursor is NULL (null_cursor: \"fail\"); use \"load\" or \"skip\" to accept such rows".into(),
                    })
                }
            }
            continue;
        }
        if window.is_some_and(|w| !w.contains(v)) {
            keep.push(false);
            dropped = true;
            continue;
        }
        keep.push(true);
        if figures
            .min
            .as_ref()
            .is_none_or(|m| v.compare(m) == Some(std::cmp::Ordering::Less))
        {
            figures.min = Some(v.clone());
        }
        if figures
            .max
            .as_ref()
            .is_none_or(|m| v.compare(m) == Some(std::cmp::Ordering::Greater))
        {
            figures.max = Some(v.clone());
        }
    }
    if !dropped {
        return Ok(batch);
    }
    let width = batch.width();
    let first = batch.first_row;
    let mut out = Batch::new(width, first, keep.len());
    let values = batch.into_values();
    let mut it = values.into_iter();
    for k in keep {
        let row = it.by_ref().take(width);
        if k {
            out.push_row(row);
        } else {
            row.for_each(drop);
        }
    }
    Ok(out)
}

/// Converts each value to its target column's type, refusing lossy casts with the row,
/// column and value in the message.
fn coerce(batch: Batch, columns: &Schema, table: &str) -> Result<Batch> {
    let width = batch.width();
    if width != columns.len() {
        return Err(EtlError::load(
            table,
            format!(
                "rows have {width} columns but the load expects {}",
                columns.len()
            ),
        ));
    }
    let first = batch.first_row;
    let mut values = batch.into_values();
    for (i, v) in values.iter_mut().enumerate() {
        let col = &columns.columns[i % width];
        if v.is_null()
            || v.data_type().as_ref() == Some(&col.data_type)
                && !matches!(
                    col.data_type,
                    crate::data::DataType::Decimal { .. }
                        | crate::data::DataType::Text { max_len: Some(_) }
                )
        {
            continue;
        }
        let taken = std::mem::replace(v, Value::Null);
        *v = taken
            .coerce(&col.data_type)
            .map_err(|message| EtlError::Load {
                table: table.to_string(),
                row: Some(first + (i / width) as u64),
                column: Some(col.name.clone()),
                message,
            })?;
    }
    Ok(Batch::from_values(width, first, values))
}
