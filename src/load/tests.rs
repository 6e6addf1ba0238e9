//! The load layer on its own: which window a load reads, what happens to each batch on the
//! way, and the audit life cycle against a real SQLite warehouse in a temporary folder.

use std::path::PathBuf;
use std::sync::Arc;

use super::rows::{coerce, cursor_pass};
use super::*;
use crate::connectors::csv::{CsvOptions, CsvSource};
use crate::connectors::{Connection, CursorWindow, Io, OpenOptions, Source};
use crate::context::{LoadType, RunInfo, TaskCtx};
use crate::data::{Batch, Column, DataType, Schema, Value};
use crate::error::{EtlError, Result};

const ORDERS: &str = "id,amount,updated_at\n\
                      1,10.50,2024-01-01 10:00:00\n\
                      2,7.25,2024-01-02 11:00:00\n\
                      3,3.00,\n";

fn run(load_type: LoadType, window: Option<(&str, &str)>) -> Arc<RunInfo> {
    let started_at = chrono::Utc::now();
    Arc::new(RunInfo {
        id: RunInfo::new_id(started_at),
        project: "shop".into(),
        env: "test".into(),
        load_type,
        since: window.map(|w| w.0.to_string()),
        until: window.map(|w| w.1.to_string()),
        params: Default::default(),
        dry_run: false,
        notify: None,
        script_version: "1".into(),
        started_at,
        output_dir: PathBuf::new(),
        output_files: Default::default(),
    })
}

fn spec(key: &[&str], cursor: Option<&str>) -> LoadSpec {
    LoadSpec {
        into: "orders".into(),
        key: key.iter().map(|k| k.to_string()).collect(),
        cursor: cursor.map(str::to_string),
        mode: None,
        null_cursor: NullCursor::Load,
        batch_rows: 2,
        allow_type_change: false,
        limit: None,
        max_errors: None,
        max_error_ratio: None,
        checks: Vec::new(),
        on_check_fail: super::checks::Severity::Error,
        scd2: None,
        lookups: Vec::new(),
        lookback: None,
        soft_delete: None,
        parallel: None,
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    rt: tokio::runtime::Runtime,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("orders.csv"), ORDERS).unwrap();
        Fixture {
            dir: dir.path().to_path_buf(),
            _dir: dir,
            rt: tokio::runtime::Runtime::new().unwrap(),
        }
    }

    fn io(&self) -> Io {
        Io {
            handle: self.rt.handle().clone(),
            cancel: Default::default(),
        }
    }

    fn csv(&self) -> Arc<dyn Source> {
        let path = self.dir.join("orders.csv");
        Arc::new(CsvSource::new(
            path,
            "orders.csv".into(),
            CsvOptions::default(),
        ))
    }

    fn warehouse(&self) -> Connection {
        let url = format!("sqlite://{}", self.dir.join("dw.db").display());
        crate::connectors::open("warehouse", &url, &OpenOptions::default()).unwrap()
    }

    fn sqlite(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.join("dw.db")).unwrap()
    }
}

fn resolve(
    f: &Fixture,
    run: &RunInfo,
    spec: &LoadSpec,
    watermark: Option<&str>,
) -> Result<Resolved> {
    let io = f.io();
    resolve_window(run, &io, &f.csv(), spec, &mut || {
        Ok(watermark.map(str::to_string))
    })
}

fn ts(s: &str) -> Value {
    Value::parse(s, &DataType::Timestamp).unwrap()
}

#[test]
fn a_full_load_reads_everything_even_with_a_cursor() {
    let f = Fixture::new();
    let r = resolve(
        &f,
        &run(LoadType::Full, None),
        &spec(&["id"], Some("updated_at")),
        None,
    )
    .unwrap();
    assert_eq!(r.mode, LoadMode::Full);
    let w = r.window.unwrap();
    assert!(w.since.is_none() && w.until.is_none(), "{w:?}");
    assert_eq!(
        r.previous_max, None,
        "a full load never asks for the watermark"
    );
}

#[test]
fn an_incremental_load_starts_at_the_watermark_inclusive_with_a_key() {
    let f = Fixture::new();
    let run = run(LoadType::Incremental, None);
    let keyed = resolve(
        &f,
        &run,
        &spec(&["id"], Some("updated_at")),
        Some("2024-01-01 10:00:00"),
    )
    .unwrap();
    assert_eq!(keyed.mode, LoadMode::Merge);
    let w = keyed.window.unwrap();
    assert_eq!(w.since, Some(ts("2024-01-01 10:00:00")));
    assert!(w.since_inclusive, "boundary rows are merged again");
    assert_eq!(keyed.previous_max.as_deref(), Some("2024-01-01 10:00:00"));

    // Without a key the boundary rows were appended last time: the window excludes them.
    let keyless = resolve(
        &f,
        &run,
        &spec(&[], Some("updated_at")),
        Some("2024-01-01 10:00:00"),
    )
    .unwrap();
    assert_eq!(keyless.mode, LoadMode::Append);
    assert!(!keyless.window.unwrap().since_inclusive);

    // No watermark yet: the first run reads everything.
    let first = resolve(&f, &run, &spec(&["id"], Some("updated_at")), None).unwrap();
    assert!(first.window.unwrap().since.is_none());
    // No cursor: no window at all.
    assert!(resolve(&f, &run, &spec(&["id"], None), None)
        .unwrap()
        .window
        .is_none());
}

