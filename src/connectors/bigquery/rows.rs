//! One page of results as rows of `Value`s. A page is parsed with its cells borrowed as raw
//! JSON (`RawValue`), not as a DOM: only RECORD cells, which become JSON text, build one.

use base64::Engine;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::types::{Field, Kind};
use crate::data::{Decimal, Value};

#[derive(Deserialize)]
pub struct Row<'a> {
    #[serde(borrow)]
    pub f: Vec<Cell<'a>>,
}

#[derive(Deserialize)]
pub struct Cell<'a> {
    #[serde(borrow)]
    pub v: &'a RawValue,
}

pub fn decode(kind: Kind, field: &Field, raw: &RawValue) -> Result<Value, String> {
    let text = raw.get();
    if text == "null" {
        return Ok(Value::Null);
    }
    if kind == Kind::Record {
        return Ok(Value::Json(record_json(field, raw)?.to_string()));
    }
    if field.repeated() {
        let cells: Vec<Cell> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        return cells
            .iter()
            .map(|c| scalar(kind, c.v))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    scalar(kind, raw)
}

fn scalar(kind: Kind, raw: &RawValue) -> Result<Value, String> {
    if raw.get() == "null" {
        return Ok(Value::Null);
    }
    let s: std::borrow::Cow<str> = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
    let bad = |what: &str| format!("'{s}' is not {what}");
    Ok(match kind {
        Kind::Int => Value::Int64(s.parse().map_err(|_| bad("an INT64"))?),
        Kind::Float => Value::Float64(match s.as_ref() {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            _ => s.parse().map_err(|_| bad("a FLOAT64"))?,
        }),
        Kind::Numeric => Value::Decimal(Decimal::parse(&s)?),
        Kind::Bool => Value::Bool(match s.as_ref() {
            "true" => true,
            "false" => false,
            _ => return Err(bad("a BOOL")),
        }),
        Kind::Text => Value::Text(s.into_owned()),
        Kind::Json => Value::Json(s.into_owned()),
        Kind::Bytes => Value::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(s.as_bytes())
                .map_err(|_| bad("base64 BYTES"))?,
        ),
        Kind::Date => {
            Value::Date(NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| bad("a DATE"))?)
        }
        Kind::Time => {
            Value::Time(NaiveTime::parse_from_str(&s, "%H:%M:%S%.f").map_err(|_| bad("a TIME"))?)
        }
        Kind::DateTime => Value::Timestamp(
            NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M:%S%.f"))
                .map_err(|_| bad("a DATETIME"))?,
        ),
        Kind::Timestamp => Value::TimestampTz(timestamp(&s).ok_or_else(|| bad("a TIMESTAMP"))?),
        Kind::Record => unreachable!("records are decoded whole"),
    })
}

/// Microseconds since the epoch (`formatOptions.useInt64Timestamp`), or seconds as a decimal
/// (`1.7092800E9`), converted exactly (no float).
fn timestamp(s: &str) -> Option<DateTime<chrono::Utc>> {
    if let Ok(micros) = s.parse::<i64>() {
        return DateTime::from_timestamp_micros(micros);
    }
    let secs = Decimal::parse(s).ok()?.with_scale(6)?;
    let micros = Decimal::parse(&secs.as_str().replace('.', ""))
        .ok()?
        .to_i128()?;
    DateTime::from_timestamp_micros(i64::try_from(micros).ok()?)
}

/// A RECORD cell (`{"f": [{"v": ..}, ..]}`) as a JSON object keyed by the field names; a
/// repeated one as an array of them.
fn record_json(field: &Field, raw: &RawValue) -> Result<serde_json::Value, String> {
    if raw.get() == "null" {
        return Ok(serde_json::Value::Null);
    }
    if field.repeated() {
        let cells: Vec<Cell> = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
        let one = Field {
            mode: None,
            ..field.clone()
        };
        return cells
            .iter()
            .map(|c| record_json(&one, c.v))
            .collect::<Result<Vec<_>, _>>()
            .map(serde_json::Value::Array);
    }
    let row: Row = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
    let mut obj = serde_json::Map::new();
    for (sub, cell) in field.fields.iter().zip(&row.f) {
        let (kind, _) = super::types::map(sub)?;
        let v = if kind == Kind::Record {
            record_json(sub, cell.v)?
        } else {
            // Leaves keep BigQuery's JSON form (numbers as strings keep their digits).
            serde_json::from_str(cell.v.get()).map_err(|e| e.to_string())?
        };
        obj.insert(sub.name.clone(), v);
    }
    Ok(serde_json::Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    #[test]
    fn timestamps_are_exact_in_both_forms() {
        let a = timestamp("1709280000123456").unwrap();
        let b = timestamp("1.709280000123456E9").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_rfc3339(), "2024-03-01T08:00:00.123456+00:00");
    }

    #[test]
    fn records_become_json_objects_and_arrays_values() {
        let f = Field {
            name: "r".into(),
            type_name: "RECORD".into(),
            mode: None,
            fields: vec![
                Field {
                    name: "a".into(),
                    type_name: "INTEGER".into(),
                    mode: None,
                    fields: vec![],
                },
                Field {
                    name: "b".into(),
                    type_name: "STRING".into(),
                    mode: None,
                    fields: vec![],
                },
            ],
        };
        let v = decode(Kind::Record, &f, &raw(r#"{"f":[{"v":"1"},{"v":null}]}"#)).unwrap();
        assert_eq!(v, Value::Json(r#"{"a":"1","b":null}"#.into()));
        let arr = Field {
            name: "x".into(),
            type_name: "INTEGER".into(),
            mode: Some("REPEATED".into()),
            fields: vec![],
        };
        let v = decode(Kind::Int, &arr, &raw(r#"[{"v":"1"},{"v":"2"}]"#)).unwrap();
        assert_eq!(v, Value::Array(vec![Value::Int64(1), Value::Int64(2)]));
    }
}
