//! Statements as `etl plan` shows them: named parameters written in as SQL literals, for
//! reading only (a run always binds them).

use crate::connectors::{Params, SourceStatement};
use crate::data::Value;

/// A source statement for reading: its parameters written in as literals (a run always
/// binds them), the open window ends said in a comment.
pub(super) fn show(s: &SourceStatement) -> String {
    let mut text = inline(&s.sql, &s.params);
    for name in &s.unbounded {
        text.push_str(&format!(
            "\n-- :{name} unbounded: bound to the {} value of the cursor's type",
            if name == "since" { "lowest" } else { "highest" }
        ));
    }
    text
}

/// A value as a SQL literal, for display.
pub(super) fn literal(v: &Value) -> String {
    match v {
        Value::Int16(_) | Value::Int32(_) | Value::Int64(_) | Value::Decimal(_) => {
            v.to_text().unwrap_or_default()
        }
        _ => format!("'{}'", v.to_text().unwrap_or_default().replace('\'', "''")),
    }
}

/// The byte offset of `:name` (not `::name`, not `:names`) at or after `from`.
fn find_param(sql: &str, name: &str, from: usize) -> Option<usize> {
    let needle = format!(":{name}");
    let mut at = from;
    while let Some(i) = sql[at..].find(&needle) {
        let start = at + i;
        let end = start + needle.len();
        let before_ok = start == 0 || sql.as_bytes()[start - 1] != b':';
        let after_ok = sql[end..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if before_ok && after_ok {
            return Some(start);
        }
        at = end;
    }
    None
}

/// The statement with its named parameters written in as literals (for reading only: a
/// run always binds them).
pub(super) fn inline(sql: &str, params: &Params) -> String {
    let mut out = sql.trim().to_string();
    for (name, value) in params {
        let lit = literal(value);
        let mut at = 0;
        while let Some(i) = find_param(&out, name, at) {
            out.replace_range(i..i + name.len() + 1, &lit);
            at = i + lit.len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_written_in_whole_words_only() {
        let params = vec![
            ("since".to_string(), Value::Text("2024-01-02".into())),
            ("n".to_string(), Value::Int64(5)),
        ];
        assert_eq!(
            inline(
                "SELECT x::text FROM t WHERE a >= :since AND b = :n AND c = :nn",
                &params
            ),
            "SELECT x::text FROM t WHERE a >= '2024-01-02' AND b = 5 AND c = :nn"
        );
        assert_eq!(inline("WHERE a < :untilx", &params), "WHERE a < :untilx");
    }
}
