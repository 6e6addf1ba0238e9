//! SOQL text: the select list and object of a query, values written as literals, and a read
//! window added to its WHERE clause. SOQL has no bind parameters, so every literal is written
//! here, from a typed value only (a string is quoted and escaped, a datetime is formatted),
//! never from text pasted into the query.

use chrono::{DateTime, Timelike, Utc};

use crate::connectors::CursorWindow;
use crate::data::Value;

/// A word of the query outside quotes and parentheses, with where it starts and ends.
#[derive(Debug)]
struct Word {
    start: usize,
    end: usize,
    depth: usize,
}

/// Words (identifiers, keywords, field paths) outside string literals.
fn words(soql: &str) -> Vec<Word> {
    let b = soql.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut depth) = (0, 0usize);
    while i < b.len() {
        match b[i] {
            b'\'' => {
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'(' => {
                depth += 1;
                i += 1;
            }
            b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'.')) {
                    i += 1;
                }
                out.push(Word {
                    start,
                    end: i,
                    depth,
                });
            }
            _ => i += 1,
        }
    }
    out
}

/// What a query selects: field paths as written (`Owner.Name`) and the object it reads.
#[derive(Debug, PartialEq)]
pub struct Select {
    pub fields: Vec<String>,
    pub object: String,
}

pub fn parse_select(soql: &str) -> Result<Select, String> {
    let ws = words(soql);
    let text = |w: &Word| &soql[w.start..w.end];
    let is = |w: &Word, k: &str| w.depth == 0 && text(w).eq_ignore_ascii_case(k);
    if !ws.first().is_some_and(|w| is(w, "select")) {
        return Err("a SOQL query starts with SELECT".into());
    }
    let from = ws
        .iter()
        .position(|w| is(w, "from"))
        .ok_or("the query has no FROM")?;
    let object = ws
        .get(from + 1)
        .map(|w| text(w).to_string())
        .ok_or("FROM names no object")?;
    let list = &soql[ws[0].end..ws[from].start];
    let mut fields = Vec::new();
    for item in list.split(',') {
        let item = item.trim();
        let plain = !item.is_empty()
            && item
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.'));
        if !plain {
            return Err(format!(
                "'{item}' in the select list: only fields and parent fields (Owner.Name) can be read as columns; \
                 subqueries, functions and FIELDS() cannot"
            ));
        }
        fields.push(item.to_string());
    }
    Ok(Select { fields, object })
}

/// The query with `cond` added to its WHERE clause (before WITH, GROUP BY, ORDER BY, LIMIT,
/// OFFSET or FOR), or a new WHERE clause after the object.
pub fn add_condition(soql: &str, cond: &str) -> String {
    let ws = words(soql);
    let top = |k: &str| {
        ws.iter()
            .position(|w| w.depth == 0 && soql[w.start..w.end].eq_ignore_ascii_case(k))
    };
    let from = top("from").unwrap_or(0);
    let clause_end = ws
        .iter()
        .skip(from + 1)
        .find(|w| {
            w.depth == 0
                && ["with", "group", "order", "limit", "offset", "for"]
                    .iter()
                    .any(|k| soql[w.start..w.end].eq_ignore_ascii_case(k))
        })
        .map(|w| w.start)
        .unwrap_or(soql.trim_end().len());
    let (head, tail) = soql.split_at(clause_end);
    let head = head.trim_end();
    let sep = if tail.is_empty() { "" } else { " " };
    match top("where") {
        Some(i) if ws[i].start < clause_end => {
            let w = ws[i].end;
            format!(
                "{} ({}) AND {cond}{sep}{tail}",
                &soql[..w],
                soql[w..head.len()].trim()
            )
        }
        _ => format!("{head} WHERE {cond}{sep}{tail}"),
    }
}

/// A value as a SOQL literal.
pub fn literal(v: &Value) -> Result<String, String> {
    Ok(match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int16(n) => n.to_string(),
        Value::Int32(n) => n.to_string(),
        Value::Int64(n) => n.to_string(),
        Value::Float32(f) if f.is_finite() => f.to_string(),
        Value::Float64(f) if f.is_finite() => f.to_string(),
        Value::Decimal(d) => d.as_str().to_string(),
        Value::Text(s) => quote(s),
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        Value::TimestampTz(t) => datetime(t),
        // A timestamp without zone is taken as UTC, as Salesforce stores every datetime.
        Value::Timestamp(t) => datetime(&t.and_utc()),
        other => {
            return Err(format!(
                "a {} value cannot be written in SOQL",
                other.data_type().map(|t| t.to_string()).unwrap_or_default()
            ))
        }
    })
}

