//! Surrogate keys of facts (`lookups: [#{ dim, on, take }]` on a load): the fact's rows are
//! staged with an empty column per lookup, which one UPDATE fills from the dimension inside
//! the load's transaction: the current version, or with `at` the version valid at a date
//! column of the fact (SCD2 dimensions). Rows with no match get the `unknown` key and are
//! counted, so a fact row is never lost for want of its dimension member.

use super::checks::sql::ident;
use super::scd::{VALID_FROM, VALID_TO};
use super::write::Write;
use crate::connectors::{LoadTarget, TargetTxn};
use crate::data::{Column, DataType, Schema, Value};
use crate::error::{EtlError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct Lookup {
    /// The dimension table.
    pub dim: String,
    /// The fact's column holding the business key.
    pub on: String,
    /// The dimension's business key column (default: `on`).
    pub dim_on: String,
    /// The dimension's surrogate key column; the fact's column of the same name gets it.
    pub take: String,
    /// A date or timestamp column of the fact: the version valid then (SCD2).
    pub at: Option<String>,
    /// The key given to rows whose member the dimension lacks.
    pub unknown: i64,
}

impl Lookup {
    /// `customer_id -> dw.dim_customer.customer_sk`
    pub fn describe(&self) -> String {
        format!("{} -> {}.{}", self.on, self.dim, self.take)
    }
}

/// The load's columns with one more per lookup, after the read ones (filled later).
pub(super) fn with_filled(schema: Schema, lookups: &[Lookup], table: &str) -> Result<Schema> {
    let mut columns = schema.columns;
    for l in lookups {
        if columns.iter().any(|c| c.name.eq_ignore_ascii_case(&l.take)) {
            return Err(EtlError::load(
                table,
                format!(
                    "lookup {}: the rows already have a column '{}'; drop it from the source or take into another name",
                    l.describe(),
                    l.take
                ),
            ));
        }
        if !columns.iter().any(|c| c.name.eq_ignore_ascii_case(&l.on)) {
            return Err(EtlError::load(
                table,
                format!(
                    "lookup {}: the rows have no column '{}' ({})",
                    l.describe(),
                    l.on,
                    columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        columns.push(Column::new(&l.take, DataType::Int64));
    }
    Ok(Schema::new(columns))
}

/// Fills each lookup's column of the staged rows; returns how many rows got the unknown key,
/// per lookup.
pub(super) fn resolve(
    txn: &mut dyn TargetTxn,
    target: &dyn LoadTarget,
    w: &Write,
    lookups: &[Lookup],
) -> Result<Vec<u64>> {
    let staged = target.quote_id(&w.into);
    let table = w.target().to_string();
    let mut unknown = Vec::with_capacity(lookups.len());
    for l in lookups {
        let (dim_id, dim_columns) = txn.resolve(&l.dim)?;
        let Some(dim_columns) = dim_columns else {
            return Err(EtlError::load(
                &table,
                format!(
                    "lookup {}: the dimension {} does not exist; load it in a task this one runs after",
                    l.describe(),
                    l.dim
                ),
            ));
        };
        let has = |c: &str| dim_columns.iter().any(|d| d.name.eq_ignore_ascii_case(c));
        for c in [&l.dim_on, &l.take] {
            if !has(c) {
                return Err(EtlError::load(
                    &table,
                    format!(
                        "lookup {}: the dimension {} has no column '{c}'",
                        l.describe(),
                        l.dim
                    ),
                ));
            }
        }
        let history = has(VALID_FROM) && has(VALID_TO);
        let (vf, vt) = (ident(VALID_FROM), ident(VALID_TO));
        let version = match (&l.at, history) {
            (Some(at), true) => {
                let at = format!("f.{}", ident(at));
                format!(" AND d.{vf} <= {at} AND (d.{vt} IS NULL OR {at} < d.{vt})")
            }
            (None, true) => format!(" AND d.{vt} IS NULL"),
            (Some(_), false) => {
                return Err(EtlError::load(
                    &table,
                    format!(
                        "lookup {}: `at` picks a version, but {} has no valid_from/valid_to (it is not an scd2() dimension)",
                        l.describe(),
                        l.dim
                    ),
                ))
            }
            (None, false) => String::new(),
        };
        let take = ident(&l.take);
        txn.execute(
            &format!(
                "UPDATE {staged} AS f SET {take} = (SELECT d.{take} FROM {} AS d WHERE d.{} = f.{}{version})",
                target.quote_id(&dim_id),
                ident(&l.dim_on),
                ident(&l.on)
            ),
            &Vec::new(),
        )?;
        let missing = txn.execute(
            &format!("UPDATE {staged} SET {take} = :unknown WHERE {take} IS NULL"),
            &vec![("unknown".to_string(), Value::Int64(l.unknown))],
        )?;
        if missing > 0 {
            tracing::warn!(table = %table, lookup = %l.describe(), rows = missing, "{missing} rows have no member in {} ({} = {}).", l.dim, l.take, l.unknown);
        }
        unknown.push(missing);
    }
    Ok(unknown)
}
