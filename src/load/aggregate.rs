//! `dw.aggregate(#{..})`: an aggregate table rebuilt only in the windows (days or months) this
//! run's loads touched (`touched.rs` says how loads record them), in one transaction with its
//! audit record: for each run of adjacent touched windows, delete the aggregate's rows there
//! and insert what the SQL returns for `:window_start <= window < :window_end`.
//!
//! Everything is rebuilt (one window from the lowest to the highest date) on `--load-type F`,
//! on the first run, when the tables it reads or their columns changed, and when a load
//! replaced a table it reads. The audit record's `data_max_date` holds the last `etl_touched`
//! id consumed: the next run starts after it, so a failed run's touches are not lost.

use chrono::{Datelike, Months, NaiveDate};

use super::touched::{beside_audit, TOUCHED, WATCH};
use crate::audit::{error_text, AuditRecord, Status};
use crate::connectors::dialect::Dialect;
use crate::connectors::{ColumnDef, Connection, Io, LoadIdentity, Params, TargetTxn};
use crate::context::{LoadType, TaskCtx};
use crate::data::Value;
use crate::error::{EtlError, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grain {
    Day,
    Month,
}

impl Grain {
    pub fn parse(s: &str) -> std::result::Result<Grain, String> {
        match s {
            "day" => Ok(Grain::Day),
            "month" => Ok(Grain::Month),
            _ => Err(format!("grain '{s}' is not one of day, month")),
        }
    }

    /// The window a day lies in.
    fn window(self, day: NaiveDate) -> (NaiveDate, NaiveDate) {
        match self {
            Grain::Day => (day, day.succ_opt().unwrap_or(NaiveDate::MAX)),
            Grain::Month => {
                let start = day.with_day(1).expect("the first of a month");
                (start, start + Months::new(1))
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct AggregateSpec {
    pub into: String,
    /// The SQL file as the script named it (messages) and its text (per dialect).
    pub sql_file: String,
    pub sql: String,
    pub key: Vec<String>,
    pub window_column: String,
    pub grain: Grain,
    /// The tables the SQL reads, as the loads name them, and the column that puts their rows
    /// in a window.
    pub reads: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default)]
pub struct AggregateFigures {
    /// The windows rebuilt, merged where adjacent: `[start, end)`.
    pub windows: Vec<(NaiveDate, NaiveDate)>,
    pub full: bool,
    pub deleted: u64,
    pub rows: u64,
    /// What was done and why, as the audit record says it.
    pub note: String,
    pub audit_id: Option<i64>,
}

/// The widest window: a full rebuild binds these.
const LOWEST: NaiveDate = NaiveDate::from_ymd_opt(1, 1, 1).expect("a date");
const HIGHEST: NaiveDate = NaiveDate::from_ymd_opt(9999, 12, 31).expect("a date");

/// Rebuilds the touched windows of `spec.into` on `conn`, with its audit record.
pub fn run_aggregate(
    conn: &Connection,
    io: &Io,
    task: &TaskCtx,
    spec: &AggregateSpec,
) -> Result<AggregateFigures> {
    match conn.dialect() {
        Some(Dialect::Postgres | Dialect::Sqlite) => {}
        _ => {
            return Err(EtlError::load(
                &spec.into,
                format!(
                "aggregate(): connection '{}' is not a PostgreSQL or SQLite warehouse; aggregates \
                     rebuild windows with portable SQL on those two only",
                conn.name
            ),
            ))
        }
    }
    let audit_store = conn.audit()?;
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
        start_script_execution_time: Some(chrono::Utc::now()),
        ..AuditRecord::default()
    };
    let id = audit_store.insert(io, &audit)?;
    audit.id = Some(id);
    task.load_records
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match rebuild(conn, io, task, spec, &mut audit) {
        Ok(mut figures) => {
            figures.audit_id = Some(id);
            task.add_rows(figures.rows);
            task.targets
                .lock()
                .expect("targets lock")
                .push(spec.into.clone());
            tracing::info!(task = %task.task, table = %spec.into, rows = figures.rows, "{}", figures.note);
            Ok(figures)
        }
        Err(e) => {
            task.failed_loads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            audit.status = Status::Failed.as_str().into();
            audit.error_message = Some(error_text(&e.to_string()));
            audit.end_script_execution_time = Some(chrono::Utc::now());
            audit.number_of_records = Some(0);
            let record_io = Io {
                handle: io.handle.clone(),
                cancel: Default::default(),
            };
            if let Err(audit_err) = audit_store.update(&record_io, id, &audit) {
                tracing::error!("Could not record the failure in the audit table: {audit_err}");
            }
            Err(e)
        }
    }
}

fn rebuild(
    conn: &Connection,
    io: &Io,
    task: &TaskCtx,
    spec: &AggregateSpec,
    audit: &mut AuditRecord,
) -> Result<AggregateFigures> {
    let target = conn.target()?;
    let audit_store = conn.audit()?;
    let run = &task.run;
    let sql = conn.sql()?;
    let identity = target.identity_type();
    let watch_name = beside_audit(audit_store.as_ref(), WATCH);
    let touched_name = beside_audit(audit_store.as_ref(), TOUCHED);
    let quote = |name: &str| target.quote_table(name);
    // Created outside the load's transaction, once: loads look for them in theirs.
    let create = [
        format!(
            "CREATE TABLE IF NOT EXISTS {} (aggregate_table TEXT NOT NULL, read_table TEXT NOT NULL, \
             window_column TEXT NOT NULL)",
            quote(&watch_name)
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {} (id {identity} PRIMARY KEY, run_id TEXT NOT NULL, \
             read_table TEXT NOT NULL, day TEXT)",
            quote(&touched_name)
        ),
    ];
    for ddl in &create {
        // Two aggregates creating it at once: PostgreSQL fails the second with a duplicate
        // catalog entry once the first commits; it exists then.
        if let Err(e) = sql.execute(io, ddl, &Vec::new()) {
            tracing::debug!("Creating an aggregate table raced another run ({e}); trying again.");
            sql.execute(io, ddl, &Vec::new())?;
        }
    }
    let consumed: Option<i64> = audit_store
        .watermark(io, &run.project, &spec.into)?
        .and_then(|t| t.trim().parse().ok());

    let load_id = LoadIdentity {
        project: run.project.clone(),
        run_id: run.id.clone(),
        run_started: run.started_at,
        table: spec.into.clone(),
    };
    let mut txn = target.begin(io, &load_id)?;
    // Days as loads recorded them: a timestamp with time zone falls on its UTC day.
    for set in target.stable_text_sql() {
        txn.execute(set, &Vec::new())?;
    }
    // Holding the table's lock proves that earlier runs still `running` on it died.
    let (stale, params) = audit_store.close_stale_statement(&load_id);
    txn.execute(&stale, &params)?;
    let (watch, touched) = (quote(&watch_name), quote(&touched_name));
    let agg = vec![("agg".to_string(), text(&spec.into.to_ascii_lowercase()))];

    // The registration: which tables loads must record touches for.
    let mut want: Vec<(String, String)> = spec
        .reads
        .iter()
        .map(|(t, c)| (t.to_ascii_lowercase(), c.clone()))
        .collect();
    want.sort();
    let mut have: Vec<(String, String)> = txn
        .query(
            &format!("SELECT read_table, window_column FROM {watch} WHERE aggregate_table = :agg"),
            &agg,
            10_000,
        )?
        .rows
        .into_iter()
        .map(|r| {
            let mut r = r.into_iter().map(|v| v.to_text().unwrap_or_default());
            (r.next().unwrap_or_default(), r.next().unwrap_or_default())
        })
        .collect();
    have.sort();
    if have != want {
        txn.execute(
            &format!("DELETE FROM {watch} WHERE aggregate_table = :agg"),
            &agg,
        )?;
        for (t, c) in &want {
            let p = vec![
                agg[0].clone(),
                ("t".to_string(), text(t)),
                ("c".to_string(), text(c)),
            ];
            txn.execute(
                &format!(
                    "INSERT INTO {watch} (aggregate_table, read_table, window_column) VALUES (:agg, :t, :c)"
                ),
                &p,
            )?;
        }
    }
    let upto = txn
        .query(&format!("SELECT max(id) FROM {touched}"), &Vec::new(), 1)?
        .rows
        .first()
        .and_then(|r| r.first())
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let (agg_id, existing) = txn.resolve(&spec.into)?;

    let full_reason = if run.load_type == LoadType::Full {
        Some("a full run (--load-type F)".to_string())
    } else if existing.is_none() {
        Some("the table did not exist".into())
    } else if have != want {
        Some("its first run with these `reads`".into())
    } else if consumed.is_none() {
        Some("no earlier successful run".into())
    } else {
        None
    };
    let mut days = Vec::new();
    let full_reason = match full_reason {
        Some(r) => Some(r),
        None => {
            let mut p: Params = vec![
                ("since".into(), Value::Int64(consumed.unwrap_or(0))),
                ("upto".into(), Value::Int64(upto)),
            ];
            let names: Vec<String> = want
                .iter()
                .enumerate()
                .map(|(i, (t, _))| {
                    p.push((format!("r{i}"), text(t)));
                    format!(":r{i}")
                })
                .collect();
            let rows = txn.query(
                &format!(
                    "SELECT DISTINCT day FROM {touched} WHERE id > :since AND id <= :upto \
                     AND read_table IN ({})",
                    names.join(", ")
                ),
                &p,
                1_000_000,
            )?;
            let mut whole = false;
            for r in rows.rows {
                match r.into_iter().next().and_then(|v| v.to_text()) {
                    None => whole = true,
                    Some(d) => days.push(NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| {
                        EtlError::load(
                            &spec.into,
                            format!("aggregate(): a load recorded '{d}' as a touched day of a window column, which is not a date: window columns must be dates or timestamps"),
                        )
                    })?),
                }
            }
            whole.then(|| "a load replaced a table it reads".to_string())
        }
    };
    let full = full_reason.is_some();
    let windows = match &full_reason {
        Some(_) => vec![(LOWEST, HIGHEST)],
        None => merge_windows(spec.grain, &days),
    };
    let mut figures = AggregateFigures {
        full,
        ..AggregateFigures::default()
    };
    audit.data_max_date = Some(format!("{upto:020}"));
    audit.previous_max_date = consumed.map(|c| format!("{c:020}"));
    if windows.is_empty() {
        figures.note = format!(
            "No load touched {} since the last rebuild of {}: nothing to do.",
            want.iter()
                .map(|(t, _)| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            spec.into
        );
        return commit(txn, audit_store.as_ref(), audit, figures);
    }

    let columns: Vec<String> = match existing {
        Some(cols) => cols.into_iter().map(|c| c.name).collect(),
        None => {
            let params = bounds(LOWEST, HIGHEST);
            let schema = conn
                .relations()?
                .query(&spec.sql, params)?
                .schema(io)
                .map_err(|e| sql_error(spec, e))?;
            let defs: Vec<ColumnDef> = schema
                .columns
                .iter()
                .map(|c| ColumnDef {
                    name: c.name.clone(),
                    data_type: c.data_type.clone(),
                    declared: None,
                })
                .collect();
            txn.create_table(&agg_id, &defs, &spec.key)?;
            schema.columns.into_iter().map(|c| c.name).collect()
        }
    };
    let wc = columns
        .iter()
        .find(|c| c.eq_ignore_ascii_case(&spec.window_column))
        .cloned()
        .ok_or_else(|| {
            EtlError::load(
                &spec.into,
                format!(
                    "aggregate(): window_column '{}' is not a column of {} ({})",
                    spec.window_column,
                    spec.into,
                    columns.join(", ")
                ),
            )
        })?;
    let wc = super::checks::sql::ident(&wc);
    let dest = target.quote_id(&agg_id);
    let work = txn.create_work(&agg_id, &columns, "etl_agg_work")?;
    let work = target.quote_id(&work);
    let list = columns
        .iter()
        .map(|c| super::checks::sql::ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    let body = spec.sql.trim().trim_end_matches(';');
    for &(start, end) in &windows {
        let p = bounds(start, end);
        figures.deleted += if full {
            txn.execute(&format!("DELETE FROM {dest}"), &Vec::new())?
        } else {
            txn.execute(
                &format!("DELETE FROM {dest} WHERE {wc} >= :window_start AND {wc} < :window_end"),
                &p,
            )?
        };
        txn.execute(&format!("DELETE FROM {work}"), &Vec::new())?;
        txn.execute(
            &format!("INSERT INTO {work} ({list}) SELECT {list} FROM ({body}) AS etl_agg"),
            &p,
        )
        .map_err(|e| sql_error(spec, e))?;
        // A row outside its window would be deleted by no later run: the SQL must filter.
        let stray = txn.query(
            &format!(
                "SELECT count(*) FROM {work} WHERE {wc} IS NULL OR {wc} < :window_start OR {wc} >= :window_end"
            ),
            &p,
            1,
        )?;
        let stray = stray
            .rows
            .first()
            .and_then(|r| r.first())
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if stray > 0 && !full {
            return Err(EtlError::load(
                &spec.into,
                format!(
                    "aggregate(): {} returned {stray} rows outside the window [{start}, {end}) (or with a NULL {}); \
                     filter the rows it reads with `{} >= :window_start AND {} < :window_end`",
                    spec.sql_file, spec.window_column, spec.window_column, spec.window_column
                ),
            ));
        }
        figures.rows += txn.execute(
            &format!("INSERT INTO {dest} ({list}) SELECT {list} FROM {work}"),
            &Vec::new(),
        )?;
    }
    figures.windows = if full { Vec::new() } else { windows.clone() };
    figures.note = match &full_reason {
        Some(why) => format!(
            "Rebuilt all of {} ({why}): {} rows.",
            spec.into, figures.rows
        ),
        None => format!(
            "Rebuilt {} window(s) of {}: {}; {} rows.",
            windows.len(),
            spec.into,
            windows
                .iter()
                .map(|(s, e)| format!("[{s}, {e})"))
                .collect::<Vec<_>>()
                .join(" "),
            figures.rows
        ),
    };
    if !full {
        audit.start_load_date = windows.first().map(|w| w.0.to_string());
        audit.end_load_date = windows.last().map(|w| w.1.to_string());
    }
    commit(txn, audit_store.as_ref(), audit, figures)
}

/// Writes the audit record's `success` in the transaction and commits both.
fn commit(
    mut txn: Box<dyn TargetTxn>,
    store: &dyn crate::connectors::AuditStore,
    audit: &mut AuditRecord,
    figures: AggregateFigures,
) -> Result<AggregateFigures> {
    audit.status = Status::Success.as_str().into();
    audit.number_of_records = Some(figures.rows as i64);
    audit.error_message = Some(error_text(&figures.note));
    audit.end_script_execution_time = Some(chrono::Utc::now());
    let (sql, params) = store.update_statement(audit.id.expect("inserted"), audit);
    txn.execute(&sql, &params)?;
    txn.commit()?;
    Ok(figures)
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn bounds(start: NaiveDate, end: NaiveDate) -> Params {
    vec![
        ("window_start".into(), Value::Date(start)),
        ("window_end".into(), Value::Date(end)),
    ]
}

fn sql_error(spec: &AggregateSpec, e: EtlError) -> EtlError {
    EtlError::load(&spec.into, format!("aggregate(): {}: {e}", spec.sql_file))
}

/// The windows of the touched days, adjacent ones merged into one range.
fn merge_windows(grain: Grain, days: &[NaiveDate]) -> Vec<(NaiveDate, NaiveDate)> {
    let mut windows: Vec<(NaiveDate, NaiveDate)> = days.iter().map(|d| grain.window(*d)).collect();
    windows.sort();
    windows.dedup();
    let mut out: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for w in windows {
        match out.last_mut() {
            Some(last) if last.1 >= w.0 => last.1 = last.1.max(w.1),
            _ => out.push(w),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn touched_days_become_merged_windows() {
        let days = [
            d("2025-01-03"),
            d("2025-01-01"),
            d("2025-01-02"),
            d("2025-01-07"),
        ];
        assert_eq!(
            merge_windows(Grain::Day, &days),
            vec![
                (d("2025-01-01"), d("2025-01-04")),
                (d("2025-01-07"), d("2025-01-08"))
            ]
        );
        assert_eq!(
            merge_windows(Grain::Month, &[d("2025-03-31"), d("2025-01-15")]),
            vec![
                (d("2025-01-01"), d("2025-02-01")),
                (d("2025-03-01"), d("2025-04-01"))
            ]
        );
    }
}