/// SOQL's datetime format, to the second (`2024-01-31T10:00:00Z`).
fn datetime(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `:name` outside string literals replaced by the literal of its value; a name without a
/// value is an error. (`LAST_N_DAYS:7` and times are left alone: a digit follows the colon.)
pub fn bind(soql: &str, params: &[(String, Value)]) -> Result<String, String> {
    let b = soql.as_bytes();
    let mut out = String::with_capacity(soql.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        match b[i] {
            b'\'' => {
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b':' if b
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') =>
            {
                let start = i + 1;
                let mut end = start;
                while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
                    end += 1;
                }
                let name = &soql[start..end];
                let value = params
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v)
                    .ok_or_else(|| {
                        format!(":{name} has no value (give it in sql(text, #{{ {name}: ... }}))")
                    })?;
                out.push_str(&soql[copied..i]);
                out.push_str(&literal(value)?);
                copied = end;
                i = end;
            }
            _ => i += 1,
        }
    }
    out.push_str(&soql[copied.min(soql.len())..]);
    Ok(out)
}

/// The names of the `:name` placeholders of a query.
pub fn placeholders(soql: &str) -> Vec<String> {
    let mut names = Vec::new();
    let b = soql.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' => {
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b':' if b
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') =>
            {
                let mut end = i + 1;
                while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
                    end += 1;
                }
                names.push(soql[i + 1..end].to_string());
                i = end;
            }
            _ => i += 1,
        }
    }
    names
}

/// A read window on `field` as a SOQL condition. Literals are to the second, so the bounds
/// are widened to whole seconds (since down, until up) and the reader keeps exactly the rows
/// of the window (`CursorWindow::contains`).
pub fn window_condition(field: &str, w: &CursorWindow) -> Result<Option<String>, String> {
    let mut conds = Vec::new();
    if let Some(s) = &w.since {
        conds.push(format!("{field} >= {}", literal(&floor(s))?));
    }
    if let Some(u) = &w.until {
        conds.push(format!("{field} < {}", literal(&ceil(u))?));
    }
    if conds.is_empty() {
        return Ok(None);
    }
    let cond = conds.join(" AND ");
    Ok(Some(if w.until.is_none() {
        format!("({cond} OR {field} = null)")
    } else {
        format!("({cond})")
    }))
}

/// A bound rounded down to the second (SOQL's datetime literals have no fraction).
pub fn floor(v: &Value) -> Value {
    match v {
        Value::TimestampTz(t) => Value::TimestampTz(t.with_nanosecond(0).unwrap_or(*t)),
        Value::Timestamp(t) => Value::Timestamp(t.with_nanosecond(0).unwrap_or(*t)),
        v => v.clone(),
    }
}

/// A bound rounded up to the second.
pub fn ceil(v: &Value) -> Value {
    match v {
        Value::TimestampTz(t) if t.nanosecond() > 0 => {
            Value::TimestampTz(t.with_nanosecond(0).unwrap_or(*t) + chrono::Duration::seconds(1))
        }
        Value::Timestamp(t) if t.nanosecond() > 0 => {
            Value::Timestamp(t.with_nanosecond(0).unwrap_or(*t) + chrono::Duration::seconds(1))
        }
        v => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_select_list_and_object_are_read_outside_quotes() {
        let s = parse_select("SELECT Id, Owner.Name FROM Account WHERE Name = 'from, x'").unwrap();
        assert_eq!(s.fields, ["Id", "Owner.Name"]);
        assert_eq!(s.object, "Account");
        assert!(parse_select("SELECT COUNT() FROM Account").is_err());
        assert!(parse_select("SELECT Id, (SELECT Id FROM Contacts) FROM Account").is_err());
    }

    #[test]
    fn a_window_joins_the_where_clause_before_order_by() {
        assert_eq!(
            add_condition("SELECT Id FROM Account", "(X >= 1)"),
            "SELECT Id FROM Account WHERE (X >= 1)"
        );
        assert_eq!(
            add_condition("SELECT Id FROM Account WHERE A = 'order by' OR B = 2 ORDER BY Id LIMIT 5", "(X >= 1)"),
            "SELECT Id FROM Account WHERE (A = 'order by' OR B = 2) AND (X >= 1) ORDER BY Id LIMIT 5"
        );
        assert_eq!(
            add_condition("SELECT Id FROM Account LIMIT 5", "(X >= 1)"),
            "SELECT Id FROM Account WHERE (X >= 1) LIMIT 5"
        );
    }

    #[test]
    fn literals_come_from_typed_values_only() {
        let t = Value::parse(
            "2024-01-31 10:00:00.250+00",
            &crate::data::DataType::TimestampTz,
        )
        .unwrap();
        let w = CursorWindow {
            column: "SystemModstamp".into(),
            since: Some(t.clone()),
            since_inclusive: false,
            until: Some(t),
        };
        assert_eq!(
            window_condition("SystemModstamp", &w).unwrap().unwrap(),
            "(SystemModstamp >= 2024-01-31T10:00:00Z AND SystemModstamp < 2024-01-31T10:00:01Z)"
        );
        let q = bind(
            "SELECT Id FROM Account WHERE Name = :n AND CreatedDate = LAST_N_DAYS:7 AND X = ':n'",
            &[("n".into(), Value::Text("O'Brien \\ co".into()))],
        )
        .unwrap();
        assert_eq!(
            q,
            "SELECT Id FROM Account WHERE Name = 'O\\'Brien \\\\ co' AND CreatedDate = LAST_N_DAYS:7 AND X = ':n'"
        );
        assert!(bind("SELECT Id FROM A WHERE B = :missing", &[]).is_err());
    }
}
