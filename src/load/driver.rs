//! The life cycle of one load, the same for every target: the audit record is written
//! `running` before anything can fail, the rows stream from the source into the target's
//! transaction, checks run before commit, and the record's `success` commits with the rows.
//! A failure rolls the target back and records `failed` separately.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{SubsecRound, Utc};

use super::checks::{
    run_checks, CheckKind, CheckResult, CheckStatus, CheckTarget, Distinct, KeyBits, Rowset,
};
use super::rejects::Rejects;
use super::rows::{check_keys, coerce, cursor_pass};
use super::write::{self, Write};
use super::{LoadMode, LoadPlan, LoadSpec, NullCursor, Resolved};
use crate::audit::{error_text, AuditRecord, Status};
use crate::audit_checks::CheckRecord;
use crate::connectors::{
    AuditStore, Connection, CursorWindow, Io, LoadIdentity, LoadTarget, Params, ReadOptions, Rows,
    Source, TargetTxn,
};
use crate::context::{LoadType, RunInfo, TaskCtx};
use crate::data::{Batch, Schema, Value};
use crate::error::{EtlError, Result};
use crate::progress::Progress;

/// Row-level script steps (`.map`, `.filter`) applied between source and target.
pub trait Transform {
    /// Learns the source's columns before the first batch (the load reads them only once its
    /// audit record exists, so a source that fails there is recorded against its table).
    fn start(&mut self, input: &Schema);
    /// Transforms one batch; the first call fixes the output schema.
    fn apply(&mut self, batch: Batch) -> Result<Batch>;
    /// The output columns once known (None before the first batch when it depends on data).
    fn output_schema(&self) -> Option<Schema>;
    /// True when every row comes out as it went in (no step at all).
    fn is_identity(&self) -> bool {
        false
    }
    /// Hands back an output batch once it is written, so its buffer can hold the next one
    /// (a batch's buffer is large enough to be mapped fresh from the system each time).
    fn recycle(&mut self, _written: Batch) {}
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
    /// Rows set aside (`max_errors`, `max_error_ratio`), and the file that lists them.
    pub rejected: u64,
    pub rejects_file: Option<std::path::PathBuf>,
    /// Rows whose lookups found no dimension member (they got the `unknown` key).
    pub unknown: u64,
}

/// One `load()` call: where rows come from, how they change on the way, what the script asked.
pub struct LoadRequest<'a> {
    pub io: &'a Io,
    pub task: &'a TaskCtx,
    pub source: &'a Arc<dyn Source>,
    pub transform: &'a mut dyn Transform,
    pub spec: LoadSpec,
}

/// Streams the request's source through its transform into `conn`, writing the audit record:
/// `running` before, `success` inside the load's transaction, `failed` (separately) after a
/// rollback.
pub fn run_load(conn: &Connection, req: LoadRequest<'_>) -> Result<LoadFigures> {
    let target = conn.target()?;
    let audit_store = conn.audit()?;
    let LoadRequest {
        io,
        task,
        source,
        transform,
        spec,
    } = req;
    let spec = &spec;
    let run = &task.run;
    let mut audit = AuditRecord {
        run_id: run.id.clone(),
        project: run.project.clone(),
        task: task.task.clone(),
        status: Status::Running.as_str().into(),
        load_type: run.load_type.code().into(),
        environment: run.env.clone(),
        script_version: run.script_version.clone(),
        target_database: conn.name.clone(),
        target_table: Some(spec.into.clone()),
        start_script_execution_time: Some(Utc::now()),
        ..AuditRecord::default()
    };
    // Backfill windows running at once take turns per target table.
    let _turn = match run.load_type {
        LoadType::Backfill => Some(super::table_turn(&conn.name, &spec.into, io)?),
        _ => None,
    };
    // The record exists before anything can fail (even reading the source's header), so
    // every failure of this load is audited against its table.
    let id = audit_store.insert(io, &audit)?;
    audit.id = Some(id);
    task.load_records.fetch_add(1, Ordering::Relaxed);
    let mut load = Load {
        target: target.as_ref(),
        audit_store: audit_store.as_ref(),
        io,
        spec,
        identity: LoadIdentity {
            project: run.project.clone(),
            run_id: run.id.clone(),
            run_started: run.started_at,
            table: spec.into.clone(),
        },
        figures: LoadFigures {
            table: spec.into.clone(),
            audit_id: Some(id),
            ..LoadFigures::default()
        },
        audit,
        checks: Vec::new(),
        complete: true,
    };
    let resolved = super::resolve_window(run, io, source, spec, &mut || {
        audit_store.watermark(io, &run.project, &spec.into)
    });
    // A panic inside the load (a connector, a script step) rolls its transaction back as the
    // stack unwinds; caught here, it is recorded like any failure instead of leaving the
    // record `running`.
    let result = resolved.and_then(|resolved| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            load.stream(run, source, transform, resolved)
        }))
        .unwrap_or_else(|payload| {
            Err(EtlError::Other(format!(
                "the load panicked: {}",
                crate::error::panic_message(payload.as_ref())
            )))
        })
    });
    let Load {
        figures,
        mut audit,
        checks,
        ..
    } = load;
    // Written whatever became of the load (even a cancelled one): a failed check's record
    // outlives its rollback.
    let record_io = Io {
        handle: io.handle.clone(),
        cancel: Default::default(),
    };
    record_checks(audit_store.as_ref(), &record_io, task, &spec.into, &checks);
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
            // Written even when the load was cancelled (Ctrl-C, a task's timeout): the
            // cancellation stopped the load, not the record of how it ended.
            if let Err(audit_err) = audit_store.update(&record_io, id, &audit) {
                tracing::error!("Could not record the failure in the audit table: {audit_err}");
            }
            Err(e)
        }
    }
}

