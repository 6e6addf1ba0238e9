//! SCD2 dimensions (`dw.scd2(#{..})`): every version of a business key with `valid_from`,
//! `valid_to` (NULL while current), `is_current`, a hash of the tracked columns and a surrogate
//! key the database numbers. A load stages its rows like a merge, then rebuilds the history of
//! the keys whose tracked values changed, in set-based SQL inside the load's transaction:
//!
//! 1. keys missing from a complete source close their current version (`deletes: "close"`);
//! 2. a row for an instant a version already starts at corrects that version in place;
//! 3. untracked columns are updated on the current version (type 1);
//! 4. rows equal to their key's current version are dropped from the stage (the usual case,
//!    one pass over the stage);
//! 5. what is left (new keys, changes, late rows) is merged with the existing versions of its
//!    keys in time order: runs of equal hashes collapse into one version (an existing one
//!    keeps its surrogate key and may start earlier), a row after a deleted key's closed
//!    version starts a new one (the gap stays), and each version ends where the next begins.
//!
//! Every statement is portable between PostgreSQL and SQLite (window functions, UPDATE ...
//! FROM); the dialect gives only the hash and the identity type.

use super::checks::sql::ident;
use super::write::Write;
use crate::connectors::{ColumnDef, LoadTarget, MergeCounts, TableId, TargetColumn, TargetTxn};
use crate::data::DataType;
use crate::data::Value;
use crate::error::{EtlError, Result};

pub const VALID_FROM: &str = "valid_from";
pub const VALID_TO: &str = "valid_to";
pub const IS_CURRENT: &str = "is_current";
pub const ROW_HASH: &str = "row_hash";

