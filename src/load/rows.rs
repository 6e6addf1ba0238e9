//! What happens to each batch between source and target: the window applied for sources that
//! cannot filter, NULL cursors counted, the cursor's min/max tracked, values coerced to the
//! target's column types (lossy casts refused with row, column and value).

use super::rejects::Rejects;
use super::{LoadFigures, LoadSpec, NullCursor};
use crate::connectors::CursorWindow;
use crate::data::{bounded_record, Batch, CursorSeen, Reject, Schema, Value};
use crate::error::{EtlError, Result};

/// Applies the window for sources that cannot, handles NULL cursors and tracks min/max.
pub(super) fn cursor_pass(
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
            match if bounded {
                NullCursor::Skip
            } else {
                spec.null_cursor
            } {
                NullCursor::Load => keep.push(true),
                NullCursor::Skip => {
                    keep.push(false);
                    dropped = true;
                    figures.skipped += 1;
                }
                NullCursor::Fail => return Err(null_cursor(spec, batch.first_row + i as u64)),
            }
            continue;
        }
        if window.is_some_and(|w| !w.contains(v)) {
            keep.push(false);
            dropped = true;
            continue;
        }
        keep.push(true);
        extend(figures, v, v);
    }
    if !dropped {
        return Ok(batch);
    }
    Ok(retain_rows(batch, &keep))
}

/// The cursor's values of a batch of encoded rows (`Encoded::cursor`), as `cursor_pass`
/// counts them; the load reads such rows only where no window is left to apply and NULL
/// cursors are loaded or refused (skipping one needs the rows).
pub(super) fn cursor_seen(
    seen: &CursorSeen,
    first_row: u64,
    spec: &LoadSpec,
    figures: &mut LoadFigures,
) -> Result<()> {
    if let Some(row) = seen.first_null {
        if spec.null_cursor == NullCursor::Fail {
            return Err(null_cursor(spec, first_row + row as u64));
        }
    }
    figures.null_cursor_rows += seen.nulls;
    if let (Some(min), Some(max)) = (&seen.min, &seen.max) {
        extend(figures, min, max);
    }
    Ok(())
}

/// Widens the load's cursor range to take in `min`..`max`.
fn extend(figures: &mut LoadFigures, min: &Value, max: &Value) {
    if figures
        .min
        .as_ref()
        .is_none_or(|m| min.compare(m) == Some(std::cmp::Ordering::Less))
    {
        figures.min = Some(min.clone());
    }
    if figures
        .max
        .as_ref()
        .is_none_or(|m| max.compare(m) == Some(std::cmp::Ordering::Greater))
    {
        figures.max = Some(max.clone());
    }
}

fn null_cursor(spec: &LoadSpec, row: u64) -> EtlError {
    EtlError::Load {
        table: spec.into.clone(),
        row: Some(row),
        column: spec.cursor.clone(),
        message: "the cursor is NULL (null_cursor: \"fail\"); use \"load\" or \"skip\" to accept such rows".into(),
    }
}

/// Refuses a NULL in a key column, naming the row: a key identifies a row, and a NULL one
/// would never match in a merge, so every run would add the row again. With rejects allowed
/// the row is set aside instead.
pub(super) fn check_keys(
    batch: Batch,
    key: &[(usize, String)],
    table: &str,
    mut rejects: Option<&mut Rejects>,
) -> Result<Batch> {
    if key.is_empty() {
        return Ok(batch);
    }
    let mut bad = Vec::new();
    for (i, row) in batch.rows().enumerate() {
        let Some((_, name)) = key.iter().find(|(k, _)| row[*k].is_null()) else {
            continue;
        };
        let row_no = batch.first_row + i as u64;
        let Some(r) = rejects.as_deref_mut() else {
            return Err(null_key(table, row_no, name));
        };
        r.add(Reject {
            line: None,
            row: row_no,
            column: Some(name.clone()),
            reason: NULL_KEY.into(),
            record: row_text(row),
        })?;
        bad.push(i);
    }
    Ok(without_rows(batch, &bad))
}

const NULL_KEY: &str = "the key column is NULL; a key identifies each row, so it cannot be NULL: \
                        fix the source, or filter such rows out with .filter(|r| r.NAME != ())";

/// The error of a NULL in key column `column` at source row `row`.
pub(super) fn null_key(table: &str, row: u64, column: &str) -> EtlError {
    EtlError::Load {
        table: table.to_string(),
        row: Some(row),
        column: Some(column.to_string()),
        message: NULL_KEY.into(),
    }
}

/// Converts each value to its target column's type, refusing lossy casts with the row,
/// column and value in the message; with rejects allowed such a row is set aside instead.
pub(super) fn coerce(
    batch: Batch,
    columns: &Schema,
    table: &str,
    mut rejects: Option<&mut Rejects>,
) -> Result<Batch> {
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
    let mut bad = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let col = &columns.columns[i % width];
        let v = &mut values[i];
        if !v.needs_coerce(&col.data_type) {
            i += 1;
            continue;
        }
        // Only a row that may be set aside needs its value kept to show it.
        let original = rejects.is_some().then(|| v.clone());
        let taken = std::mem::replace(v, Value::Null);
        match taken.coerce(&col.data_type) {
            Ok(converted) => {
                values[i] = converted;
                i += 1;
            }
            Err(message) => {
                let row = i / width;
                let Some(r) = rejects.as_deref_mut() else {
                    return Err(EtlError::Load {
                        table: table.to_string(),
                        row: Some(first + row as u64),
                        column: Some(col.name.clone()),
                        message,
                    });
                };
                values[i] = original.unwrap_or(Value::Null);
                r.add(Reject {
                    line: None,
                    row: first + row as u64,
                    column: Some(col.name.clone()),
                    reason: message,
                    record: row_text(&values[row * width..(row + 1) * width]),
                })?;
                bad.push(row);
                i = (row + 1) * width;
            }
        }
    }
    Ok(without_rows(Batch::from_values(width, first, values), &bad))
}

/// A row's values as text, for the rejects file (`,` between them, NULL as nothing).
fn row_text(row: &[Value]) -> String {
    let fields: Vec<String> = row
        .iter()
        .map(|v| v.to_text().unwrap_or_default())
        .collect();
    bounded_record(&fields.join(","))
}

/// The batch without the rows at `bad` (ascending).
fn without_rows(batch: Batch, bad: &[usize]) -> Batch {
    if bad.is_empty() {
        return batch;
    }
    let keep: Vec<bool> = (0..batch.len()).map(|i| !bad.contains(&i)).collect();
    retain_rows(batch, &keep)
}

/// The rows whose `keep` is true, moved (not copied) into a new batch.
fn retain_rows(batch: Batch, keep: &[bool]) -> Batch {
    let (width, first) = (batch.width(), batch.first_row);
    let kept = keep.iter().filter(|k| **k).count();
    let mut out = Batch::new(width, first, kept);
    let mut values = batch.into_values().into_iter();
    for k in keep {
        let row = values.by_ref().take(width);
        if *k {
            out.push_row(row);
        } else {
            row.for_each(drop);
        }
    }
    out
}
