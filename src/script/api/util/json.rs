//! `parse_json(text)` and `to_json(value)`. Numbers that fit an integer parse as integers,
//! others as floats; objects keep their key order. `to_json` writes Decimals as exact JSON
//! numbers and dates and times as ISO text.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rhai::{Array, Dynamic, Engine, Map};

use super::super::{fail, Res};
use crate::data::Decimal;

pub fn register(engine: &mut Engine) {
    engine.register_fn("parse_json", |text: &str| -> Res<Dynamic> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| fail(format!("parse_json(): not JSON: {e}")))?;
        Ok(from_json(v))
    });
    // Registered for maps and arrays too, which Rhai's own `to_json` would otherwise take
    // (it cannot write Decimals or dates).
    engine.register_fn("to_json", |v: Map| to_json(Dynamic::from_map(v)));
    engine.register_fn("to_json", |v: Array| to_json(Dynamic::from_array(v)));
    engine.register_fn("to_json", to_json);
}

fn from_json(v: serde_json::Value) -> Dynamic {
    use serde_json::Value as J;
    match v {
        J::Null => Dynamic::UNIT,
        J::Bool(b) => b.into(),
        J::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or(f64::NAN).into(),
        },
        J::String(s) => s.into(),
        J::Array(items) => items.into_iter().map(from_json).collect::<Array>().into(),
        J::Object(o) => {
            let mut m = Map::new();
            for (k, v) in o {
                m.insert(k.into(), from_json(v));
            }
            Dynamic::from_map(m)
        }
    }
}

fn to_json(v: Dynamic) -> Res<String> {
    let mut out = String::new();
    write(&mut out, &v, "value")?;
    Ok(out)
}

fn string(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("a string serializes"));
}

fn write(out: &mut String, v: &Dynamic, at: &str) -> Res<()> {
    if v.is_unit() {
        out.push_str("null");
    } else if let Ok(b) = v.as_bool() {
        out.push_str(if b { "true" } else { "false" });
    } else if let Ok(i) = v.as_int() {
        out.push_str(&i.to_string());
    } else if let Ok(f) = v.as_float() {
        if !f.is_finite() {
            return Err(fail(format!(
                "to_json(): {at} is {f}, which JSON cannot hold"
            )));
        }
        out.push_str(&serde_json::Number::from_f64(f).expect("finite").to_string());
    } else if v.is_string() {
        string(out, &v.clone().into_string().expect("string"));
    } else if let Some(d) = v.read_lock::<Decimal>() {
        out.push_str(&d.to_string());
    } else if let Some(d) = v.read_lock::<NaiveDate>() {
        string(out, &d.format("%Y-%m-%d").to_string());
    } else if let Some(t) = v.read_lock::<NaiveDateTime>() {
        string(out, &t.format("%Y-%m-%dT%H:%M:%S%.f").to_string());
    } else if let Some(t) = v.read_lock::<DateTime<Utc>>() {
        string(out, &t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    } else if let Some(t) = v.read_lock::<NaiveTime>() {
        string(out, &t.format("%H:%M:%S%.f").to_string());
    } else if let Some(a) = v.read_lock::<Array>() {
        out.push('[');
        for (i, item) in a.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write(out, item, &format!("{at}[{i}]"))?;
        }
        out.push(']');
    } else if let Some(m) = v.read_lock::<Map>() {
        out.push('{');
        for (i, (k, item)) in m.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            string(out, k);
            out.push(':');
            write(out, item, &format!("{at}.{k}"))?;
        }
        out.push('}');
    } else {
        return Err(fail(format!(
            "to_json(): {at} is a {}, which JSON cannot hold",
            v.type_name()
        )));
    }
    Ok(())
}