#[test]
fn a_backfill_window_takes_the_cursor_type() {
    let f = Fixture::new();
    let run = run(LoadType::Backfill, Some(("2024-01-01", "2024-01-02")));
    let r = resolve(&f, &run, &spec(&[], Some("updated_at")), None).unwrap();
    let w = r.window.unwrap();
    assert_eq!(w.since, Some(ts("2024-01-01 00:00:00")));
    assert_eq!(w.until, Some(ts("2024-01-02 00:00:00")));
    assert_eq!(r.mode, LoadMode::Append);
}

#[test]
fn windows_that_cannot_work_are_refused_with_what_to_do() {
    let f = Fixture::new();
    let e = resolve(
        &f,
        &run(LoadType::Backfill, Some(("2024-01-01", "2024-01-02"))),
        &spec(&[], None),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("a backfill window needs a `cursor`"), "{e}");
    let e = resolve(
        &f,
        &run(LoadType::Incremental, None),
        &spec(&[], Some("changed")),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("cursor column 'changed' is not in csv orders.csv"),
        "{e}"
    );
    assert!(e.contains("id, amount, updated_at"), "{e}");
    let mut merge = spec(&[], None);
    merge.mode = Some(LoadMode::Merge);
    let e = resolve(&f, &run(LoadType::Full, None), &merge, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("mode 'merge' needs a key"), "{e}");
    let e = resolve(
        &f,
        &run(LoadType::Incremental, None),
        &spec(&["id"], Some("updated_at")),
        Some("yesterday"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("cursor 'updated_at'"), "{e}");
}

fn batch(rows: &[(i64, Option<&str>)]) -> Batch {
    let mut b = Batch::new(2, 1, rows.len());
    for (id, at) in rows {
        b.push(Value::Int64(*id));
        b.push(at.map(ts).unwrap_or(Value::Null));
    }
    b
}

#[test]
fn the_cursor_pass_filters_counts_nulls_and_tracks_the_range() {
    let rows = [
        (1, Some("2024-01-01 00:00:00")),
        (2, None),
        (3, Some("2024-01-03 00:00:00")),
    ];
    let window = CursorWindow {
        column: "at".into(),
        since: Some(ts("2024-01-02 00:00:00")),
        since_inclusive: true,
        until: None,
    };
    let mut figures = LoadFigures::default();
    let out = cursor_pass(
        batch(&rows),
        Some(1),
        Some(&window),
        &spec(&[], Some("at")),
        &mut figures,
    )
    .unwrap();
    // Row 1 is before the window; the NULL cursor is loaded (null_cursor: load) and counted.
    let ids: Vec<&Value> = out.rows().map(|r| &r[0]).collect();
    assert_eq!(ids, [&Value::Int64(2), &Value::Int64(3)]);
    assert_eq!(figures.null_cursor_rows, 1);
    assert_eq!(figures.min, Some(ts("2024-01-03 00:00:00")));
    assert_eq!(figures.max, Some(ts("2024-01-03 00:00:00")));

    // A bounded (backfill) window never loads a NULL cursor; `fail` names the row.
    let bounded = CursorWindow {
        until: Some(ts("2024-01-09 00:00:00")),
        ..window
    };
    let mut figures = LoadFigures::default();
    let out = cursor_pass(
        batch(&rows),
        Some(1),
        Some(&bounded),
        &spec(&[], Some("at")),
        &mut figures,
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(figures.skipped, 1);
    let mut failing = spec(&[], Some("at"));
    failing.null_cursor = NullCursor::Fail;
    let e = cursor_pass(
        batch(&rows),
        Some(1),
        None,
        &failing,
        &mut LoadFigures::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("row 2") && e.contains("column 'at'"), "{e}");
}

#[test]
fn coercion_widens_exactly_and_refuses_lossy_casts_with_row_and_column() {
    let target = Schema::new(vec![
        Column::new("id", DataType::Int64),
        Column::new("amount", DataType::parse("numeric(6,2)").unwrap()),
    ]);
    let mut b = Batch::new(2, 7, 2);
    b.push(Value::Int32(1));
    b.push(Value::parse("10.5", &DataType::parse("numeric(4,1)").unwrap()).unwrap());
    let out = coerce(b, &target, "orders", None).unwrap();
    let row: Vec<String> = out
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|v| v.to_text().unwrap())
        .collect();
    assert_eq!(row, ["1", "10.50"]);

    let mut lossy = Batch::new(2, 7, 2);
    lossy.push(Value::Int32(2));
    lossy.push(Value::parse("10.125", &DataType::parse("numeric(6,3)").unwrap()).unwrap());
    let e = coerce(lossy, &target, "orders", None).unwrap_err();
    assert!(
        matches!(&e, EtlError::Load { row: Some(7), column: Some(c), .. } if c == "amount"),
        "{e}"
    );
}

#[test]
fn with_rejects_allowed_a_bad_row_is_set_aside_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Arc::try_unwrap(run(LoadType::Full, None)).unwrap_or_else(|_| unreachable!());
    run.output_dir = dir.path().to_path_buf();
    let mut spec = spec(&["id"], None);
    spec.max_errors = Some(1);
    let mut rejects = super::rejects::Rejects::new(&spec, &run, "test rows").unwrap();
    let target = Schema::new(vec![
        Column::new("id", DataType::Int64),
        Column::new("amount", DataType::parse("numeric(4,2)").unwrap()),
    ]);
    let mut b = Batch::new(2, 1, 3);
    for (id, amount) in [(1, "1.50"), (2, "12.345"), (3, "2.00")] {
        b.push(Value::Int32(id));
        b.push(Value::parse(amount, &DataType::parse("numeric(6,3)").unwrap()).unwrap());
    }
    let out = coerce(b, &target, "orders", Some(&mut rejects)).unwrap();
    let ids: Vec<String> = out.rows().map(|r| r[0].to_text().unwrap()).collect();
    assert_eq!(ids, ["1", "3"]);
    assert_eq!(rejects.count, 1);
    rejects.finish(2).unwrap();
    let text = std::fs::read_to_string(&rejects.path).unwrap();
    assert!(text.contains("test rows,,2,amount,"), "{text}");
    assert!(text.contains("\"2,12.345\""), "{text}");
}

