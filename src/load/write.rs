//! The load modes (DESIGN.md §3) over a target's primitives, the same for every target:
//!
//! - full: a replacement table beside the target (columns the old table has keep their
//!   declared type when the source fits it), filled, then swapped in: readers see the old or
//!   the new table, never an empty one;
//! - append: the target is created when missing or evolved (new source columns added; a source
//!   type the target column cannot hold is refused unless `allow_type_change`), a backfill
//!   window's range deleted first, then the rows;
//! - merge: as append, into a private stage, then an upsert on the key.

use super::LoadMode;
use crate::connectors::{
    ColumnDef, CursorWindow, LoadTarget, MergeCounts, TableId, TargetColumn, TargetTxn,
};
use crate::data::Schema;
use crate::error::{EtlError, Result};

/// What the target must do, decided once the rows' columns are known.
#[derive(Clone, Debug)]
pub(crate) struct LoadPlan {
    pub table: String,
    /// Columns of the rows that will be written, in order.
    pub schema: Schema,
    pub key: Vec<String>,
    pub mode: LoadMode,
    /// A backfill window without a key: rows of this range are deleted first, in the same
    /// transaction, so re-running a window never duplicates.
    pub replace_window: Option<CursorWindow>,
    pub allow_type_change: bool,
    /// The new rows are checked before they join the table: an append stages them too.
    pub checked: bool,
    /// An SCD2 dimension's history rules (mode `Scd2`).
    pub scd2: Option<super::scd::Scd2Plan>,
    /// The last this many columns of `schema` are not in the rows: lookups fill them once
    /// the rows are staged.
    pub filled: usize,
    /// `scd1(#{ soft_delete })`: keys missing from a complete read are stamped, not deleted.
    pub soft_delete: Option<super::soft_delete::SoftDelete>,
}

/// Where a load's rows go, decided before the first row is written.
pub(super) struct Write {
    mode: LoadMode,
    target: TableId,
    /// The target (append), its replacement (full) or a stage (merge, a checked append):
    /// where the new rows are until the load puts them in place, and where checks look.
    pub into: TableId,
    /// The written columns and the key, named as in the table.
    columns: Vec<String>,
    key: Vec<String>,
    /// The written columns' types in the table: rows are coerced to these.
    pub types: Schema,
    /// Where the key columns are in a written row, and their names.
    pub key_columns: Vec<(usize, String)>,
    scd2: Option<super::scd::Scd2Plan>,
    soft_delete: Option<super::soft_delete::SoftDelete>,
}

impl Write {
    /// The key columns, named as in the table.
    pub fn key(&self) -> &[String] {
        &self.key
    }

    /// The written columns, named as in the table.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    pub fn mode(&self) -> LoadMode {
        self.mode
    }

    pub fn soft_delete(&self) -> Option<&super::soft_delete::SoftDelete> {
        self.soft_delete.as_ref()
    }

    /// The table the load is for (`into` may be a stage or a replacement).
    pub fn target(&self) -> &TableId {
        &self.target
    }
}

/// Prepares the target for `plan` and starts writing.
pub(super) fn prepare(
    txn: &mut dyn TargetTxn,
    on: &dyn LoadTarget,
    plan: &LoadPlan,
) -> Result<Write> {
    let (target, existing) = txn.resolve(&plan.table)?;
    match plan.mode {
        LoadMode::Full => prepare_full(txn, plan, target, existing),
        LoadMode::Append | LoadMode::Merge | LoadMode::Scd2 => {
            prepare_existing(txn, on, plan, target, existing)
        }
    }
}