/// Which columns make a new version when they change.
#[derive(Clone, Debug, PartialEq)]
pub enum Track {
    /// Every loaded column but the key and the `effective_from` column.
    All,
    Columns(Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scd2Spec {
    pub track: Track,
    /// A source column giving when each row's values became true (late rows then land in
    /// the right interval); without it, the run's start.
    pub effective_from: Option<String>,
    /// Close the current version of keys the source no longer has (a complete read only).
    pub close_deleted: bool,
    pub surrogate_key: String,
}

impl Scd2Spec {
    /// The columns the dimension adds to the loaded ones.
    pub fn added_columns(&self) -> [&str; 5] {
        [
            &self.surrogate_key,
            ROW_HASH,
            VALID_FROM,
            VALID_TO,
            IS_CURRENT,
        ]
    }
}

/// What one SCD2 load applies, decided when its rows' columns are known.
#[derive(Clone, Debug)]
pub(crate) struct Scd2Plan {
    pub spec: Scd2Spec,
    /// The run's start: when changes without an `effective_from` became true, and when
    /// deleted keys' versions end.
    pub now: Value,
    /// The load read the whole source (no watermark), so a missing key was deleted.
    pub complete: bool,
}

/// Applies the staged rows (`w.into`) to the dimension (`w.target()`).
pub(super) fn apply(
    txn: &mut dyn TargetTxn,
    target: &dyn LoadTarget,
    w: &Write,
    plan: &Scd2Plan,
    staged: u64,
) -> Result<MergeCounts> {
    for sql in target.stable_text_sql() {
        txn.execute(sql, &Vec::new())?;
    }
    let table = w.target().to_string();
    let stage = target.quote_id(&w.into);
    let dim = target.quote_id(w.target());
    let key: Vec<String> = w.key().iter().map(|k| ident(k)).collect();
    let columns = w.columns();
    let effective = plan.spec.effective_from.as_deref();
    let attrs: Vec<&String> = columns.iter().filter(|c| !w.key().contains(c)).collect();
    let tracked: Vec<String> = match &plan.spec.track {
        Track::All => attrs
            .iter()
            .filter(|c| Some(c.as_str()) != effective)
            .map(|c| c.to_string())
            .collect(),
        Track::Columns(cols) => cols
            .iter()
            .map(|t| {
                columns
                    .iter()
                    .find(|c| c.eq_ignore_ascii_case(t))
                    .cloned()
                    .ok_or_else(|| {
                        EtlError::load(
                            &table,
                            format!(
                                "scd2: tracked column '{t}' is not among the loaded columns ({})",
                                columns.join(", ")
                            ),
                        )
                    })
            })
            .collect::<Result<_>>()?,
    };
    if tracked.is_empty() {
        return Err(EtlError::load(
            &table,
            "scd2: no column to track: load at least one column besides the key",
        ));
    }
    let on = |a: &str, b: &str| -> String {
        key.iter()
            .map(|k| format!("{a}.{k} = {b}.{k}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let hash = |alias: &str| -> String {
        target.row_hash(
            &tracked
                .iter()
                .map(|c| format!("{alias}.{}", ident(c)))
                .collect::<Vec<_>>(),
        )
    };
    let now = vec![("now".to_string(), now_as(plan, w, effective))];
    let eff = |alias: &str| -> String {
        match effective {
            Some(c) => format!("{alias}.{}", ident(c)),
            None => ":now".into(),
        }
    };
    let (vf, vt, cur, rh) = (
        ident(VALID_FROM),
        ident(VALID_TO),
        ident(IS_CURRENT),
        ident(ROW_HASH),
    );
    let sk = ident(&plan.spec.surrogate_key);
    let key_list = key.join(", ");
    let mut counts = MergeCounts::default();
    // Tracked values compared column by column: exact, and no hash computed per staged row
    // (the hash is only written for the versions inserted).
    let same_tracked = |a: &str, b: &str| -> String {
        tracked
            .iter()
            .map(|c| format!("{a}.{c} IS NOT DISTINCT FROM {b}.{c}", c = ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    // No ANALYZE of the stage: the statements that read all of it hash the dimension
    // whatever its statistics say (measured), and ANALYZE of a million rows costs 0.2 s. The
    // few rows set aside from it are analyzed below, where plans do depend on their number.
    for sql in target.set_based_sql() {
        txn.execute(sql, &Vec::new())?;
    }

    // One row per key and instant: two would be two versions starting together.
    let instant = match effective {
        Some(c) => format!(", {}", ident(c)),
        None => String::new(),
    };
    // A one-column key is first counted in a sort (a third of the GROUP BY's time on a
    // million keys); the GROUP BY names a repeated key when there is one.
    let repeated = if key.len() == 1 && effective.is_none() {
        let k = &key[0];
        txn.query(
            &format!("SELECT count({k}) - count(DISTINCT {k}) FROM {stage}"),
            &Vec::new(),
            1,
        )?
        .rows
        .first()
        .and_then(|r| r.first())
        .and_then(Value::as_i64)
        .unwrap_or(1)
            > 0
    } else {
        true
    };
    let dup = if repeated {
        txn.query(
            &format!("SELECT {key_list}{instant} FROM {stage} GROUP BY {key_list}{instant} HAVING count(*) > 1"),
            &Vec::new(),
            1,
        )?
        .rows
    } else {
        Vec::new()
    };
    if let Some(row) = dup.first() {
        let shown: Vec<String> = row
            .iter()
            .map(|v| v.to_text().unwrap_or_else(|| "NULL".into()))
            .collect();
        return Err(EtlError::load(
            &table,
            format!(
                "scd2: the source has several rows for ({}) = ({}); a dimension takes one row per key{}",
                w.key()
                    .iter()
                    .map(String::as_str)
                    .chain(effective)
                    .collect::<Vec<_>>()
                    .join(", "),
                shown.join(", "),
                if effective.is_some() {
                    " and instant"
                } else {
                    " per load (give `effective_from: \"COLUMN\"` to load several versions at once)"
                }
            ),
        ));
    }

    let col_list = columns
        .iter()
        .map(|c| ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    let s_cols = columns
        .iter()
        .map(|c| format!("s.{}", ident(c)))
        .collect::<Vec<_>>()
        .join(", ");

    // A new (or emptied) dimension without `effective_from`: one row per key, so every row
    // is its key's first version, written in one pass.
    if effective.is_none()
        && txn
            .query(&format!("SELECT 1 FROM {dim} LIMIT 1"), &Vec::new(), 1)?
            .rows
            .is_empty()
    {
        counts.inserted = txn.execute(
            &format!(
                "INSERT INTO {dim} ({col_list}, {rh}, {vf}, {vt}, {cur}) \
                 SELECT {s_cols}, {}, :now, NULL, (1 = 1) FROM {stage} AS s",
                hash("s")
            ),
            &now,
        )?;
        return Ok(counts);
    }

    if plan.spec.close_deleted && plan.complete {
        counts.updated += txn.execute(
            &format!(
                "UPDATE {dim} AS d SET {vt} = :now, {cur} = (1 = 0) WHERE d.{vt} IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE {})",
                on("s", "d")
            ),
            &now,
        )?;
    }

    // Updated in place on the current version (type 1); the `effective_from` column belongs
    // to the version it started.
    let untracked: Vec<String> = attrs
        .iter()
        .filter(|c| !tracked.contains(c) && Some(c.as_str()) != effective)
        .map(|c| ident(c))
        .collect();
    // Whether a staged row's untracked values differ from a version's.
    let untracked_differ: Vec<String> = untracked
        .iter()
        .map(|c| format!("d.{c} IS DISTINCT FROM s.{c}"))
        .collect();
    let same_untracked: Vec<String> = untracked
        .iter()
        .map(|c| format!(" AND d.{c} IS NOT DISTINCT FROM s.{c}"))
        .collect();

    // The usual case is a row equal to its key's current version: one pass over the stage
    // sets the others aside (new keys, changes, late rows, type-1 corrections), a small table
    // where the stage may hold millions, and every later statement reads only that one.
    let changed = txn.create_work(w.target(), columns, "etl_scd_changed")?;
    let changed = target.quote_id(&changed);
    let n_changed = txn.execute(
        &format!(
            "INSERT INTO {changed} ({col_list}) SELECT {s_cols} FROM {stage} AS s \
             WHERE NOT EXISTS (SELECT 1 FROM {dim} AS d WHERE {} \
             AND d.{vt} IS NULL AND {}{} AND d.{vf} <= {})",
            on("d", "s"),
            same_tracked("d", "s"),
            same_untracked.concat(),
            eff("s")
        ),
        &now,
    )?;
    if let Some(sql) = target.analyze_sql(&changed) {
        txn.execute(&sql, &Vec::new())?;
    }
    let stage = changed;
    // Few changed rows (at most one in 20 of those read) meet the dimension by its indexes
    // (the key and versions index, the surrogate key) in the statements that join the two;
    // probing costs about 15 times a row hashed, so past that the planner's hash joins win.
    let probe = n_changed.saturating_mul(20) <= staged;
    let probing = |txn: &mut dyn TargetTxn, on: bool| -> Result<()> {
        if probe {
            for sql in target.index_probes_sql(on) {
                txn.execute(sql, &Vec::new())?;
            }
        }
        Ok(())
    };
    probing(txn, true)?;

    if effective.is_some() {
        let set: Vec<String> = attrs
            .iter()
            .map(|c| format!("{} = s.{}", ident(c), ident(c)))
            .chain([format!("{rh} = {}", hash("s"))])
            .collect();
        let differs: Vec<String> = [format!("NOT ({})", same_tracked("d", "s"))]
            .into_iter()
            .chain(untracked_differ.iter().cloned())
            .collect();
        counts.updated += txn.execute(
            &format!(
                "UPDATE {dim} AS d SET {} FROM {stage} AS s WHERE {} AND d.{vf} = {} AND ({})",
                set.join(", "),
                on("d", "s"),
                eff("s"),
                differs.join(" OR ")
            ),
            &now,
        )?;
        txn.execute(
            &format!(
                "DELETE FROM {stage} AS s WHERE EXISTS (SELECT 1 FROM {dim} AS d WHERE {} AND d.{vf} = {})",
                on("d", "s"),
                eff("s")
            ),
            &now,
        )?;
    }

    if !untracked.is_empty() {
        let set: Vec<String> = untracked.iter().map(|c| format!("{c} = s.{c}")).collect();
        counts.updated += txn.execute(
            &format!(
                "UPDATE {dim} AS d SET {} FROM {stage} AS s WHERE {} AND d.{vt} IS NULL \
                 AND ({}) AND {}",
                set.join(", "),
                on("d", "s"),
                untracked_differ.join(" OR "),
                same_tracked("d", "s")
            ),
            &Vec::new(),
        )?;
    }

    // Rows whose tracked values equal their key's current version were type-1 corrections
    // at most (applied above): they start no version.
    txn.execute(
        &format!(
            "DELETE FROM {stage} AS s WHERE EXISTS (SELECT 1 FROM {dim} AS d WHERE {} \
             AND d.{vt} IS NULL AND {} AND d.{vf} <= {})",
            on("d", "s"),
            same_tracked("d", "s"),
            eff("s")
        ),
        &now,
    )?;

    // The versions of the keys that change, and the new rows, in one table.
    let all: Vec<String> = [plan.spec.surrogate_key.clone()]
        .into_iter()
        .chain(columns.iter().cloned())
        .chain([ROW_HASH, VALID_FROM, VALID_TO, IS_CURRENT].map(String::from))
        .collect();
    let work = txn.create_work(w.target(), &all, "etl_scd_work")?;
    let work = target.quote_id(&work);
    let all_list = all.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
    txn.execute(
        &format!(
            "INSERT INTO {work} ({all_list}) SELECT {all_list} FROM {dim} AS d \
             WHERE EXISTS (SELECT 1 FROM {stage} AS s WHERE {})",
            on("s", "d")
        ),
        &Vec::new(),
    )?;
    let versioned = txn.execute(
        &format!(
            "INSERT INTO {work} ({col_list}, {rh}, {vf}) SELECT {s_cols}, {}, {} FROM {stage} AS s",
            hash("s"),
            eff("s")
        ),
        &now,
    )?;
    if versioned == 0 {
        probing(txn, false)?;
        return Ok(counts);
    }
    probing(txn, false)?;

    // Each version after the rebuild: its surrogate key (NULL: a new row to insert), start,
    // end and whether it is current.
    let versions: Vec<String> = key
        .iter()
        .cloned()
        .chain([sk.clone(), vf.clone(), vt.clone(), cur.clone()])
        .collect();
    let result = txn.create_work(
        w.target(),
        &w.key()
            .iter()
            .cloned()
            .chain([
                plan.spec.surrogate_key.clone(),
                VALID_FROM.into(),
                VALID_TO.into(),
                IS_CURRENT.into(),
            ])
            .collect::<Vec<_>>(),
        "etl_scd_versions",
    )?;
    let result = target.quote_id(&result);
    let order =
        format!("PARTITION BY {key_list} ORDER BY {vf}, CASE WHEN {sk} IS NULL THEN 1 ELSE 0 END");
    txn.execute(
        &format!(
            "INSERT INTO {result} ({versions}) \
             SELECT {key_list}, gsk, gfrom, gto, CASE WHEN gto IS NULL THEN (1 = 1) ELSE (1 = 0) END FROM ( \
               SELECT {key_list}, gsk, gfrom, \
                 CASE WHEN next_from IS NULL THEN last_to \
                      WHEN last_to IS NOT NULL AND last_to < next_from THEN last_to \
                      ELSE next_from END AS gto \
               FROM ( SELECT {key_list}, gsk, gfrom, last_to, \
                 LEAD(gfrom) OVER (PARTITION BY {key_list} ORDER BY gfrom) AS next_from \
               FROM ( \
                 SELECT {key_list}, grp, MIN({sk}) AS gsk, MIN({vf}) AS gfrom, \
                   MAX(CASE WHEN {sk} IS NOT NULL THEN {vt} END) AS last_to \
                 FROM ( \
                   SELECT {key_list}, {sk}, {vf}, {vt}, \
                     SUM(brk) OVER ({order} ROWS UNBOUNDED PRECEDING) AS grp \
                   FROM ( \
                     SELECT {key_list}, {sk}, {vf}, {vt}, \
                       CASE WHEN LAG({rh}) OVER o IS NULL OR LAG({rh}) OVER o <> {rh} THEN 1 \
                            WHEN LAG({vt}) OVER o IS NOT NULL AND LAG({vt}) OVER o <= {vf} THEN 1 \
                            ELSE 0 END AS brk \
                     FROM {work} WINDOW o AS ({order}) \
                   ) marked \
                 ) grouped GROUP BY {key_list}, grp \
               ) collapsed ) linked \
             ) ended",
            versions = versions.join(", "),
        ),
        &Vec::new(),
    )?;
    probing(txn, true)?;
    counts.updated += txn.execute(
        &format!(
            "UPDATE {dim} AS d SET {vf} = r.{vf}, {vt} = r.{vt}, {cur} = r.{cur} FROM {result} AS r \
             WHERE d.{sk} = r.{sk} AND (d.{vf} IS DISTINCT FROM r.{vf} OR d.{vt} IS DISTINCT FROM r.{vt})"
        ),
        &Vec::new(),
    )?;
    // The new versions join two scratch tables without indexes: the planner's choice.
    probing(txn, false)?;
    let w_cols = columns
        .iter()
        .map(|c| format!("w.{}", ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    counts.inserted = txn.execute(
        &format!(
            "INSERT INTO {dim} ({col_list}, {rh}, {vf}, {vt}, {cur}) \
             SELECT {w_cols}, w.{rh}, r.{vf}, r.{vt}, r.{cur} FROM {result} AS r \
             JOIN {work} AS w ON {} AND w.{sk} IS NULL AND w.{vf} = r.{vf} WHERE r.{sk} IS NULL",
            on("w", "r")
        ),
        &Vec::new(),
    )?;
    Ok(counts)
}

/// The unique index of a dimension's versions: one per key and start (lookups of the
/// version valid at a date use it too).
pub(super) fn versions_index(target: &dyn LoadTarget, dim: &TableId, key: &[String]) -> String {
    let cols: Vec<String> = key
        .iter()
        .map(|k| ident(k))
        .chain([ident(VALID_FROM)])
        .collect();
    format!(
        "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} ({})",
        ident(&format!("{}_versions", dim.name)),
        target.quote_id(dim),
        cols.join(", ")
    )
}

/// Creates the dimension: its surrogate key first, the loaded columns, then the version
/// columns (their time type is the `effective_from` column's, else timestamptz).
pub(super) fn create_dimension(
    txn: &mut dyn TargetTxn,
    on: &dyn LoadTarget,
    plan: &super::write::LoadPlan,
    scd: &Scd2Plan,
    dim: &TableId,
    loaded: Vec<ColumnDef>,
) -> Result<()> {
    reserved(plan, &scd.spec, loaded.iter().map(|c| c.name.as_str()))?;
    let time = match &scd.spec.effective_from {
        Some(c) => loaded
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(c))
            .map(|d| d.data_type.clone())
            .ok_or_else(|| {
                EtlError::load(
                    &plan.table,
                    format!("scd2: effective_from column '{c}' is not among the loaded columns"),
                )
            })?,
        None => DataType::TimestampTz,
    };
    let def = |name: &str, data_type: DataType| ColumnDef {
        name: name.into(),
        data_type,
        declared: None,
    };
    let defs: Vec<ColumnDef> = [ColumnDef {
        name: scd.spec.surrogate_key.clone(),
        data_type: DataType::Int64,
        declared: Some(on.identity_type().into()),
    }]
    .into_iter()
    .chain(loaded)
    .chain([
        def(ROW_HASH, DataType::Text { max_len: None }),
        def(VALID_FROM, time.clone()),
        def(VALID_TO, time),
        def(IS_CURRENT, DataType::Bool),
    ])
    .collect();
    txn.create_table(dim, &defs, std::slice::from_ref(&scd.spec.surrogate_key))?;
    txn.execute(&versions_index(on, dim, &plan.key), &Vec::new())?;
    Ok(())
}

/// An existing table must already be a dimension of this kind.
pub(super) fn check_dimension(
    plan: &super::write::LoadPlan,
    scd: &Scd2Plan,
    have: &[TargetColumn],
) -> Result<()> {
    reserved(plan, &scd.spec, plan.schema.names().into_iter())?;
    let missing: Vec<&str> = scd
        .spec
        .added_columns()
        .into_iter()
        .filter(|c| !have.iter().any(|t| t.name.eq_ignore_ascii_case(c)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(EtlError::load(
        &plan.table,
        format!(
            "scd2: the table exists but is not an SCD2 dimension (it has no {}); load into a new \
             table, or add the columns ({} is the surrogate key: surrogate_key names another)",
            missing.join(", "),
            scd.spec.surrogate_key
        ),
    ))
}

/// The loaded columns cannot use the names the dimension adds.
fn reserved<'a>(
    plan: &super::write::LoadPlan,
    spec: &Scd2Spec,
    mut loaded: impl Iterator<Item = &'a str>,
) -> Result<()> {
    let added = spec.added_columns();
    match loaded.find(|c| added.iter().any(|a| a.eq_ignore_ascii_case(c))) {
        Some(c) => Err(EtlError::load(
            &plan.table,
            format!(
                "scd2: the source has a column '{c}', a name the dimension keeps for itself ({}); \
                 rename it in the source query",
                added.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// The run's start in the type of the dimension's time columns (the `effective_from`
/// column's): the instant in UTC for a timestamp without zone, its date for a date.
fn now_as(plan: &Scd2Plan, w: &Write, effective: Option<&str>) -> Value {
    let Value::TimestampTz(now) = plan.now else {
        return plan.now.clone();
    };
    let time_type = effective
        .and_then(|c| w.columns().iter().position(|n| n.eq_ignore_ascii_case(c)))
        .and_then(|i| w.types.columns.get(i))
        .map(|c| c.data_type.clone());
    match time_type {
        Some(DataType::Timestamp) => Value::Timestamp(now.naive_utc()),
        Some(DataType::Date) => Value::Date(now.date_naive()),
        _ => plan.now.clone(),
    }
}