/// A load in progress.
struct Load<'a> {
    target: &'a dyn LoadTarget,
    audit_store: &'a dyn AuditStore,
    io: &'a Io,
    spec: &'a LoadSpec,
    identity: LoadIdentity,
    figures: LoadFigures,
    audit: AuditRecord,
    /// What the load's checks found (recorded once the load ended).
    checks: Vec<CheckResult>,
    /// The load reads every row of its source (no watermark, no backfill window).
    complete: bool,
}

/// Checks run inside a load's transaction.
struct InTxn<'a> {
    txn: &'a mut dyn TargetTxn,
    target: &'a dyn LoadTarget,
}

impl CheckTarget for InTxn<'_> {
    fn query(&mut self, sql: &str, params: &Params, max_rows: usize) -> Result<Rows> {
        self.txn.query(sql, params, max_rows)
    }

    fn quoted_table(&self, name: &str) -> String {
        self.target.quote_table(name)
    }

    fn as_number(&self, expr: &str) -> String {
        self.target.as_number(expr)
    }

    fn missing_keys_sql(&self, table: &str, column: &str) -> Option<String> {
        self.target.missing_keys_sql(
            &self.target.quote_table(table),
            &super::checks::sql::ident(column),
        )
    }
}

/// The target's open transaction and where its rows go.
struct Session {
    txn: Box<dyn TargetTxn>,
    write: Write,
    /// Aggregates read this table: the load records the days it touches.
    watch: Option<super::touched::Watch>,
    /// The integer columns of one-column `unique` and of `relationships` checks, whose values
    /// are noted as the rows are written.
    distinct: Vec<Distinct>,
}

impl Session {
    /// Notes the written rows' values of the columns `distinct` tracks.
    fn see(&mut self, batch: &Batch) {
        let noting: Vec<usize> = (0..self.distinct.len())
            .filter(|&k| self.distinct[k].noting())
            .collect();
        if noting.is_empty() {
            return;
        }
        if batch.encoded.is_some() {
            // One pass over the encoded rows for every column noted.
            let columns: Vec<usize> = noting.iter().map(|&k| self.distinct[k].column).collect();
            let distinct = &mut self.distinct;
            let read = self.txn.encoded_integers(batch, &columns, &mut |i, v| {
                distinct[noting[i]].see(v);
            });
            if !read {
                // Rows this target cannot read back leave the checks to their queries.
                for &k in &noting {
                    self.distinct[k].see_unknown();
                }
            }
            return;
        }
        for &k in &noting {
            let d = &mut self.distinct[k];
            for row in batch.rows() {
                d.see(row.get(d.column).and_then(Value::as_i64));
            }
        }
    }

    /// The columns the written rows proved unique.
    fn proven_unique(&self) -> Vec<Vec<String>> {
        self.distinct
            .iter()
            .filter(|d| d.unique())
            .map(|d| vec![d.name.clone()])
            .collect()
    }

    /// The keys the written rows brought, per `relationships` column.
    fn keys(&self) -> Vec<KeyBits> {
        self.distinct
            .iter()
            .filter_map(Distinct::key_bits)
            .collect()
    }
}