/// Puts the `written` rows in place once they are all in (and checked): swap, nothing more,
/// an append of the stage, or merge.
pub(super) fn put(
    txn: &mut dyn TargetTxn,
    on: &dyn LoadTarget,
    w: &Write,
    written: u64,
) -> Result<MergeCounts> {
    let inserted = MergeCounts {
        inserted: written,
        updated: 0,
    };
    match w.mode {
        LoadMode::Full => {
            txn.swap(&w.into, &w.target, &w.key)?;
            Ok(inserted)
        }
        LoadMode::Append if w.into != w.target => Ok(MergeCounts {
            inserted: txn.append_stage(&w.into, &w.target, &w.columns)?,
            updated: 0,
        }),
        LoadMode::Append => Ok(inserted),
        LoadMode::Merge => {
            // Before the merge, which may drop its stage once done.
            let stamped = match &w.soft_delete {
                Some(sd) => super::soft_delete::apply(txn, on, w, sd)?,
                None => 0,
            };
            let mut counts = txn.merge(&w.into, &w.target, &w.columns, &w.key)?;
            counts.updated += stamped;
            Ok(counts)
        }
        LoadMode::Scd2 => {
            let plan = w.scd2.as_ref().expect("an SCD2 load has its plan");
            super::scd::apply(txn, on, w, plan, written)
        }
    }
}

fn prepare_full(
    txn: &mut dyn TargetTxn,
    plan: &LoadPlan,
    target: TableId,
    existing: Option<Vec<TargetColumn>>,
) -> Result<Write> {
    let old = existing.unwrap_or_default();
    let defs: Vec<ColumnDef> = plan
        .schema
        .columns
        .iter()
        .map(|col| match find(&old, &col.name) {
            Some(o) if o.writable && col.data_type.widens_to(&o.data_type) => ColumnDef {
                name: o.name.clone(),
                data_type: o.data_type.clone(),
                declared: Some(o.declared.clone()),
            },
            Some(o) => ColumnDef {
                name: o.name.clone(),
                data_type: col.data_type.clone(),
                declared: None,
            },
            None => ColumnDef {
                name: col.name.clone(),
                data_type: col.data_type.clone(),
                declared: None,
            },
        })
        .collect();
    let columns: Vec<String> = defs.iter().map(|d| d.name.clone()).collect();
    let key = key_names(plan, &columns)?;
    let into = txn.create_replacement(&target, &defs, &key)?;
    let types = txn.begin_write(&into, &columns[..columns.len() - plan.filled])?;
    Ok(Write {
        mode: LoadMode::Full,
        key_columns: positions(&columns, &key),
        target,
        into,
        columns,
        key,
        types,
        scd2: None,
        soft_delete: None,
    })
}

fn prepare_existing(
    txn: &mut dyn TargetTxn,
    on: &dyn LoadTarget,
    plan: &LoadPlan,
    target: TableId,
    existing: Option<Vec<TargetColumn>>,
) -> Result<Write> {
    let created = existing.is_none();
    if let Some(sd) = &plan.soft_delete {
        super::soft_delete::refuse_loaded(&plan.table, &plan.schema.names(), sd)?;
    }
    let have = match existing {
        None => {
            let defs: Vec<ColumnDef> = plan
                .schema
                .columns
                .iter()
                .map(|c| ColumnDef {
                    name: c.name.clone(),
                    data_type: c.data_type.clone(),
                    declared: None,
                })
                .collect();
            match &plan.scd2 {
                Some(scd) => super::scd::create_dimension(txn, on, plan, scd, &target, defs)?,
                None => txn.create_table(&target, &defs, &plan.key)?,
            }
            tracing::info!(table = %plan.table, "Created table {}.", plan.table);
            Vec::new()
        }
        Some(have) => {
            if let Some(scd) = &plan.scd2 {
                super::scd::check_dimension(plan, scd, &have)?;
            }
            evolve(txn, plan, &target, &have)?;
            have
        }
    };
    if let Some(sd) = &plan.soft_delete {
        super::soft_delete::ensure_column(txn, &target, &have, sd)?;
    }
    let mut columns = Vec::with_capacity(plan.schema.len());
    for col in &plan.schema.columns {
        match find(&have, &col.name) {
            Some(t) if !t.writable => {
                return Err(EtlError::Load {
                    table: plan.table.clone(),
                    row: None,
                    column: Some(t.name.clone()),
                    message: format!(
                    "the column's type {} cannot be written by etl; change it to a supported type",
                    t.declared
                ),
                })
            }
            Some(t) => columns.push(t.name.clone()),
            None => columns.push(col.name.clone()),
        }
    }
    let key = key_names(plan, &columns)?;
    let into = if plan.mode == LoadMode::Scd2 {
        txn.create_stage(&target, &columns)?
    } else if plan.mode == LoadMode::Merge {
        if !created {
            txn.ensure_unique_key(&target, &key)?;
        }
        txn.create_stage(&target, &columns)?
    } else {
        if let Some(w) = &plan.replace_window {
            delete_window(txn, plan, &target, &columns, &have, w)?;
        }
        if plan.checked {
            txn.create_stage(&target, &columns)?
        } else {
            target.clone()
        }
    };
    let types = txn.begin_write(&into, &columns[..columns.len() - plan.filled])?;
    Ok(Write {
        mode: plan.mode,
        key_columns: positions(&columns, &key),
        target,
        into,
        columns,
        key,
        types,
        scd2: plan.scd2.clone(),
        soft_delete: plan.soft_delete.clone(),
    })
}

