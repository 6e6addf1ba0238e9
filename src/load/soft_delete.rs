//! `scd1(#{ soft_delete: "deleted_at" })`: a merge on the business key that also stamps the
//! keys a complete read no longer has, and clears the stamp when a key comes back. Rows are
//! never deleted, so facts that point at a gone member keep their dimension row.

use super::checks::sql::ident;
use super::write::Write;
use crate::connectors::{ColumnDef, LoadTarget, TableId, TargetColumn, TargetTxn};
use crate::data::{DataType, Value};
use crate::error::{EtlError, Result};

#[derive(Clone, Debug)]
pub(crate) struct SoftDelete {
    pub column: String,
    /// The run's start: when the missing keys were found gone.
    pub now: Value,
    /// The load read every key (no window, no `.limit`): only then is a missing key deleted.
    pub complete: bool,
}

/// Refuses a source that brings a column of the stamp's name: etl owns it (a loaded value
/// would be overwritten on every run).
pub(super) fn refuse_loaded(table: &str, loaded: &[&str], sd: &SoftDelete) -> Result<()> {
    if loaded.iter().any(|c| c.eq_ignore_ascii_case(&sd.column)) {
        return Err(EtlError::load(
            table,
            format!(
                "scd1(): the source has a column '{}', which soft_delete stamps itself; rename it in the \
                 source or give soft_delete another column name",
                sd.column
            ),
        ));
    }
    Ok(())
}

/// Adds the stamp column when the table lacks it.
pub(super) fn ensure_column(
    txn: &mut dyn TargetTxn,
    target: &TableId,
    have: &[TargetColumn],
    sd: &SoftDelete,
) -> Result<()> {
    if !have.iter().any(|c| c.name.eq_ignore_ascii_case(&sd.column)) {
        txn.add_column(
            target,
            &ColumnDef {
                name: sd.column.clone(),
                data_type: DataType::TimestampTz,
                declared: None,
            },
        )?;
    }
    Ok(())
}

/// After the merge: stamps keys missing from the stage, clears the stamp of keys in it.
/// Returns the rows changed.
pub(super) fn apply(
    txn: &mut dyn TargetTxn,
    target: &dyn LoadTarget,
    w: &Write,
    sd: &SoftDelete,
) -> Result<u64> {
    let stage = target.quote_id(&w.into);
    let table = target.quote_id(w.target());
    let col = ident(&sd.column);
    let on = w
        .key()
        .iter()
        .map(|k| format!("s.{k} = d.{k}", k = ident(k)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let mut changed = 0;
    if sd.complete {
        changed += txn.execute(
            &format!(
                "UPDATE {table} AS d SET {col} = :now WHERE d.{col} IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE {on})"
            ),
            &vec![("now".to_string(), sd.now.clone())],
        )?;
    }
    changed += txn.execute(
        &format!(
            "UPDATE {table} AS d SET {col} = NULL WHERE d.{col} IS NOT NULL \
             AND EXISTS (SELECT 1 FROM {stage} AS s WHERE {on})"
        ),
        &Vec::new(),
    )?;
    Ok(changed)
}
