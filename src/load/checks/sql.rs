//! The query that returns a check's failing rows, in SQL that PostgreSQL and SQLite share
//! (double-quoted identifiers, named parameters bound, never values formatted in).

use super::spec::CheckKind;
use crate::connectors::Params;
use crate::data::Value;

/// A failing-rows query: `SELECT <sample columns> FROM <rows> WHERE <failing>`.
pub(super) struct Probe {
    pub sql: String,
    pub params: Params,
    /// The failing-row condition alone, for checks that are one condition on a row (not_null,
    /// accepted_values, range): these are counted together in one scan of the rows.
    pub failing: Option<String>,
}

pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn list(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The failing rows of a row-level check over `rows` (a quoted table name), showing `sample`
/// columns; None for checks over the whole set (row count, freshness), and for `sql_check`,
/// whose query is the script's. Parameters are named `:<prefix>…`, so several checks' can be
/// bound in one query. `within` is the range the checked column's values span, when known:
/// `relationships` then looks up only that range of the other table.
pub(super) fn probe(
    kind: &CheckKind,
    prefix: &str,
    rows: &str,
    sample: &[String],
    quoted_table: &dyn Fn(&str) -> String,
    as_number: &dyn Fn(&str) -> String,
    within: Option<(Value, Value)>,
) -> Option<Probe> {
    let show = |own: &[String]| {
        if sample.is_empty() {
            list(own)
        } else {
            list(sample)
        }
    };
    let mut params = Params::new();
    let mut failing = None;
    let sql = match kind {
        CheckKind::NotNull(cols) => {
            let cond: Vec<String> = cols
                .iter()
                .map(|c| format!("{} IS NULL", ident(c)))
                .collect();
            failing = Some(cond.join(" OR "));
            format!(
                "SELECT {} FROM {rows} WHERE {}",
                show(cols),
                cond.join(" OR ")
            )
        }
        CheckKind::Unique(cols) => {
            let not_null: Vec<String> = cols
                .iter()
                .map(|c| format!("{} IS NOT NULL", ident(c)))
                .collect();
            format!(
                "SELECT {c} FROM {rows} WHERE {} GROUP BY {c} HAVING count(*) > 1",
                not_null.join(" AND "),
                c = list(cols)
            )
        }
        CheckKind::AcceptedValues(col, values) => {
            let marks: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    params.push((format!("{prefix}v{i}"), v.clone()));
                    format!(":{prefix}v{i}")
                })
                .collect();
            let cond = if marks.is_empty() {
                "1 = 1".to_string()
            } else {
                format!("{} NOT IN ({})", ident(col), marks.join(", "))
            };
            let cond = format!("{} IS NOT NULL AND {cond}", ident(col));
            failing = Some(cond.clone());
            format!(
                "SELECT {} FROM {rows} WHERE {cond}",
                show(std::slice::from_ref(col)),
            )
        }
        CheckKind::Relationships {
            column,
            to_table,
            to_column,
        } => {
            let shown: Vec<String> = if sample.is_empty() {
                vec![column.clone()]
            } else {
                sample.to_vec()
            };
            let cols: Vec<String> = shown.iter().map(|c| format!("n.{}", ident(c))).collect();
            // The range adds no condition (every n.c lies in it), but it lets the database read
            // only that span of the other table's index instead of hashing all of it: a load
            // of one month's orders looks up this month's customers, not every customer.
            let span = match within {
                Some((lo, hi)) => {
                    params.push((format!("{prefix}lo"), lo));
                    params.push((format!("{prefix}hi"), hi));
                    format!(
                        " AND d.{k} >= :{prefix}lo AND d.{k} <= :{prefix}hi",
                        k = ident(to_column)
                    )
                }
                None => String::new(),
            };
            format!(
                "SELECT {} FROM {rows} n WHERE n.{c} IS NOT NULL AND NOT EXISTS \
                 (SELECT 1 FROM {} d WHERE d.{} = n.{c}{span})",
                cols.join(", "),
                quoted_table(to_table),
                ident(to_column),
                c = ident(column)
            )
        }
        CheckKind::Range { column, min, max } => {
            let mut cond = Vec::new();
            // Numbers compare as numbers in every dialect; dates and text as themselves.
            let side = |v: &Value, e: &str| {
                if matches!(
                    v,
                    Value::Int16(_)
                        | Value::Int32(_)
                        | Value::Int64(_)
                        | Value::Float32(_)
                        | Value::Float64(_)
                        | Value::Decimal(_)
                ) {
                    as_number(e)
                } else {
                    e.to_string()
                }
            };
            for (name, bound, op) in [("min", min, "<"), ("max", max, ">")] {
                if let Some(v) = bound {
                    params.push((format!("{prefix}{name}"), v.clone()));
                    cond.push(format!(
                        "{} {op} {}",
                        side(v, &ident(column)),
                        side(v, &format!(":{prefix}{name}"))
                    ));
                }
            }
            if cond.is_empty() {
                cond.push("1 = 0".into());
            }
            failing = Some(cond.join(" OR "));
            format!(
                "SELECT {} FROM {rows} WHERE {}",
                show(std::slice::from_ref(column)),
                cond.join(" OR ")
            )
        }
        CheckKind::RowCount { .. } | CheckKind::Freshness { .. } | CheckKind::Sql(_) => {
            return None
        }
    };
    Some(Probe {
        sql,
        params,
        failing,
    })
}

