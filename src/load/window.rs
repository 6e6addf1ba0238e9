//! The window a load reads (DESIGN.md §3): I from the audit watermark, B the run's window, F
//! everything; and the bounds of a backfill window as values of the cursor's type.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::{LoadMode, LoadSpec};
use crate::connectors::{CursorWindow, Io, Source};
use crate::context::{LoadType, RunInfo};
use crate::data::{DataType, Value};
use crate::error::{EtlError, Result};

/// What a load reads: its mode, its cursor window, and the audit watermark it starts from.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub mode: LoadMode,
    /// None without a cursor; with one, bounds may still be open (a full load reads all).
    pub window: Option<CursorWindow>,
    /// The watermark an incremental load starts from (`previous_max_date`).
    pub previous_max: Option<String>,
}

/// The load's mode and cursor window (DESIGN.md §3): I reads from the audit watermark, B the
/// run's window, F everything. A full replace never reads a window: it would shrink the table.
/// `watermark` reads the audit table (only asked for incremental loads); `etl plan` passes
/// one that never creates the audit table.
pub fn resolve_window(
    run: &RunInfo,
    io: &Io,
    source: &Arc<dyn Source>,
    spec: &LoadSpec,
    watermark: &mut dyn FnMut() -> Result<Option<String>>,
) -> Result<Resolved> {
    let mode = spec
        .mode
        .unwrap_or(match (run.load_type, spec.key.is_empty()) {
            (LoadType::Full, _) => LoadMode::Full,
            (_, false) => LoadMode::Merge,
            (_, true) => LoadMode::Append,
        });
    if matches!(mode, LoadMode::Merge | LoadMode::Scd2) && spec.key.is_empty() {
        return Err(EtlError::load(
            &spec.into,
            format!("mode '{}' needs a key: add `key: [\"id\"]`", mode.as_str()),
        ));
    }
    if let Some(lb) = &spec.lookback {
        let why = if spec.key.is_empty() || mode == LoadMode::Append {
            Some("without a key the rows read again would be appended twice: add `key: [..]` so they are merged")
        } else if spec.cursor.is_none() {
            Some("it moves the watermark of a `cursor`, and this load has none")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(EtlError::load(
                &spec.into,
                format!("lookback \"{}\" cannot be used here: {why}", lb.text),
            ));
        }
    }
    let Some(col) = &spec.cursor else {
        if run.load_type == LoadType::Backfill {
            if mode == LoadMode::Append {
                return Err(EtlError::load(
                    &spec.into,
                    "a backfill window needs a `cursor` to know which rows are in it; without one \
                     (and without a key) every window would append the whole source again. Add \
                     `cursor: \"COLUMN\"`, or leave this task out of the backfill (--task)",
                ));
            }
            tracing::warn!(table = %spec.into, "This load has no cursor: every backfill window reads the whole source ({}).", mode.as_str());
        }
        return Ok(Resolved {
            mode,
            window: None,
            previous_max: None,
        });
    };
    let schema = source.schema(io)?;
    let cursor_type = schema
        .index_of(col)
        .map(|i| schema.columns[i].data_type.clone())
        .ok_or_else(|| {
            EtlError::load(
                &spec.into,
                format!(
                    "cursor column '{col}' is not in {} (columns: {})",
                    source.describe(),
                    schema.names().join(", ")
                ),
            )
        })?;
    let parse = |text: &str| -> Result<Value> {
        Value::parse(text, &cursor_type)
            .map_err(|e| EtlError::load(&spec.into, format!("cursor '{col}': {e}")))
    };
    // An unbounded window still names the cursor, so SQL sources bind :since/:until with
    // the widest values of the cursor's type.
    let mut window = CursorWindow {
        column: col.clone(),
        since: None,
        since_inclusive: true,
        until: None,
    };
    let mut previous_max = None;
    match run.load_type {
        _ if mode == LoadMode::Full => {}
        LoadType::Incremental => {
            previous_max = watermark()?;
            let mark = previous_max.as_deref().map(parse).transpose()?;
            window.since = match (&spec.lookback, mark) {
                (Some(lb), Some(mark)) => {
                    Some(lb.below(&mark).map_err(|e| EtlError::load(&spec.into, e))?)
                }
                (_, mark) => mark,
            };
            // With a key the boundary rows are merged again (idempotent); without one they
            // were appended last time and must not be appended twice.
            window.since_inclusive = !spec.key.is_empty();
        }
        LoadType::Backfill => {
            // `etl backfill` gives dates (or date-times) whatever the cursor's type.
            let bound = |text: &str| -> Result<Value> {
                bound_value(text, &cursor_type).map_err(|e| {
                    EtlError::load(
                        &spec.into,
                        format!("backfill window on cursor '{col}': {e}"),
                    )
                })
            };
            window.since = run.since.as_deref().map(bound).transpose()?;
            window.until = run.until.as_deref().map(bound).transpose()?;
        }
        LoadType::Full => {}
    }
    Ok(Resolved {
        mode,
        window: Some(window),
        previous_max,
    })
}

/// `YYYY-MM-DD` (midnight) or `YYYY-MM-DD HH:MM[:SS]` (also with `T`); true when it had a time.
pub fn parse_date_arg(s: &str) -> Result<(NaiveDateTime, bool), String> {
    let t = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok((d.and_time(NaiveTime::MIN), false));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, f) {
            return Ok((dt, true));
        }
    }
    Err(format!(
        "'{s}' is not a date: write YYYY-MM-DD or \"YYYY-MM-DD HH:MM:SS\""
    ))
}

/// A window bound as a value of the cursor's type (the load driver's side of a B run):
/// a date cursor takes a bound at midnight, a timestamp cursor any bound, and a
/// timestamptz cursor reads a bound without a zone as UTC. Other cursor types cannot be
/// cut into windows of days.
pub fn bound_value(text: &str, ty: &DataType) -> Result<Value, String> {
    let (dt, _) = parse_date_arg(text)?;
    match ty {
        DataType::Date if dt.time() == NaiveTime::MIN => Ok(Value::Date(dt.date())),
        DataType::Date => Err(format!(
            "'{text}' has a time of day, but the cursor is a date: give --from/--to as dates"
        )),
        DataType::Timestamp => Ok(Value::Timestamp(dt)),
        DataType::TimestampTz => Ok(Value::TimestampTz(dt.and_utc())),
        other => Err(format!(
            "the cursor's type is {other}; a backfill cuts a range of dates, so the cursor must be a date or timestamp column"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        parse_date_arg(s).unwrap().0
    }

    #[test]
    fn bounds_take_the_cursor_type() {
        assert_eq!(
            bound_value("2025-01-04", &DataType::Date).unwrap(),
            Value::Date(NaiveDate::from_ymd_opt(2025, 1, 4).unwrap())
        );
        assert_eq!(
            bound_value("2025-01-04 00:00:00", &DataType::Date).unwrap(),
            Value::Date(NaiveDate::from_ymd_opt(2025, 1, 4).unwrap())
        );
        assert!(bound_value("2025-01-04 06:00:00", &DataType::Date)
            .unwrap_err()
            .contains("cursor is a date"));
        assert_eq!(
            bound_value("2025-01-04", &DataType::Timestamp).unwrap(),
            Value::Timestamp(dt("2025-01-04"))
        );
        assert_eq!(
            bound_value("2025-01-04 06:30:00", &DataType::TimestampTz).unwrap(),
            Value::TimestampTz(dt("2025-01-04 06:30:00").and_utc())
        );
        let e = bound_value("2025-01-04", &DataType::Int64).unwrap_err();
        assert!(e.contains("must be a date or timestamp"), "{e}");
    }
}
