//! A page's JSON, read without going through floats: every value stays the text the server
//! sent (`RawValue`), so 12.50 stays 12.50 and a 25-digit id keeps every digit. Nested
//! objects and arrays are kept as their JSON text.

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// An object's fields in the order the server sent them.
pub struct Fields<'a>(pub Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Fields<'de>, M::Error> {
                let mut out = Vec::with_capacity(m.size_hint().unwrap_or(8));
                while let Some(k) = m.next_key::<String>()? {
                    out.push((k, m.next_value::<&'de RawValue>()?));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// One JSON value as a column sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    /// The number exactly as written.
    Number(&'a str),
    String(String),
    /// An object or array, as its JSON text.
    Nested(&'a str),
}

impl<'a> Json<'a> {
    pub fn of(raw: &'a RawValue) -> Result<Json<'a>, String> {
        let text = raw.get().trim();
        Ok(match text.as_bytes().first() {
            Some(b'n') => Json::Null,
            Some(b't') => Json::Bool(true),
            Some(b'f') => Json::Bool(false),
            Some(b'"') => Json::String(serde_json::from_str(text).map_err(|e| e.to_string())?),
            Some(b'{' | b'[') => Json::Nested(text),
            Some(_) => Json::Number(text),
            None => return Err("an empty value".into()),
        })
    }
}

/// A path to a value: `$`, `$.data.items`, `$.pages[0].next`, `data.items` (the `$.` may be
/// left out).
#[derive(Clone, Debug, PartialEq)]
pub struct JsonPath(Vec<Step>);

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

impl JsonPath {
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let body = text.trim();
        let body = body.strip_prefix('$').unwrap_or(body);
        let body = body.strip_prefix('.').unwrap_or(body);
        let mut steps = Vec::new();
        if body.is_empty() {
            return Ok(JsonPath(steps));
        }
        for part in body.split('.') {
            let (key, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if key.is_empty() && rest.is_empty() {
                return Err(format!("'{text}' has an empty step (write $.a.b)"));
            }
            if !key.is_empty() {
                steps.push(Step::Key(key.to_string()));
            }
            while let Some(r) = rest.strip_prefix('[') {
                let (n, after) = r
                    .split_once(']')
                    .ok_or_else(|| format!("'{text}': '[' without ']'"))?;
                let n = n
                    .parse()
                    .map_err(|_| format!("'{text}': [{n}] is not an array index"))?;
                steps.push(Step::Index(n));
                rest = after;
            }
            if !rest.is_empty() {
                return Err(format!("'{text}': unexpected '{rest}'"));
            }
        }
        Ok(JsonPath(steps))
    }

    /// The value at the path; None when a step is missing (or the value is null).
    pub fn find<'a>(&self, root: &'a RawValue) -> Result<Option<&'a RawValue>, String> {
        let mut at = root;
        for step in &self.0 {
            let next = match step {
                Step::Key(k) => {
                    if !at.get().trim_start().starts_with('{') {
                        return Ok(None);
                    }
                    let fields: Fields =
                        serde_json::from_str(at.get()).map_err(|e| e.to_string())?;
                    fields.0.into_iter().find(|(n, _)| n == k).map(|(_, v)| v)
                }
                Step::Index(i) => {
                    if !at.get().trim_start().starts_with('[') {
                        return Ok(None);
                    }
                    let items: Vec<&RawValue> =
                        serde_json::from_str(at.get()).map_err(|e| e.to_string())?;
                    items.get(*i).copied()
                }
            };
            match next {
                Some(v) => at = v,
                None => return Ok(None),
            }
        }
        Ok((at.get().trim() != "null").then_some(at))
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for s in &self.0 {
            match s {
                Step::Key(k) => write!(f, ".{k}")?,
                Step::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// The records at `path`: an array of objects (an empty or missing array is no records).
pub fn records<'a>(root: &'a RawValue, path: &JsonPath) -> Result<Vec<&'a RawValue>, String> {
    match path.find(root)? {
        None => Ok(Vec::new()),
        Some(v) if v.get().trim_start().starts_with('[') => {
            serde_json::from_str(v.get()).map_err(|e| e.to_string())
        }
        Some(v) => Err(format!(
            "the records at {path} are not an array but {}",
            shorten(v.get())
        )),
    }
}

/// A text value at `path` (a next link, a cursor): strings and numbers; None when missing,
/// null or "".
pub fn text_at(root: &RawValue, path: &JsonPath) -> Result<Option<String>, String> {
    let Some(v) = path.find(root)? else {
        return Ok(None);
    };
    Ok(match Json::of(v)? {
        Json::String(s) if s.is_empty() => None,
        Json::String(s) => Some(s),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(_) | Json::Nested(_) => {
            return Err(format!(
                "{path} should be a string, not {}",
                shorten(v.get())
            ))
        }
        Json::Null => None,
    })
}

pub fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> &RawValue {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn numbers_keep_the_text_the_server_sent() {
        let r =
            raw(r#"{"amount": 12.50, "big": 123456789012345678901234567890, "tiny": -0.000001}"#);
        let f: Fields = serde_json::from_str(r.get()).unwrap();
        let values: Vec<_> =
            f.0.iter()
                .map(|(k, v)| (k.as_str(), Json::of(v).unwrap()))
                .collect();
        assert_eq!(
            values,
            [
                ("amount", Json::Number("12.50")),
                ("big", Json::Number("123456789012345678901234567890")),
                ("tiny", Json::Number("-0.000001")),
            ]
        );
    }

    #[test]
    fn fields_keep_their_order_and_nested_values_their_text() {
        let f: Fields =
            serde_json::from_str(r#"{"z": "a\"b", "a": {"x": [1, 2.0]}, "m": null, "t": true}"#)
                .unwrap();
        let values: Vec<_> =
            f.0.iter()
                .map(|(k, v)| (k.as_str(), Json::of(v).unwrap()))
                .collect();
        assert_eq!(
            values,
            [
                ("z", Json::String("a\"b".into())),
                ("a", Json::Nested(r#"{"x": [1, 2.0]}"#)),
                ("m", Json::Null),
                ("t", Json::Bool(true)),
            ]
        );
    }

    #[test]
    fn paths_find_records_and_links() {
        let page = raw(
            r#"{"data": {"items": [{"id": 1}, {"id": 2}]}, "links": [{"next": "/p2"}], "n": null}"#,
        );
        let items = records(page, &JsonPath::parse("$.data.items").unwrap()).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].get(), r#"{"id": 2}"#);
        assert_eq!(
            text_at(page, &JsonPath::parse("links[0].next").unwrap()).unwrap(),
            Some("/p2".into())
        );
        assert_eq!(
            text_at(page, &JsonPath::parse("$.n").unwrap()).unwrap(),
            None
        );
        assert_eq!(
            text_at(page, &JsonPath::parse("$.missing.x").unwrap()).unwrap(),
            None
        );
        assert!(records(page, &JsonPath::parse("$.data").unwrap()).is_err());
        let top = raw(r#"[{"id": 1}]"#);
        assert_eq!(
            records(top, &JsonPath::parse("$").unwrap()).unwrap().len(),
            1
        );
    }

    #[test]
    fn bad_paths_say_what_is_wrong() {
        assert!(JsonPath::parse("$.a..b")
            .unwrap_err()
            .contains("empty step"));
        assert!(JsonPath::parse("$.a[x]")
            .unwrap_err()
            .contains("not an array index"));
        assert_eq!(JsonPath::parse("a.b[2]").unwrap().to_string(), "$.a.b[2]");
    }
}
