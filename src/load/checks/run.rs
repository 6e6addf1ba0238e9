//! Running a list of checks over a set of rows: a load's new rows inside its transaction, or a
//! table through a connection. The checks that look at one row at a time share one scan, which
//! also finds the span of each `relationships` column; the one-column `unique` checks share a
//! second query; `relationships`, `sql_check` and `unique` on several columns are a query each;
//! failing rows are counted and sampled only for a check that failed. None changes anything.

use chrono::{DateTime, NaiveTime, Utc};

use super::distinct::KeyBits;
use super::result::{CheckResult, CheckStatus};
use super::spec::{CheckKind, CheckSpec, Severity};
use super::sql::{probe, with_new};
use crate::connectors::{Params, Rows};
use crate::data::{DataType, Value};
use crate::error::{EtlError, Result};

/// Failing rows shown per check.
const SAMPLES: usize = 10;

/// Where checks run: a load's transaction or a connection's read-only queries.
pub trait CheckTarget {
    fn query(&mut self, sql: &str, params: &Params, max_rows: usize) -> Result<Rows>;
    /// A table the script names, quoted in this dialect (`relationships` looks into it).
    fn quoted_table(&self, name: &str) -> String;
    /// An expression compared as a number in this dialect.
    fn as_number(&self, expr: &str) -> String;
    /// The dialect's query for keys of a bitmap missing from a table (`LoadTarget`'s
    /// `missing_keys_sql`), with the table as the script names it.
    fn missing_keys_sql(&self, _table: &str, _column: &str) -> Option<String> {
        None
    }
}

/// The results of a list of checks.
pub struct Checked {
    pub results: Vec<CheckResult>,
}

impl Checked {
    /// The error-level failures, as one message naming each (None when there are none).
    pub fn errors(&self) -> Option<String> {
        let failed: Vec<String> = self
            .results
            .iter()
            .filter(|r| r.is_error())
            .map(CheckResult::describe)
            .collect();
        (!failed.is_empty()).then(|| failed.join("; "))
    }
}

/// What the checks look at.
pub struct Rowset<'a> {
    /// The table as the script names it (results, messages).
    pub table: &'a str,
    /// The rows as SQL: a quoted table (the load's new rows, or the table checked).
    pub rows: &'a str,
    /// Columns identifying a row in samples (the load's key), empty for none.
    pub key: &'a [String],
    /// Rows of the previous successful load of the table (`row_count`'s `max_change`).
    pub previous_rows: Option<i64>,
    /// The integer values of `relationships` columns, seen as the rows were written.
    pub keys: Vec<KeyBits>,
    /// Sets of columns the rows are already known to be unique on (a full load's key, built
    /// before its checks; an integer column whose values were all told apart as the rows were
    /// written): `unique` on one of them passes without a query.
    pub unique: Vec<Vec<String>>,
}

pub fn run_checks(
    target: &mut dyn CheckTarget,
    set: &Rowset<'_>,
    checks: &[CheckSpec],
    default: Severity,
) -> Result<Checked> {
    let scan = Scan::run(target, set, checks)?;
    let mut results = Vec::with_capacity(checks.len());
    for (i, check) in checks.iter().enumerate() {
        let severity = check.severity.unwrap_or(default);
        let fail = |e: EtlError| EtlError::load(set.table, format!("check {}: {e}", check.name));
        let (failing, samples, detail) =
            measure(target, set, i, &check.kind, &scan).map_err(fail)?;
        results.push(CheckResult {
            table: set.table.to_string(),
            check: check.name.clone(),
            severity,
            status: if failing > 0 {
                CheckStatus::Failed
            } else {
                CheckStatus::Passed
            },
            failing,
            samples,
            detail,
        });
    }
    Ok(Checked { results })
}