/// Deletes the rows of a backfill window that is loaded again without a key.
fn delete_window(
    txn: &mut dyn TargetTxn,
    plan: &LoadPlan,
    target: &TableId,
    columns: &[String],
    have: &[TargetColumn],
    w: &CursorWindow,
) -> Result<()> {
    let column = columns
        .iter()
        .chain(have.iter().map(|t| &t.name))
        .find(|c| c.eq_ignore_ascii_case(&w.column))
        .cloned()
        .ok_or_else(|| {
            EtlError::load(
                &plan.table,
                format!("cursor column '{}' is not in the table", w.column),
            )
        })?;
    let window = CursorWindow {
        column,
        ..w.clone()
    };
    let n = txn.delete_window(target, &window)?;
    tracing::info!(table = %plan.table, rows = n, "Deleted {n} rows of the window before reloading it.");
    Ok(())
}

/// Adds source columns the target lacks; refuses a source type the target column cannot
/// hold unless the load opts in (values are then converted one by one, never lossily).
fn evolve(
    txn: &mut dyn TargetTxn,
    plan: &LoadPlan,
    target: &TableId,
    have: &[TargetColumn],
) -> Result<()> {
    for col in &plan.schema.columns {
        match find(have, &col.name) {
            Some(t) => {
                if !col.data_type.widens_to(&t.data_type) && !plan.allow_type_change {
                    return Err(EtlError::Load {
                        table: plan.table.clone(),
                        row: None,
                        column: Some(t.name.clone()),
                        message: format!(
                            "the source type {} does not fit the target column type {}; change the target column, \
                             cast in the source query, or load with `allow_type_change: true`",
                            col.data_type, t.declared
                        ),
                    });
                }
            }
            None => {
                let def = ColumnDef {
                    name: col.name.clone(),
                    data_type: col.data_type.clone(),
                    declared: None,
                };
                txn.add_column(target, &def)?;
                tracing::info!(table = %plan.table, column = %col.name, r#type = %col.data_type, "Added a new source column to the target.");
            }
        }
    }
    Ok(())
}

/// Where each key column is among the written columns.
fn positions(columns: &[String], key: &[String]) -> Vec<(usize, String)> {
    key.iter()
        .filter_map(|k| columns.iter().position(|c| c == k).map(|i| (i, k.clone())))
        .collect()
}

/// The key columns by their names in the table.
fn key_names(plan: &LoadPlan, columns: &[String]) -> Result<Vec<String>> {
    plan.key
        .iter()
        .map(|k| {
            columns
                .iter()
                .find(|c| *c == k)
                .or_else(|| columns.iter().find(|c| c.eq_ignore_ascii_case(k)))
                .cloned()
                .ok_or_else(|| {
                    EtlError::load(
                        &plan.table,
                        format!(
                            "key column '{k}' is not among the loaded columns ({})",
                            plan.schema.names().join(", ")
                        ),
                    )
                })
        })
        .collect()
}

/// A column by name: exact first, then ignoring case (SQL folds unquoted names, CSV headers
/// do not).
fn find<'a>(cols: &'a [TargetColumn], name: &str) -> Option<&'a TargetColumn> {
    cols.iter()
        .find(|c| c.name == name)
        .or_else(|| cols.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
}
