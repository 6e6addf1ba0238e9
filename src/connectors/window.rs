//! A cursor window and the one place its SQL condition is written, for every dialect: sources
//! read with it, and a backfill window without a key deletes its range with it.

use crate::data::Value;

/// An incremental or backfill window on a cursor column: `since <= cursor < until`
/// (`since < cursor` when `since_inclusive` is false).
#[derive(Clone, Debug, Default)]
pub struct CursorWindow {
    pub column: String,
    pub since: Option<Value>,
    pub since_inclusive: bool,
    pub until: Option<Value>,
}

/// A window as SQL: the condition with named parameters (`:since`, `:until`) and their values.
#[derive(Clone, Debug, PartialEq)]
pub struct Predicate {
    pub sql: String,
    pub params: Vec<(String, Value)>,
}

impl CursorWindow {
    /// Whether a cursor value lies inside the window. NULL cursors are the caller's decision.
    pub fn contains(&self, v: &Value) -> bool {
        use std::cmp::Ordering::*;
        let after_since = match &self.since {
            None => true,
            Some(s) => {
                matches!(v.compare(s), Some(Greater))
                    || (self.since_inclusive && v.compare(s) == Some(Equal))
            }
        };
        let before_until = match &self.until {
            None => true,
            Some(u) => v.compare(u) == Some(Less),
        };
        after_since && before_until
    }

    /// The window's condition on the cursor column, quoted by the caller's dialect; None when
    /// both ends are open. A window without an end (incremental) also selects NULL cursors,
    /// so the load can count them and apply `null_cursor`; a bounded (backfill) window does
    /// not: a NULL cursor lies in no window.
    pub fn predicate(&self, quoted_column: &str) -> Option<Predicate> {
        let col = quoted_column;
        let mut conds = Vec::new();
        let mut params = Vec::new();
        if let Some(s) = &self.since {
            let op = if self.since_inclusive { ">=" } else { ">" };
            conds.push(format!("{col} {op} :since"));
            params.push(("since".to_string(), s.clone()));
        }
        if let Some(u) = &self.until {
            conds.push(format!("{col} < :until"));
            params.push(("until".to_string(), u.clone()));
        }
        if conds.is_empty() {
            return None;
        }
        let cond = conds.join(" AND ");
        let sql = if self.until.is_none() {
            format!("({cond} OR {col} IS NULL)")
        } else {
            format!("({cond})")
        };
        Some(Predicate { sql, params })
    }
}

/// The parameters of a query source that names `:since` / `:until` (`names`): those the script
/// gave, then the window's values for the rest; an end the window leaves open is returned
/// apart, for the source to bind to the lowest or highest value of the cursor's type.
pub fn query_params(
    names: &[String],
    given: &[(String, Value)],
    window: Option<&CursorWindow>,
) -> (Vec<(String, Value)>, Vec<String>) {
    let mut params = given.to_vec();
    let mut unbounded = Vec::new();
    for name in ["since", "until"] {
        if !names.iter().any(|n| n == name) || given.iter().any(|(k, _)| k == name) {
            continue;
        }
        let value = match name {
            "since" => window.and_then(|w| w.since.clone()),
            _ => window.and_then(|w| w.until.clone()),
        };
        match value {
            Some(v) => params.push((name.to_string(), v)),
            None => unbounded.push(name.to_string()),
        }
    }
    (params, unbounded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(since: Option<i64>, inclusive: bool, until: Option<i64>) -> CursorWindow {
        CursorWindow {
            column: "c".into(),
            since: since.map(Value::Int64),
            since_inclusive: inclusive,
            until: until.map(Value::Int64),
        }
    }

    #[test]
    fn an_open_ended_window_also_selects_null_cursors() {
        let p = w(Some(5), true, None).predicate("\"c\"").unwrap();
        assert_eq!(p.sql, "(\"c\" >= :since OR \"c\" IS NULL)");
        assert_eq!(p.params, vec![("since".to_string(), Value::Int64(5))]);
        let p = w(Some(5), false, None).predicate("`c`").unwrap();
        assert_eq!(p.sql, "(`c` > :since OR `c` IS NULL)");
    }

    #[test]
    fn query_params_take_the_scripts_values_first_then_the_window() {
        let names = vec!["since".to_string(), "until".to_string(), "n".to_string()];
        let given = vec![("n".to_string(), Value::Int64(1))];
        let (params, open) = query_params(&names, &given, Some(&w(Some(5), true, None)));
        assert_eq!(
            params,
            vec![
                ("n".to_string(), Value::Int64(1)),
                ("since".to_string(), Value::Int64(5))
            ]
        );
        assert_eq!(open, ["until"]);
        let mine = vec![("until".to_string(), Value::Int64(9))];
        let (params, open) = query_params(&names, &mine, None);
        assert_eq!(params, mine);
        assert_eq!(open, ["since"]);
        assert_eq!(query_params(&[], &[], None), (vec![], vec![]));
    }

    #[test]
    fn a_bounded_window_is_half_open_and_excludes_nulls() {
        let p = w(Some(1), true, Some(9)).predicate("c").unwrap();
        assert_eq!(p.sql, "(c >= :since AND c < :until)");
        assert_eq!(p.params.len(), 2);
        assert!(w(None, true, None).predicate("c").is_none());
        let win = w(Some(1), true, Some(9));
        assert!(win.contains(&Value::Int64(1)) && !win.contains(&Value::Int64(9)));
        assert!(!w(Some(1), false, None).contains(&Value::Int64(1)));
    }
}