impl Load<'_> {
    fn stream(
        &mut self,
        run: &RunInfo,
        source: &Arc<dyn Source>,
        transform: &mut dyn Transform,
        resolved: Resolved,
    ) -> Result<()> {
        let Resolved {
            mode,
            window,
            previous_max,
        } = resolved;
        let (spec, io) = (self.spec, self.io);
        self.audit.previous_max_date = previous_max;
        // A file source loaded file by file reads only the files not loaded before.
        let (picked, source) = match source.by_file() {
            None => (None, source),
            Some(by) if by.selection.incremental && mode == LoadMode::Full => {
                return Err(EtlError::load(
                    &spec.into,
                    "incremental: \"files\" reads only the files not loaded before, and a full load would replace the table with them; \
                     give the load mode: \"append\", or mode: \"merge\" with a key",
                ))
            }
            Some(by) => match super::files::pick(by, self.audit_store, io, run, &spec.into)? {
                Some(p) => (Some((p.stamps, p.create_table)), &p.source.clone()),
                None => return self.nothing_new(mode),
            },
        };
        match &window {
            Some(w) => {
                self.audit.start_load_date = w.since.as_ref().and_then(Value::to_text);
                self.audit.end_load_date = w.until.as_ref().and_then(Value::to_text);
            }
            // The record still names the run's window, which `etl backfill --resume` reads.
            None if run.load_type == LoadType::Backfill => {
                self.audit.start_load_date = run.since.clone();
                self.audit.end_load_date = run.until.clone();
            }
            None => {}
        }
        self.figures.mode = Some(mode);
        self.figures.since = window.as_ref().and_then(|w| w.since.clone());
        self.complete = window
            .as_ref()
            .is_none_or(|w| w.since.is_none() && w.until.is_none());
        let replace_window = match (mode, run.load_type) {
            // A backfill window without a key replaces exactly its range.
            (LoadMode::Append, LoadType::Backfill) => window.clone(),
            _ => None,
        };
        // Rows a reloaded backfill window deletes are not listed anywhere the aggregates see.
        let deletes_unlisted = replace_window.is_some();
        let pushed_down = source.applies_window();
        let mut session: Option<Session> = None;
        // Where nothing between source and target looks at a row's values, a source that
        // can encode rows as the target writes them hands them over undecoded: the target
        // is prepared first to learn its column types.
        let mut encoded = None;
        // The cursor's values come with the encoded rows (for the watermark); a window the
        // source cannot apply, or NULL cursors to skip, would need the rows themselves.
        let open_window = window
            .as_ref()
            .is_none_or(|w| w.since.is_none() && w.until.is_none());
        let cursor_ok = spec.cursor.is_none()
            || ((pushed_down || open_window) && spec.null_cursor != NullCursor::Skip);
        if source.encodes() && transform.is_identity() && cursor_ok && !spec.rejects_allowed() {
            let schema = source.schema(io)?;
            transform.start(&schema);
            let s = self.begin(mode, schema.clone(), replace_window.clone())?;
            encoded = s.txn.encoded_input().filter(|_| {
                schema.len() == s.write.types.len()
                    && schema
                        .columns
                        .iter()
                        .zip(&s.write.types.columns)
                        .all(|(a, b)| a.data_type == b.data_type)
            });
            if let Some(e) = encoded.as_mut() {
                e.not_null = s.write.key_columns.iter().map(|(i, _)| *i).collect();
                e.cursor = spec.cursor.as_deref().and_then(|c| schema.index_of(c));
            }
            session = Some(s);
        }
        let opts = ReadOptions {
            keep_going: spec.rejects_allowed(),
            batch_rows: spec.batch_rows,
            limit: spec.limit,
            window: if pushed_down { window.clone() } else { None },
            encoded,
        };
        let mut stream = source.open(io, &opts)?;
        transform.start(&stream.schema);
        let cursor_index = spec
            .cursor
            .as_deref()
            .and_then(|c| stream.schema.index_of(c));
        let filter_window = if pushed_down { None } else { window };
        let mut progress = Progress::new(&spec.into);
        let mut rejects = Rejects::new(spec, run, &source.describe());

        loop {
            if io.cancel.is_cancelled() {
                return Err(EtlError::Cancelled);
            }
            let Some(batch) = stream.next_blocking() else {
                break;
            };
            let mut batch = batch?;
            if let Some(e) = &batch.encoded {
                let s = session.as_mut().expect("an encoded read has its session");
                if let Some(r) = &e.refused {
                    let row = batch.first_row + r.row as u64;
                    let column = s.write.columns().get(r.column).map_or("?", String::as_str);
                    return Err(match &r.reason {
                        None => super::rows::null_key(&spec.into, row, column),
                        Some(message) => EtlError::Load {
                            table: spec.into.clone(),
                            row: Some(row),
                            column: Some(column.to_string()),
                            message: message.clone(),
                        },
                    });
                }
                if let Some(seen) = &e.cursor {
                    super::rows::cursor_seen(seen, batch.first_row, spec, &mut self.figures)?;
                }
                if self.figures.rows == 0 {
                    tracing::debug!(table = %spec.into, "Rows arrive encoded as the target writes them (no values built on the way).");
                }
                s.txn.write_encoded(&batch)?;
                s.see(&batch);
                self.figures.rows += batch.len() as u64;
                progress.update(self.figures.rows);
                continue;
            }
            if let Some(r) = rejects.as_mut() {
                for reject in std::mem::take(&mut batch.rejects) {
                    r.add(reject)?;
                }
            }
            let batch = cursor_pass(
                batch,
                cursor_index,
                filter_window.as_ref(),
                spec,
                &mut self.figures,
            )?;
            let batch = transform.apply(batch)?;
            if session.is_none() {
                // With a .map the output columns are known only once a row came through it.
                let Some(schema) = transform.output_schema() else {
                    continue;
                };
                session = Some(self.begin(mode, schema, replace_window.clone())?);
            }
            let s = session.as_mut().expect("session started");
            if batch.is_empty() {
                continue;
            }
            let batch = coerce(batch, &s.write.types, &spec.into, rejects.as_mut())?;
            let batch = check_keys(batch, &s.write.key_columns, &spec.into, rejects.as_mut())?;
            s.txn.write(&batch)?;
            s.see(&batch);
            self.figures.rows += batch.len() as u64;
            progress.update(self.figures.rows);
            transform.recycle(batch);
        }
        let session = match session {
            Some(s) => Some(s),
            None => match transform.output_schema() {
                Some(schema) => Some(self.begin(mode, schema, replace_window)?),
                // No row reached a .map: nothing tells the target's columns, and nothing changes.
                None => None,
            },
        };
        progress.finish(self.figures.rows);
        if let Some(r) = rejects.as_mut() {
            r.finish(self.figures.rows)?;
            if r.count > 0 {
                tracing::warn!(table = %spec.into, rejected = r.count, "{} rows were rejected; they are listed in {}.", r.count, r.path.display());
                self.audit.error_message = Some(format!(
                    "{} rows rejected (listed in {})",
                    r.count,
                    r.path.display()
                ));
                self.figures.rejected = r.count;
                self.figures.rejects_file = Some(r.path.clone());
            }
        }
        let audit = &mut self.audit;
        audit.status = Status::Success.as_str().into();
        audit.number_of_records = Some(self.figures.rows as i64);
        audit.data_min_date = self.figures.min.as_ref().and_then(Value::to_text);
        // The watermark never moves back: a lookback re-reads rows below it, and their
        // maximum may be lower than the watermark it started from.
        let previous = audit.previous_max_date.as_deref();
        let max = self.figures.max.as_ref().filter(|m| {
            let prev = previous
                .zip(m.data_type())
                .and_then(|(p, t)| Value::parse(p, &t).ok());
            prev.is_none_or(|p| m.compare(&p) != Some(std::cmp::Ordering::Less))
        });
        audit.data_max_date = max
            .and_then(Value::to_text)
            .or_else(|| audit.previous_max_date.clone());
        audit.end_script_execution_time = Some(Utc::now());
        let id = audit.id.expect("audit record inserted");
        match session {
            Some(session) => {
                let proven = session.proven_unique();
                let keys = session.keys();
                let Session {
                    mut txn,
                    write,
                    watch,
                    ..
                } = session;
                let written = txn.end_write()?;
                if !spec.lookups.is_empty() {
                    let unknown =
                        super::lookup::resolve(txn.as_mut(), self.target, &write, &spec.lookups)?;
                    self.figures.unknown = unknown.iter().sum();
                    let said: Vec<String> = spec
                        .lookups
                        .iter()
                        .zip(&unknown)
                        .filter(|(_, n)| **n > 0)
                        .map(|(l, n)| {
                            format!(
                                "{n} rows with no member in {} ({} = {})",
                                l.dim, l.take, l.unknown
                            )
                        })
                        .collect();
                    if !said.is_empty() {
                        let said = said.join("; ");
                        self.audit.error_message = Some(match self.audit.error_message.take() {
                            Some(m) => format!("{m}; {said}"),
                            None => said,
                        });
                    }
                }
                self.check(txn.as_mut(), &write, proven, keys)?;
                if let Some(watch) = &watch {
                    super::touched::capture(
                        txn.as_mut(),
                        self.target,
                        watch,
                        &write,
                        &self.identity.run_id,
                        &spec.into,
                        deletes_unlisted,
                    )?;
                }
                let counts = write::put(txn.as_mut(), self.target, &write, written)?;
                let (sql, params) = self.audit_store.update_statement(id, &self.audit);
                txn.execute(&sql, &params)?;
                if let Some((stamps, create_table)) = &picked {
                    self.record_files(txn.as_mut(), stamps, *create_table)?;
                }
                txn.commit()?;
                self.figures.inserted = counts.inserted;
                self.figures.updated = counts.updated;
            }
            None => self.audit_store.update(io, id, &self.audit)?,
        }
        Ok(())
    }

    /// Ends a file-by-file load that found no new file: a successful record of no rows, the
    /// target untouched.
    fn nothing_new(&mut self, mode: LoadMode) -> Result<()> {
        self.figures.mode = Some(mode);
        let audit = &mut self.audit;
        audit.status = Status::Success.as_str().into();
        audit.number_of_records = Some(0);
        audit.data_max_date = audit.previous_max_date.clone();
        audit.end_script_execution_time = Some(Utc::now());
        tracing::info!(table = %self.spec.into, "No new files to load into {}.", self.spec.into);
        let id = audit.id.expect("audit record inserted");
        self.audit_store.update(self.io, id, &self.audit)
    }

    /// Records the files read in `etl_files`, in the load's transaction.
    fn record_files(
        &self,
        txn: &mut dyn TargetTxn,
        stamps: &[crate::audit_files::FileStamp],
        create_table: bool,
    ) -> Result<()> {
        let Some(table) = self.audit_store.files_table() else {
            return Ok(());
        };
        if create_table {
            for sql in self.audit_store.files_create_statements() {
                txn.execute(&sql, &Params::new())?;
            }
        }
        let statements = crate::audit_files::record_statements(
            &table,
            &self.identity.project,
            &self.spec.into,
            &self.identity.run_id,
            stamps,
        );
        for (sql, params) in statements {
            txn.execute(&sql, &params)?;
        }
        Ok(())
    }

    /// The load's checks, inside its transaction, over its new rows (the replacement table,
    /// the stage), before they are put in place. An error-level failure fails the load, which
    /// rolls it all back; the results are recorded either way, after the load ends.
    fn check(
        &mut self,
        txn: &mut dyn TargetTxn,
        write: &Write,
        mut proven: Vec<Vec<String>>,
        keys: Vec<KeyBits>,
    ) -> Result<()> {
        let spec = self.spec;
        if spec.checks.is_empty() {
            return Ok(());
        }
        let previous_rows = if spec.checks.iter().any(|c| {
            matches!(
                c.kind,
                CheckKind::RowCount {
                    max_change: Some(_),
                    ..
                }
            )
        }) {
            let (sql, params) = self
                .audit_store
                .last_rows_statement(&self.identity.project, &spec.into);
            txn.query(&sql, &params, 1)?
                .rows
                .first()
                .and_then(|r| r.first())
                .and_then(Value::as_i64)
        } else {
            None
        };
        let rows = self.target.quote_id(&write.into);
        // Planned on the rows' real statistics where that matters (a new or staged table has
        // none yet, and ANALYZE of a million rows costs a quarter of a second).
        let analyze = if super::checks::needs_statistics(&spec.checks) {
            self.target.analyze_sql(&rows)
        } else {
            None
        };
        for sql in analyze
            .into_iter()
            .chain(self.target.set_based_sql().iter().map(|s| s.to_string()))
        {
            txn.execute(&sql, &Vec::new())?;
        }
        // A full load's key, built now rather than at the swap, proves `unique` on it.
        let key = write.key();
        let keyed = write.mode() == LoadMode::Full
            && spec.checks.iter().any(|c| c.kind.is_unique_on(key))
            && txn.key_replacement(&write.into, key)?;
        if keyed {
            proven.push(key.to_vec());
        }
        let set = Rowset {
            table: &spec.into,
            rows: &rows,
            key,
            previous_rows,
            keys,
            unique: proven,
        };
        let mut on = InTxn {
            txn,
            target: self.target,
        };
        let checked = run_checks(&mut on, &set, &spec.checks, spec.on_check_fail)?;
        for r in checked
            .results
            .iter()
            .filter(|r| r.status == CheckStatus::Failed)
        {
            if !r.is_error() {
                tracing::warn!(table = %spec.into, check = %r.check, "Check {}.", r.describe());
            }
        }
        let errors = checked.errors();
        self.checks = checked.results;
        match errors {
            Some(failed) => Err(EtlError::load(
                &spec.into,
                format!("checks failed, so nothing was loaded: {failed}"),
            )),
            None => Ok(()),
        }
    }

    /// Opens the target's transaction (holding its load lock), closes the records of runs that
    /// died loading this table (committed with this load), and prepares the table for the mode.
    fn begin(
        &self,
        mode: LoadMode,
        schema: Schema,
        replace_window: Option<CursorWindow>,
    ) -> Result<Session> {
        let mut txn = self.target.begin(self.io, &self.identity)?;
        let asked = self.spec.parallel;
        if mode == LoadMode::Full {
            let streams = asked.unwrap_or(1);
            let used = if streams > 1 {
                txn.parallel_streams(streams)
            } else {
                1
            };
            if streams > 1 && used == 1 {
                tracing::info!(table = %self.spec.into, "parallel: {streams} asked; this target writes a load on one connection.");
            }
        } else if asked.is_some_and(|n| n > 1) {
            tracing::info!(table = %self.spec.into, "parallel applies to full loads only; this {} load writes on one connection.", mode.as_str());
        }
        let (sql, params) = self.audit_store.close_stale_statement(&self.identity);
        let closed = txn.execute(&sql, &params)?;
        if closed > 0 {
            tracing::warn!(table = %self.spec.into, records = closed, "Marked {closed} audit record(s) of runs that stopped without finishing as failed.");
        }
        let watch =
            super::touched::watched(txn.as_mut(), self.target, self.audit_store, &self.spec.into)?;
        let filled = self.spec.lookups.len();
        let schema = super::lookup::with_filled(schema, &self.spec.lookups, &self.spec.into)?;
        let plan = LoadPlan {
            filled,
            table: self.spec.into.clone(),
            schema,
            key: self.spec.key.clone(),
            mode,
            replace_window,
            allow_type_change: self.spec.allow_type_change,
            // A watched append is staged too, so its new rows' days can be read.
            checked: !self.spec.checks.is_empty() || filled > 0 || watch.is_some(),
            scd2: self.spec.scd2.clone().map(|spec| super::scd::Scd2Plan {
                spec,
                now: Value::TimestampTz(self.identity.run_started.trunc_subsecs(6)),
                complete: self.complete,
            }),
            soft_delete: self.spec.soft_delete.clone().map(|column| {
                super::soft_delete::SoftDelete {
                    column,
                    now: Value::TimestampTz(self.identity.run_started.trunc_subsecs(6)),
                    complete: self.complete && self.spec.limit.is_none(),
                }
            }),
        };
        let write = write::prepare(txn.as_mut(), self.target, &plan)?;
        let filled: Vec<String> = self.spec.lookups.iter().map(|l| l.take.clone()).collect();
        let distinct = Distinct::for_checks(&self.spec.checks, &write.types, &filled);
        Ok(Session {
            txn,
            write,
            watch,
            distinct,
        })
    }
}

/// Records check results in `etl_checks` and in the task's summary; a failure to record is a
/// warning, never the load's failure.
pub(crate) fn record_checks(
    store: &dyn AuditStore,
    io: &Io,
    task: &TaskCtx,
    table: &str,
    results: &[CheckResult],
) {
    if results.is_empty() {
        return;
    }
    let now = Utc::now();
    let records: Vec<CheckRecord> = results
        .iter()
        .map(|r| CheckRecord {
            run_id: task.run.id.clone(),
            project: task.run.project.clone(),
            task: task.task.clone(),
            target_table: table.to_string(),
            check_name: r.check.clone(),
            severity: r.severity.as_str().into(),
            status: r.status.as_str().into(),
            failing_rows: r.failing.min(i64::MAX as u64) as i64,
            samples: (!r.samples.is_empty()).then(|| r.samples.join("\n")),
            detail: r.detail.clone(),
            checked_at: Some(now),
        })
        .collect();
    if let Err(e) = store.record_checks(io, &records) {
        tracing::warn!(
            table,
            "Could not record the check results in etl_checks: {e}"
        );
    }
    task.checks.lock().expect("checks lock").extend(records);
}