/// What a scan of the rows found for every check that needs no more than that: the row
/// count, each column's newest value (`freshness`), how many rows fail each one-row condition
/// (`not_null`, `accepted_values`, `range`), the lowest and highest key of each
/// `relationships`, and (in a second query) how many repeat a one-column `unique` key. Six
/// checks over a million rows then read them three times, not six; only a failing check's
/// samples cost another query.
struct Scan {
    row: Vec<Value>,
    /// Per check, its column in `row`.
    at: Vec<Option<usize>>,
}

impl Scan {
    fn run(target: &mut dyn CheckTarget, set: &Rowset<'_>, checks: &[CheckSpec]) -> Result<Scan> {
        let mut exprs = vec!["count(*)".to_string()];
        let mut params = Params::new();
        let mut at = Vec::with_capacity(checks.len());
        let mut scanned = Vec::new();
        let mut distinct: Vec<(usize, String)> = Vec::new();
        for (i, check) in checks.iter().enumerate() {
            let expr = match &check.kind {
                CheckKind::RowCount { .. } => {
                    at.push(Some(0));
                    scanned.push(check.name.as_str());
                    continue;
                }
                CheckKind::Freshness { column, .. } => {
                    Some(format!("max({})", super::sql::ident(column)))
                }
                // Surplus rows of a one-column key: a sort, three times cheaper than the
                // GROUP BY that names the duplicates (run only when there are some). Counted
                // in a query of its own: a DISTINCT aggregate keeps the whole scan on one
                // core, where the rest is counted in parallel.
                CheckKind::Unique(cols) if cols.len() == 1 && !kind_proven(&check.kind, set) => {
                    let c = super::sql::ident(&cols[0]);
                    distinct.push((i, format!("count({c}) - count(DISTINCT {c})")));
                    scanned.push(check.name.as_str());
                    None
                }
                // The span of the keys to look up (`Scan::span`): min, then max beside it.
                CheckKind::Relationships { column, .. } => {
                    let c = super::sql::ident(column);
                    at.push(Some(exprs.len()));
                    exprs.push(format!("min({c})"));
                    exprs.push(format!("max({c})"));
                    scanned.push(check.name.as_str());
                    continue;
                }
                kind => row_probe(target, set, i, kind).and_then(|p| {
                    let failing = p.failing?;
                    params.extend(p.params);
                    Some(format!("count(CASE WHEN {failing} THEN 1 END)"))
                }),
            };
            at.push(expr.map(|e| {
                exprs.push(e);
                scanned.push(check.name.as_str());
                exprs.len() - 1
            }));
        }
        if scanned.is_empty() {
            return Ok(Scan {
                row: Vec::new(),
                at,
            });
        }
        let fail = |e| EtlError::load(set.table, format!("checks {}: {e}", scanned.join(", ")));
        let sql = format!("SELECT {} FROM {}", exprs.join(", "), set.rows);
        let mut row = target.query(&sql, &params, 1).map_err(fail)?.rows;
        let mut row = row.pop().unwrap_or_default();
        if !distinct.is_empty() {
            row.resize(exprs.len(), Value::Null);
            let counts: Vec<&str> = distinct.iter().map(|(_, e)| e.as_str()).collect();
            let sql = format!("SELECT {} FROM {}", counts.join(", "), set.rows);
            let mut more = target.query(&sql, &Params::new(), 1).map_err(fail)?.rows;
            for (k, (i, _)) in distinct.iter().enumerate() {
                at[*i] = Some(exprs.len() + k);
            }
            row.extend(more.pop().unwrap_or_default());
        }
        Ok(Scan { row, at })
    }

    /// The scan's value for check `i`, when the scan measured it.
    fn get(&self, i: usize) -> Option<&Value> {
        self.at[i].map(|c| self.row.get(c).unwrap_or(&Value::Null))
    }

    /// The lowest and highest value of a `relationships` check's column (NULL, NULL when it
    /// has none).
    fn span(&self, i: usize) -> Option<(&Value, &Value)> {
        let at = self.at[i]?;
        Some((
            self.row.get(at).unwrap_or(&Value::Null),
            self.row.get(at + 1).unwrap_or(&Value::Null),
        ))
    }
}

