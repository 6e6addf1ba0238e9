//! The lowest and highest values of a cursor's type: what a source binds to a `:since` or
//! `:until` its window leaves open, for databases whose parameters must have a value.

use chrono::{NaiveDate, NaiveDateTime};

use crate::data::{DataType, Decimal, Value};

pub fn extreme(ty: Option<&DataType>, high: bool) -> Value {
    let pick = |lo: Value, hi: Value| if high { hi } else { lo };
    let ts = |y, m, d, h, mi, s| -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(h, mi, s))
            .expect("a valid date")
    };
    match ty {
        Some(DataType::Bool | DataType::Int16 | DataType::Int32 | DataType::Int64) => {
            pick(Value::Int64(i64::MIN), Value::Int64(i64::MAX))
        }
        Some(DataType::Float32 | DataType::Float64) => {
            pick(Value::Float64(f64::MIN), Value::Float64(f64::MAX))
        }
        Some(DataType::Decimal { .. }) => {
            let nines = "9".repeat(38);
            pick(
                Value::Decimal(Decimal::parse(&format!("-{nines}")).expect("a decimal")),
                Value::Decimal(Decimal::parse(&nines).expect("a decimal")),
            )
        }
        Some(DataType::Text { .. } | DataType::Uuid | DataType::Json) => pick(
            Value::Text(String::new()),
            Value::Text("\u{10FFFF}".repeat(64)),
        ),
        Some(DataType::Date) => pick(
            Value::Date(ts(1, 1, 1, 0, 0, 0).date()),
            Value::Date(ts(9999, 12, 31, 0, 0, 0).date()),
        ),
        Some(DataType::TimestampTz) => pick(
            Value::TimestampTz(ts(1, 1, 1, 0, 0, 0).and_utc()),
            Value::TimestampTz(ts(9999, 12, 31, 23, 59, 59).and_utc()),
        ),
        _ => pick(
            Value::Timestamp(ts(1, 1, 1, 0, 0, 0)),
            Value::Timestamp(ts(9999, 12, 31, 23, 59, 59)),
        ),
    }
}
