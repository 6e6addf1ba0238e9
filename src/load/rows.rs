//! What happens to each batch between source and target: the window applied for sources that
//! cannot filter, NULL cursors counted, the cursor's min/max tracked, values coerced to the
//! target's column types (lossy casts refused with row, column and value).

use super::{LoadFigures, LoadSpec, NullCursor};
use crate::connectors::CursorWindow;
use crate::data::{Batch, Schema, Value};
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

/// Refuses a NULL in a key column, naming the row: a key identifies a row, and a NULL one
/// would never match in a merge, so every run would add the row again.
pub(super) fn check_keys(batch: &Batch, key: &[(usize, String)], table: &str) -> Result<()> {
    if key.is_empty() {
        return Ok(());
    }
    for (i, row) in batch.rows().enumerate() {
        if let Some((_, name)) = key.iter().find(|(k, _)| row[*k].is_null()) {
            return Err(EtlError::Load {
                table: table.to_string(),
                row: Some(batch.first_row + i as u64),
                column: Some(name.clone()),
                message:
                    "the key column is NULL; a key identifies each row, so it cannot be NULL: \
                          fix the source, or filter such rows out with .filter(|r| r.NAME != ())"
                        .into(),
            });
        }
    }
    Ok(())
}

/// Converts each value to its target column's type, refusing lossy casts with the row,
/// column and value in the message.
pub(super) fn coerce(batch: Batch, columns: &Schema, table: &str) -> Result<Batch> {
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