/// `unique` on columns the rows are already known to be unique on.
fn kind_proven(kind: &CheckKind, set: &Rowset<'_>) -> bool {
    set.unique.iter().any(|cols| kind.is_unique_on(cols))
}

/// Whether a check's query is planned on the rows' statistics (worth an `ANALYZE` of a table
/// just filled): a script's own query, or a `unique` grouping by several columns. The scan and
/// `relationships` (a hash anti-join either way) are not.
pub fn needs_statistics(checks: &[CheckSpec]) -> bool {
    checks.iter().any(|c| match &c.kind {
        CheckKind::Sql(_) => true,
        CheckKind::Unique(cols) => cols.len() > 1,
        _ => false,
    })
}

/// A row-level check's failing-rows query, its parameters named apart from other checks'.
fn row_probe(
    target: &dyn CheckTarget,
    set: &Rowset<'_>,
    i: usize,
    kind: &CheckKind,
) -> Option<super::sql::Probe> {
    row_probe_within(target, set, i, kind, None)
}

fn row_probe_within(
    target: &dyn CheckTarget,
    set: &Rowset<'_>,
    i: usize,
    kind: &CheckKind,
    within: Option<(Value, Value)>,
) -> Option<super::sql::Probe> {
    let quoted = |t: &str| target.quoted_table(t);
    let number = |e: &str| target.as_number(e);
    probe(
        kind,
        &format!("c{i}_"),
        set.rows,
        set.key,
        &quoted,
        &number,
        within,
    )
}

/// The span of integer keys `lo..=hi` as values of the looked-up column's own integer type,
/// so the database can compare them with its index: clamped to that type's range (a key
/// beyond it matches nothing either way). None when either side is not an integer, or the
/// span misses the type's range altogether.
fn key_span(
    target: &mut dyn CheckTarget,
    to_table: &str,
    to_column: &str,
    lo: &Value,
    hi: &Value,
) -> Result<Option<(Value, Value)>> {
    let (Some(lo), Some(hi)) = (lo.as_i64(), hi.as_i64()) else {
        return Ok(None);
    };
    let Some(ty) = dim_integer(target, to_table, to_column)? else {
        return Ok(None);
    };
    let (min, max, as_value): (i64, i64, fn(i64) -> Value) = match ty {
        DataType::Int16 => (i16::MIN.into(), i16::MAX.into(), |v| Value::Int16(v as i16)),
        DataType::Int32 => (i32::MIN.into(), i32::MAX.into(), |v| Value::Int32(v as i32)),
        DataType::Int64 => (i64::MIN, i64::MAX, Value::Int64),
        _ => return Ok(None),
    };
    if hi < min || lo > max {
        return Ok(None);
    }
    Ok(Some((as_value(lo.max(min)), as_value(hi.min(max)))))
}

/// The type of `to_table.to_column` when it is an integer.
fn dim_integer(
    target: &mut dyn CheckTarget,
    to_table: &str,
    to_column: &str,
) -> Result<Option<DataType>> {
    let sql = format!(
        "SELECT {} FROM {} WHERE 1 = 0",
        super::sql::ident(to_column),
        target.quoted_table(to_table)
    );
    let rows = target.query(&sql, &Params::new(), 0)?;
    Ok(rows
        .schema
        .columns
        .first()
        .map(|c| c.data_type.clone())
        .filter(|t| matches!(t, DataType::Int16 | DataType::Int32 | DataType::Int64)))
}

