//! Array values in text: PostgreSQL's literal (`{1,2,NULL}`, `{{1,2},{3,4}}`, `{"a b","c\"d"}`)
//! both ways, and JSON arrays (`[1, 2, null]`) on input, so CSV files and SQLite's JSON text can
//! carry them too.

use super::{DataType, Value};

/// Appends the element as PostgreSQL's `array_out` prints it inside braces.
pub fn write_array(values: &[Value], out: &mut String) {
    out.push('{');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match v {
            Value::Null => out.push_str("NULL"),
            Value::Array(inner) => write_array(inner, out),
            Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
            other => {
                let text = other.to_text().unwrap_or_default();
                if needs_quotes(&text) {
                    out.push('"');
                    for c in text.chars() {
                        if c == '"' || c == '\\' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                } else {
                    out.push_str(&text);
                }
            }
        }
    }
    out.push('}');
}

fn needs_quotes(text: &str) -> bool {
    text.is_empty()
        || text.eq_ignore_ascii_case("NULL")
        || text
            .chars()
            .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || is_array_space(c))
}

/// The white space PostgreSQL's array syntax skips around elements (its `array_isspace`):
/// ASCII only, vertical tab included. Writer and parser must agree on it, or an element
/// ending in such a character would lose it.
fn is_array_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0B' | '\x0C')
}

/// Appends the value as JSON: numbers stay numbers except decimals, which become strings so no
/// JSON reader can round them through a float.
pub fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int16(_) | Value::Int32(_) | Value::Int64(_) => {
            v.write_text(out);
        }
        Value::Float32(f) if f.is_finite() => {
            v.write_text(out);
        }
        Value::Float64(f) if f.is_finite() => {
            v.write_text(out);
        }
        Value::Json(j) => out.push_str(j),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        other => {
            let text = other.to_text().unwrap_or_default();
            out.push_str(&serde_json::Value::String(text).to_string());
        }
    }
}

/// Parses an array literal (PostgreSQL braces or a JSON array) of `elem` values.
pub fn parse_array(text: &str, elem: &DataType) -> Result<Value, String> {
    let t = text.trim_matches(is_array_space);
    if t.starts_with('[') {
        let json: serde_json::Value =
            serde_json::from_str(t).map_err(|e| format!("not a valid JSON array: {e}"))?;
        return from_json(json, elem);
    }
    let mut p = Parser {
        chars: t.char_indices().peekable(),
        text: t,
        elem,
    };
    let v = p.array()?;
    p.skip_ws();
    match p.chars.next() {
        None => Ok(v),
        Some((i, _)) => Err(format!("unexpected text after the array at byte {i}")),
    }
}

fn from_json(json: serde_json::Value, elem: &DataType) -> Result<Value, String> {
    use serde_json::Value as J;
    match json {
        J::Array(items) => Ok(Value::Array(
            items
                .into_iter()
                .map(|j| from_json_elem(j, elem))
                .collect::<Result<_, _>>()?,
        )),
        other => Err(format!("expected a JSON array, found {other}")),
    }
}