/// The script's own failing-rows query with `:new` naming the rows checked. `:new` is found
/// by the same lexer that finds parameters, so a `:new` inside a string or comment stays.
pub(super) fn with_new(sql: &str, rows: &str) -> Result<String, String> {
    crate::connectors::sql_params::replace_param(sql, "new", rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(kind: CheckKind, sample: &[&str]) -> String {
        let sample: Vec<String> = sample.iter().map(|s| s.to_string()).collect();
        probe(
            &kind,
            "",
            "\"stage\"",
            &sample,
            &|t| format!("\"{t}\""),
            &|e| e.to_string(),
            None,
        )
        .unwrap()
        .sql
    }

    #[test]
    fn each_check_selects_its_failing_rows_by_the_key() {
        assert_eq!(
            q(CheckKind::NotNull(vec!["a".into(), "b".into()]), &["id"]),
            "SELECT \"id\" FROM \"stage\" WHERE \"a\" IS NULL OR \"b\" IS NULL"
        );
        assert_eq!(
            q(CheckKind::Unique(vec!["id".into()]), &["x"]),
            "SELECT \"id\" FROM \"stage\" WHERE \"id\" IS NOT NULL GROUP BY \"id\" HAVING count(*) > 1"
        );
        let p = probe(
            &CheckKind::AcceptedValues("s".into(), vec![Value::Text("new".into())]),
            "c2_",
            "t",
            &[],
            &|t| t.to_string(),
            &|e| e.to_string(),
            None,
        )
        .unwrap();
        assert_eq!(
            p.sql,
            "SELECT \"s\" FROM t WHERE \"s\" IS NOT NULL AND \"s\" NOT IN (:c2_v0)"
        );
        assert_eq!(
            p.failing.as_deref(),
            Some("\"s\" IS NOT NULL AND \"s\" NOT IN (:c2_v0)")
        );
        assert_eq!(
            p.params,
            vec![("c2_v0".to_string(), Value::Text("new".into()))]
        );
        assert!(q(
            CheckKind::Relationships {
                column: "c".into(),
                to_table: "dim".into(),
                to_column: "k".into()
            },
            &["id"]
        )
        .contains("NOT EXISTS (SELECT 1 FROM \"dim\" d WHERE d.\"k\" = n.\"c\")"));
    }

    #[test]
    fn relationships_look_up_only_the_span_of_the_new_keys_when_it_is_known() {
        let p = probe(
            &CheckKind::Relationships {
                column: "c".into(),
                to_table: "dim".into(),
                to_column: "k".into(),
            },
            "c3_",
            "t",
            &[],
            &|t| t.to_string(),
            &|e| e.to_string(),
            Some((Value::Int32(4), Value::Int32(90))),
        )
        .unwrap();
        assert!(p.sql.ends_with(
            "(SELECT 1 FROM dim d WHERE d.\"k\" = n.\"c\" AND d.\"k\" >= :c3_lo AND d.\"k\" <= :c3_hi)"
        ), "{}", p.sql);
        assert_eq!(
            p.params,
            vec![
                ("c3_lo".to_string(), Value::Int32(4)),
                ("c3_hi".to_string(), Value::Int32(90))
            ]
        );
    }
}