/// The failing row count (or 1 for a failing whole-set check), samples and the measure,
/// from what the scan found where it measured the check.
fn measure(
    target: &mut dyn CheckTarget,
    set: &Rowset<'_>,
    i: usize,
    kind: &CheckKind,
    scan: &Scan,
) -> Result<(u64, Vec<String>, Option<String>)> {
    let scanned = scan.get(i);
    match kind {
        CheckKind::RowCount {
            min,
            max,
            max_change,
        } => {
            let n = scanned.map(as_count).unwrap_or(0);
            let mut broken = Vec::new();
            if min.is_some_and(|m| n < m) {
                broken.push(format!("at least {}", min.unwrap_or_default()));
            }
            if max.is_some_and(|m| n > m) {
                broken.push(format!("at most {}", max.unwrap_or_default()));
            }
            if let (Some(share), Some(prev)) = (max_change, set.previous_rows) {
                let prev = prev.max(0) as f64;
                let change = if prev == 0.0 {
                    if n == 0 {
                        0.0
                    } else {
                        f64::INFINITY
                    }
                } else {
                    (n as f64 - prev).abs() / prev
                };
                if change > *share {
                    broken.push(format!(
                        "within {:.0}% of the previous load's {prev} rows",
                        share * 100.0
                    ));
                }
            }
            Ok(if broken.is_empty() {
                (0, Vec::new(), None)
            } else {
                (
                    1,
                    Vec::new(),
                    Some(format!("{n} rows, expected {}", broken.join(" and "))),
                )
            })
        }
        CheckKind::Freshness {
            column,
            within_seconds,
        } => {
            let newest = scanned.filter(|v| !matches!(v, Value::Null)).cloned();
            let at = newest.as_ref().and_then(as_utc);
            let fresh = at.is_some_and(|t| (Utc::now() - t).num_seconds() <= *within_seconds);
            Ok(if fresh {
                (0, Vec::new(), None)
            } else {
                let newest = newest
                    .and_then(|v| v.to_text())
                    .unwrap_or_else(|| "none (no rows)".into());
                (
                    1,
                    Vec::new(),
                    Some(format!(
                        "the newest {column} is {newest}, older than {}",
                        span(*within_seconds)
                    )),
                )
            })
        }
        CheckKind::Unique(_) if kind_proven(kind, set) => Ok((0, Vec::new(), None)),
        CheckKind::Unique(_) if scanned.is_some_and(|v| as_count(v) == 0) => {
            Ok((0, Vec::new(), None))
        }
        CheckKind::Relationships {
            to_table,
            to_column,
            column,
        } => {
            if let Some(keys) = set.keys.iter().find(|k| &k.column == column) {
                if keys_all_found(target, keys, to_table, to_column)? {
                    return Ok((0, Vec::new(), None));
                }
            }
            let within = match scan.span(i) {
                // No key to look up: every row's is NULL, or there are no rows.
                Some((Value::Null, _)) => return Ok((0, Vec::new(), None)),
                Some((lo, hi)) => key_span(target, to_table, to_column, lo, hi)?,
                None => None,
            };
            let p = row_probe_within(target, set, i, kind, within).expect("a row-level check");
            let n = count(
                target,
                &format!("SELECT count(*) FROM ({}) etl_check", p.sql),
                &p.params,
            )?;
            let samples = if n > 0 {
                sample(target, &p.sql, &p.params, &[])?
            } else {
                Vec::new()
            };
            Ok((n, samples, None))
        }
        CheckKind::Sql(text) => {
            let failing = with_new(text, set.rows).map_err(EtlError::Other)?;
            let n = count(
                target,
                &format!("SELECT count(*) FROM ({failing}) etl_check"),
                &[],
            )?;
            let samples = if n > 0 {
                sample(
                    target,
                    &format!("SELECT * FROM ({failing}) etl_check"),
                    &Params::new(),
                    set.key,
                )?
            } else {
                Vec::new()
            };
            Ok((n, samples, None))
        }
        _ => {
            let p = row_probe(target, set, i, kind).expect("a row-level check");
            let n = match scanned {
                // The scan counted surplus rows; the failing figure is duplicated keys.
                Some(_) if matches!(kind, CheckKind::Unique(_)) => count(
                    target,
                    &format!("SELECT count(*) FROM ({}) etl_check", p.sql),
                    &p.params,
                )?,
                Some(v) => as_count(v),
                None => count(
                    target,
                    &format!("SELECT count(*) FROM ({}) etl_check", p.sql),
                    &p.params,
                )?,
            };
            let samples = if n > 0 {
                sample(target, &p.sql, &p.params, &[])?
            } else {
                Vec::new()
            };
            Ok((n, samples, None))
        }
    }
}

