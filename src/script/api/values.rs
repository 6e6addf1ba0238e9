//! Values crossing into and out of the interpreter. Exact types have Rhai types of their own
//! (Decimal, Date, Timestamp, ...) so a row that passes through `.map` keeps its precision.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rhai::{Array, Blob, Dynamic, Engine, Map};

use crate::data::{DataType, Decimal, Schema, Value};

pub fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<Decimal>("Decimal")
        .register_fn("to_string", |d: &mut Decimal| d.to_string())
        .register_fn("to_debug", |d: &mut Decimal| d.to_string())
        .register_fn("to_float", |d: &mut Decimal| d.to_f64())
        .register_fn("to_int", |d: &mut Decimal| {
            d.to_i128()
                .and_then(|v| i64::try_from(v).ok())
                .map(Dynamic::from)
                .unwrap_or(Dynamic::UNIT)
        })
        .register_fn("==", |a: Decimal, b: Decimal| a == b || a.cmp(&b).is_eq())
        .register_fn("!=", |a: Decimal, b: Decimal| !a.cmp(&b).is_eq())
        .register_fn("<", |a: Decimal, b: Decimal| a < b)
        .register_fn(">", |a: Decimal, b: Decimal| a > b)
        .register_fn("<=", |a: Decimal, b: Decimal| a <= b)
        .register_fn(">=", |a: Decimal, b: Decimal| a >= b)
        .register_fn("decimal", |s: &str| Decimal::parse(s).map_err(super::fail))
        .register_fn("decimal", |i: i64| Decimal::from_i128(i as i128));
    macro_rules! text_type {
        ($t:ty, $name:literal, $fmt:literal) => {
            engine
                .register_type_with_name::<$t>($name)
                .register_fn("to_string", |v: &mut $t| v.format($fmt).to_string())
                .register_fn("to_debug", |v: &mut $t| v.format($fmt).to_string())
                .register_fn("==", |a: $t, b: $t| a == b)
                .register_fn("!=", |a: $t, b: $t| a != b)
                .register_fn("<", |a: $t, b: $t| a < b)
                .register_fn(">", |a: $t, b: $t| a > b)
                .register_fn("<=", |a: $t, b: $t| a <= b)
                .register_fn(">=", |a: $t, b: $t| a >= b);
        };
    }
    text_type!(NaiveDate, "Date", "%Y-%m-%d");
    text_type!(NaiveTime, "Time", "%H:%M:%S%.f");
    text_type!(NaiveDateTime, "Timestamp", "%Y-%m-%d %H:%M:%S%.f");
    text_type!(DateTime<Utc>, "TimestampTz", "%Y-%m-%d %H:%M:%S%.f+00");
    engine.register_fn("year", |d: &mut NaiveDate| chrono::Datelike::year(d) as i64);
    engine.register_fn("date", |t: &mut NaiveDateTime| t.date());
}

pub fn to_dynamic(v: Value) -> Dynamic {
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => b.into(),
        Value::Int16(i) => (i as i64).into(),
        Value::Int32(i) => (i as i64).into(),
        Value::Int64(i) => i.into(),
        Value::Float32(f) => (f as f64).into(),
        Value::Float64(f) => f.into(),
        Value::Decimal(d) => Dynamic::from(d),
        Value::Text(s) | Value::Json(s) => s.into(),
        Value::Date(d) => Dynamic::from(d),
        Value::Time(t) => Dynamic::from(t),
        Value::Timestamp(t) => Dynamic::from(t),
        Value::TimestampTz(t) => Dynamic::from(t),
        Value::Uuid(u) => u.to_string().into(),
        Value::Bytes(b) => Dynamic::from_blob(b),
        Value::Interval { .. } => v.to_text().unwrap_or_default().into(),
        Value::Array(items) => items.into_iter().map(to_dynamic).collect::<Array>().into(),
    }
}

/// The type a script value suggests on its own (None for `()`).
pub fn dynamic_type(d: &Dynamic) -> Option<DataType> {
    Some(if d.is_unit() {
        return None;
    } else if d.is_bool() {
        DataType::Bool
    } else if d.is_int() {
        DataType::Int64
    } else if d.is_float() {
        DataType::Float64
    } else if d.is_string() {
        DataType::TEXT
    } else if d.is::<Decimal>() {
        DataType::NUMERIC
    } else if d.is::<NaiveDate>() {
        DataType::Date
    } else if d.is::<NaiveTime>() {
        DataType::Time
    } else if d.is::<NaiveDateTime>() {
        DataType::Timestamp
    } else if d.is::<DateTime<Utc>>() {
        DataType::TimestampTz
    } else if d.is_blob() {
        DataType::Bytes
    } else if d.is_map() || d.is_array() {
        DataType::Json
    } else {
        DataType::TEXT
    })
}

/// Converts a script value, to `hint`'s type when given (text is parsed, integers widened),
/// refusing lossy conversions.
pub fn from_dynamic(d: Dynamic, hint: Option<&DataType>) -> Result<Value, String> {
    let v = if d.is_unit() {
        Value::Null
    } else if d.is_bool() {
        Value::Bool(d.as_bool().expect("bool"))
    } else if d.is_int() {
        Value::Int64(d.as_int().expect("int"))
    } else if d.is_float() {
        Value::Float64(d.as_float().expect("float"))
    } else if d.is_string() {
        Value::Text(d.into_string().expect("string"))
    } else if d.is::<Decimal>() {
        Value::Decimal(d.cast())
    } else if d.is::<NaiveDate>() {
        Value::Date(d.cast())
    } else if d.is::<NaiveTime>() {
        Value::Time(d.cast())
    } else if d.is::<NaiveDateTime>() {
        Value::Timestamp(d.cast())
    } else if d.is::<DateTime<Utc>>() {
        Value::TimestampTz(d.cast())
    } else if d.is_blob() {
        Value::Bytes(d.cast::<Blob>())
    } else if d.is_map() || d.is_array() {
        Value::Json(to_json(&d).to_string())
    } else {
        return Err(format!("a {} cannot be stored in a table", d.type_name()));
    };
    match hint {
        Some(t) if v.data_type().as_ref() != Some(t) => v.coerce(t),
        _ => Ok(v),
    }
}

fn to_json(d: &Dynamic) -> serde_json::Value {
    use serde_json::Value as J;
    if d.is_unit() {
        J::Null
    } else if let Ok(b) = d.as_bool() {
        J::Bool(b)
    } else if let Ok(i) = d.as_int() {
        J::from(i)
    } else if let Ok(f) = d.as_float() {
        J::from(f)
    } else if d.is_array() {
        J::Array(
            d.read_lock::<Array>()
                .expect("array")
                .iter()
                .map(to_json)
                .collect(),
        )
    } else if d.is_map() {
        J::Object(
            d.read_lock::<Map>()
                .expect("map")
                .iter()
                .map(|(k, v)| (k.to_string(), to_json(v)))
                .collect(),
        )
    } else {
        J::String(d.to_string())
    }
}

/// A row as a script map: column name -> value.
pub fn row_to_map(schema: &Schema, row: &[Value]) -> Map {
    schema
        .columns
        .iter()
        .zip(row)
        .map(|(c, v)| (c.name.as_str().into(), to_dynamic(v.clone())))
        .collect()
}

/// Named SQL parameters from a script map.
pub fn params(map: Map) -> Result<crate::connectors::Params, String> {
    map.into_iter()
        .map(|(k, v)| {
            from_dynamic(v, None)
                .map(|v| (k.to_string(), v))
                .map_err(|e| format!("parameter :{k}: {e}"))
        })
        .collect()
}