fn from_json_elem(json: serde_json::Value, elem: &DataType) -> Result<Value, String> {
    use serde_json::Value as J;
    match json {
        J::Null => Ok(Value::Null),
        J::Array(_) if !matches!(elem, DataType::Json) => from_json(json, elem),
        J::String(s) => Value::parse(&s, elem),
        J::Bool(b) => Value::Bool(b).coerce(elem),
        other if matches!(elem, DataType::Json) => Ok(Value::Json(other.to_string())),
        J::Number(n) => Value::parse(&n.to_string(), elem),
        other => Err(format!("{other} is not a {elem}")),
    }
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    text: &'a str,
    elem: &'a DataType,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.chars.next_if(|(_, c)| is_array_space(*c)).is_some() {}
    }

    fn array(&mut self) -> Result<Value, String> {
        self.skip_ws();
        match self.chars.next() {
            Some((_, '{')) => {}
            _ => return Err("an array literal starts with '{' (or '[' for JSON)".into()),
        }
        let mut items = Vec::new();
        self.skip_ws();
        if self.chars.next_if(|(_, c)| *c == '}').is_some() {
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            let item = match self.chars.peek() {
                Some((_, '{')) => self.array()?,
                Some((_, '"')) => {
                    self.chars.next();
                    let s = self.quoted()?;
                    Value::parse(&s, self.elem)?
                }
                Some(_) => {
                    let s = self.unquoted()?;
                    if s.eq_ignore_ascii_case("NULL") {
                        Value::Null
                    } else {
                        Value::parse(&s, self.elem)?
                    }
                }
                None => return Err("unterminated array literal".into()),
            };
            items.push(item);
            self.skip_ws();
            match self.chars.next() {
                Some((_, ',')) => continue,
                Some((_, '}')) => return Ok(Value::Array(items)),
                Some((i, c)) => {
                    return Err(format!(
                        "unexpected '{c}' at byte {i} of '{}'",
                        super::value::shorten(self.text)
                    ))
                }
                None => return Err("unterminated array literal".into()),
            }
        }
    }

    fn quoted(&mut self) -> Result<String, String> {
        let mut s = String::new();
        loop {
            match self.chars.next() {
                Some((_, '"')) => return Ok(s),
                Some((_, '\\')) => match self.chars.next() {
                    Some((_, c)) => s.push(c),
                    None => break,
                },
                Some((_, c)) => s.push(c),
                None => break,
            }
        }
        Err("unterminated quoted array element".into())
    }

    fn unquoted(&mut self) -> Result<String, String> {
        let mut s = String::new();
        while let Some((_, c)) = self
            .chars
            .next_if(|(_, c)| !matches!(c, ',' | '}' | '{' | '"'))
        {
            if c == '\\' {
                match self.chars.next() {
                    Some((_, e)) => s.push(e),
                    None => return Err("unterminated array literal".into()),
                }
            } else {
                s.push(c);
            }
        }
        let trimmed = s.trim_matches(is_array_space);
        if trimmed.is_empty() {
            return Err("empty array element (write \"\" for an empty string)".into());
        }
        Ok(trimmed.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &Value) -> String {
        v.to_text().unwrap()
    }

    #[test]
    fn round_trips_postgres_literals() {
        let int = DataType::Int32;
        for lit in ["{}", "{1,2,NULL}", "{{1,2},{3,4}}"] {
            assert_eq!(text(&parse_array(lit, &int).unwrap()), lit);
        }
        let t = DataType::TEXT;
        let v = parse_array(r#"{"a b","c\"d","",NULL,"NULL",x\,y,plain}"#, &t).unwrap();
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Text("a b".into()),
                Value::Text("c\"d".into()),
                Value::Text(String::new()),
                Value::Null,
                Value::Text("NULL".into()),
                Value::Text("x,y".into()),
                Value::Text("plain".into()),
            ])
        );
        assert_eq!(text(&v), r#"{"a b","c\"d","",NULL,"NULL","x,y",plain}"#);
        assert_eq!(
            text(&parse_array("{t,f}", &DataType::Bool).unwrap()),
            "{t,f}"
        );
        assert!(parse_array("{1,2", &int).is_err());
        assert!(parse_array("{1,x}", &int).is_err());
    }

    #[test]
    fn reads_json_arrays_and_writes_json_exactly() {
        let dec = DataType::parse("numeric(40,20)").unwrap();
        let v = parse_array(
            r#"["12345678901234567890.12345678901234567890", null, 1.5]"#,
            &dec,
        )
        .unwrap();
        let mut json = String::new();
        write_json(&v, &mut json);
        assert_eq!(
            json,
            r#"["12345678901234567890.12345678901234567890",null,"1.50000000000000000000"]"#
        );
        assert_eq!(parse_array(&json, &dec).unwrap(), v);
    }
}