/// A transform that panics on its first batch: a bug in a connector or an API function.
struct Panics;

impl Transform for Panics {
    fn start(&mut self, _: &Schema) {}
    fn apply(&mut self, _: Batch) -> Result<Batch> {
        panic!("boom in a transform");
    }
    fn output_schema(&self) -> Option<Schema> {
        None
    }
}

/// The source's rows unchanged.
struct Identity(Schema);

impl Transform for Identity {
    fn start(&mut self, _: &Schema) {}
    fn apply(&mut self, batch: Batch) -> Result<Batch> {
        Ok(batch)
    }
    fn output_schema(&self) -> Option<Schema> {
        Some(self.0.clone())
    }
    fn is_identity(&self) -> bool {
        true
    }
}

fn load(
    f: &Fixture,
    dw: &Connection,
    run: Arc<RunInfo>,
    spec: LoadSpec,
    transform: &mut dyn Transform,
) -> Result<LoadFigures> {
    let io = f.io();
    let task = TaskCtx::new(run, "orders");
    let source = f.csv();
    run_load(
        dw,
        LoadRequest {
            io: &io,
            task: &task,
            source: &source,
            transform,
            spec,
        },
    )
}

fn audit_rows(f: &Fixture) -> Vec<(String, Option<String>, Option<i64>)> {
    let c = f.sqlite();
    let mut stmt = c
        .prepare("SELECT status, error_message, number_of_records FROM etl_runs ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn a_panic_inside_a_load_rolls_back_and_is_recorded_as_failed() {
    let f = Fixture::new();
    let dw = f.warehouse();
    let e = load(
        &f,
        &dw,
        run(LoadType::Full, None),
        spec(&["id"], None),
        &mut Panics,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("the load panicked: boom in a transform"), "{e}");
    let audit = audit_rows(&f);
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].0, "failed");
    assert!(audit[0]
        .1
        .as_deref()
        .unwrap()
        .contains("boom in a transform"));
    let tables: i64 = f
        .sqlite()
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name LIKE 'orders%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0, "nothing was created");
}

#[test]
fn each_mode_commits_its_rows_with_the_audit_record() {
    let f = Fixture::new();
    let dw = f.warehouse();
    let io = f.io();
    let schema = f.csv().schema(&io).unwrap();
    let full = load(
        &f,
        &dw,
        run(LoadType::Full, None),
        spec(&["id"], None),
        &mut Identity(schema.clone()),
    )
    .unwrap();
    assert_eq!(
        (full.mode, full.rows, full.inserted),
        (Some(LoadMode::Full), 3, 3)
    );
    // A merge of the same rows changes nothing, so nothing counts as updated.
    let merge = load(
        &f,
        &dw,
        run(LoadType::Incremental, None),
        spec(&["id"], None),
        &mut Identity(schema.clone()),
    )
    .unwrap();
    assert_eq!(
        (merge.mode, merge.inserted, merge.updated),
        (Some(LoadMode::Merge), 0, 0)
    );
    // Appending twice without a key keeps both copies.
    for _ in 0..2 {
        let mut append = spec(&[], None);
        append.into = "orders_log".into();
        append.mode = Some(LoadMode::Append);
        let appended = load(
            &f,
            &dw,
            run(LoadType::Full, None),
            append,
            &mut Identity(schema.clone()),
        )
        .unwrap();
        assert_eq!(appended.inserted, 3);
    }
    let count = |t: &str| -> i64 {
        f.sqlite()
            .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!((count("orders"), count("orders_log")), (3, 6));
    let audit = audit_rows(&f);
    assert_eq!(audit.len(), 4);
    assert!(
        audit
            .iter()
            .all(|(status, _, n)| status == "success" && *n == Some(3)),
        "{audit:?}"
    );
}
