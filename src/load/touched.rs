//! What this run's loads touched, for aggregates (`dw.aggregate(..)`). An aggregate registers
//! the tables it reads and their window column in `etl_agg_watch` (beside `etl_runs`); from
//! then on every load into one of those tables writes, inside its own transaction (so only a
//! committed load counts), the days its rows had before and after it into `etl_touched`:
//!
//! - the new rows' days (the stage: a watched append is staged for this);
//! - for a merge or SCD2 load, the days the existing rows of the staged keys had before it (a
//!   row moved from one day to another touches both);
//! - for a soft delete, the days of the rows about to be stamped;
//! - a full replace, or a backfill window reloaded without a key, which removes rows it does
//!   not list, records a NULL day: the aggregate then rebuilds everything.
//!
//! The aggregate reads the ids past the one its last successful run consumed, so touches of a
//! run whose aggregate failed are picked up by the next one.

use super::checks::sql::ident;
use super::write::Write;
use super::LoadMode;
use crate::connectors::{AuditStore, LoadTarget, Params, TableId, TargetTxn};
use crate::data::Value;
use crate::error::Result;

pub const WATCH: &str = "etl_agg_watch";
pub const TOUCHED: &str = "etl_touched";

/// `name` beside the audit table (same schema, same scratch prefix), unquoted as a script
/// would name it.
pub(crate) fn beside_audit(audit: &dyn AuditStore, name: &str) -> String {
    let quoted = audit.quoted_table().replace(['"', '`'], "");
    match quoted.rsplit_once("etl_runs") {
        Some((before, after)) => format!("{before}{name}{after}"),
        None => name.to_string(),
    }
}

/// The SQL of the day a value falls on, portable: dates and timestamps print as
/// `YYYY-MM-DD...` in both dialects (PostgreSQL after the target's `stable_text_sql`).
pub(crate) fn day_of(expr: &str) -> String {
    format!("substr(CAST({expr} AS TEXT), 1, 10)")
}

/// The window columns aggregates watch on `table` (None when no aggregate reads it).
pub(super) fn watched(
    txn: &mut dyn TargetTxn,
    target: &dyn LoadTarget,
    audit: &dyn AuditStore,
    table: &str,
) -> Result<Option<Watch>> {
    let (watch, cols) = txn.resolve(&beside_audit(audit, WATCH))?;
    if cols.is_none() {
        return Ok(None);
    }
    let (touched, _) = txn.resolve(&beside_audit(audit, TOUCHED))?;
    let rows = txn.query(
        &format!(
            "SELECT DISTINCT window_column FROM {} WHERE read_table = :t",
            target.quote_id(&watch)
        ),
        &vec![("t".into(), Value::Text(table.to_ascii_lowercase()))],
        10_000,
    )?;
    let columns: Vec<String> = rows
        .rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().and_then(|v| v.to_text()))
        .collect();
    Ok((!columns.is_empty()).then_some(Watch { touched, columns }))
}

/// Where touches go and which columns make them.
#[derive(Clone, Debug)]
pub(super) struct Watch {
    touched: TableId,
    columns: Vec<String>,
}

/// Records the days this load touches, before its rows are put in place.
pub(super) fn capture(
    txn: &mut dyn TargetTxn,
    target: &dyn LoadTarget,
    watch: &Watch,
    w: &Write,
    run_id: &str,
    table: &str,
    whole: bool,
) -> Result<u64> {
    for sql in target.stable_text_sql() {
        txn.execute(sql, &Vec::new())?;
    }
    let touched = target.quote_id(&watch.touched);
    let params: Params = vec![
        ("run".into(), Value::Text(run_id.to_string())),
        ("t".into(), Value::Text(table.to_ascii_lowercase())),
    ];
    let insert = format!("INSERT INTO {touched} (run_id, read_table, day)");
    let staged = w.into != *w.target();
    if whole || !staged || w.mode() == LoadMode::Full {
        return txn.execute(&format!("{insert} VALUES (:run, :t, NULL)"), &params);
    }
    let stage = target.quote_id(&w.into);
    let dest = target.quote_id(w.target());
    let on = w
        .key()
        .iter()
        .map(|k| format!("s.{k} = d.{k}", k = ident(k)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let mut n = 0;
    for col in &watch.columns {
        let Some(col) = w.columns().iter().find(|c| c.eq_ignore_ascii_case(col)) else {
            tracing::warn!(table, column = %col, "An aggregate windows {table} by '{col}', which this load does not write; it will rebuild everything.");
            n += txn.execute(&format!("{insert} VALUES (:run, :t, NULL)"), &params)?;
            continue;
        };
        let c = ident(col);
        let merged = !w.key().is_empty() && w.mode() == LoadMode::Merge;
        // A merged row equal to the one it meets changes nothing and touches no window (the
        // boundary rows an incremental read takes again are the usual case).
        let same = w
            .columns()
            .iter()
            .map(|c| format!("d.{c} IS NOT DISTINCT FROM s.{c}", c = ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let unchanged = format!("SELECT 1 FROM {dest} AS d WHERE {on} AND {same}");
        let mut parts = vec![if merged {
            format!(
                "SELECT DISTINCT {} AS day FROM {stage} AS s WHERE NOT EXISTS ({unchanged})",
                day_of(&format!("s.{c}"))
            )
        } else {
            format!(
                "SELECT DISTINCT {} AS day FROM {stage} AS s",
                day_of(&format!("s.{c}"))
            )
        }];
        if !w.key().is_empty() && w.mode() != LoadMode::Append {
            // The days the rows had before: a row moved to another day touches both.
            let differs = if merged {
                format!(" AND NOT ({same})")
            } else {
                String::new()
            };
            parts.push(format!(
                "SELECT {} FROM {dest} AS d WHERE EXISTS (SELECT 1 FROM {stage} AS s WHERE {on}{differs})",
                day_of(&format!("d.{c}"))
            ));
        }
        if let Some(sd) = w.soft_delete().filter(|sd| sd.complete) {
            parts.push(format!(
                "SELECT {} FROM {dest} AS d WHERE d.{} IS NULL AND NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE {on})",
                day_of(&format!("d.{c}")),
                ident(&sd.column)
            ));
        }
        n += txn.execute(
            &format!(
                "{insert} SELECT :run, :t, day FROM ({}) AS etl_days",
                parts.join(" UNION ")
            ),
            &params,
        )?;
    }
    Ok(n)
}