/// Whether every key in `keys` is in `to_table.to_column`, asked in one query over the bits
/// where the dialect can read them and the keys are dense enough for a pass over their span
/// to beat a pass over the rows; false leaves the check to its usual query, which also
/// counts and samples the failing rows.
fn keys_all_found(
    target: &mut dyn CheckTarget,
    keys: &KeyBits,
    to_table: &str,
    to_column: &str,
) -> Result<bool> {
    if keys.count == 0 {
        return Ok(true);
    }
    if keys.span > 8 * keys.count + 65_536 || dim_integer(target, to_table, to_column)?.is_none() {
        return Ok(false);
    }
    let Some(sql) = target.missing_keys_sql(to_table, to_column) else {
        return Ok(false);
    };
    let params: Params = vec![
        ("lo".to_string(), Value::Int64(keys.low)),
        ("n".to_string(), Value::Int64(keys.span as i64)),
        (
            "hi".to_string(),
            Value::Int64(keys.low.saturating_add(keys.span as i64 - 1)),
        ),
        ("bits".to_string(), Value::Bytes(keys.bits.clone())),
    ];
    Ok(count(target, &sql, &params)? == 0)
}

/// A count as a query returns it.
fn as_count(v: &Value) -> u64 {
    v.as_i64().unwrap_or(0).max(0) as u64
}

fn count(target: &mut dyn CheckTarget, sql: &str, params: &[(String, Value)]) -> Result<u64> {
    let rows = target.query(sql, &params.to_vec(), 1)?;
    Ok(rows
        .rows
        .first()
        .and_then(|r| r.first())
        .map_or(0, as_count))
}

/// Up to ten failing rows, each by the `key` columns when the query returns them all (a
/// `sql_check` selects whatever it likes), else by every column it returns.
fn sample(
    target: &mut dyn CheckTarget,
    sql: &str,
    params: &Params,
    key: &[String],
) -> Result<Vec<String>> {
    let rows = target.query(&format!("{sql} LIMIT {SAMPLES}"), params, SAMPLES)?;
    let names = rows.schema.names();
    let by_key: Option<Vec<usize>> = key
        .iter()
        .map(|k| names.iter().position(|n| n.eq_ignore_ascii_case(k)))
        .collect();
    let shown: Vec<usize> = match by_key {
        Some(at) if !at.is_empty() => at,
        _ => (0..names.len()).collect(),
    };
    Ok(rows
        .rows
        .iter()
        .map(|r| {
            shown
                .iter()
                .filter_map(|&i| r.get(i))
                .map(|v| v.to_text().unwrap_or_else(|| "NULL".into()))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect())
}

/// A cursor-like value as a UTC instant: a timestamp without zone is read as UTC, a date as
/// its midnight.
fn as_utc(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::TimestampTz(t) => Some(*t),
        Value::Timestamp(t) => Some(t.and_utc()),
        Value::Date(d) => Some(d.and_time(NaiveTime::MIN).and_utc()),
        // SQLite hands an expression's value back as text.
        Value::Text(s) => [
            crate::data::DataType::TimestampTz,
            crate::data::DataType::Timestamp,
        ]
        .iter()
        .find_map(|t| Value::parse(s, t).ok())
        .and_then(|v| as_utc(&v)),
        _ => None,
    }
}

/// Seconds as people write them: "2 days", "6 hours", "90s".
fn span(seconds: i64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{} day(s)", s / 86_400),
        s if s % 3_600 == 0 => format!("{} hour(s)", s / 3_600),
        s => format!("{s}s"),
    }
}
