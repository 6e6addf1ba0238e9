//! Arrow record batches from Snowflake as rows of `Value`s, exactly: numbers are scaled
//! integers (never floats), timestamps are epoch + fraction structs or scaled integers, as
//! the official connectors read them.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, Time64NanosecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow_schema::DataType as Arrow;
use chrono::{DateTime, NaiveDate, NaiveTime};

use super::types::Kind;
use crate::data::{Batch, Decimal, Value};

/// How each column of a result is read.
#[derive(Clone)]
pub struct Columns {
    pub names: Vec<String>,
    pub kinds: Vec<Kind>,
    pub scales: Vec<u32>,
}

/// Appends rows `from..to` of `rb` to `out`.
pub fn append(
    cols: &Columns,
    rb: &RecordBatch,
    from: usize,
    to: usize,
    out: &mut Batch,
) -> Result<(), String> {
    if rb.num_columns() != cols.kinds.len() {
        return Err(format!(
            "the result has {} columns where {} were described",
            rb.num_columns(),
            cols.kinds.len()
        ));
    }
    for row in from..to {
        for (c, array) in rb.columns().iter().enumerate() {
            let v = value(cols.kinds[c], cols.scales[c], array, row)
                .map_err(|e| format!("column '{}': {e}", cols.names[c]))?;
            out.push(v);
        }
    }
    Ok(())
}

fn value(kind: Kind, scale: u32, a: &ArrayRef, i: usize) -> Result<Value, String> {
    if a.is_null(i) {
        return Ok(Value::Null);
    }
    let unexpected = || format!("unexpected Arrow type {} for {kind:?}", a.data_type());
    Ok(match kind {
        Kind::Int | Kind::Decimal => {
            let (n, scale) = match a.data_type() {
                Arrow::Decimal128(_, s) => (a.as_primitive::<Decimal128Type>().value(i), *s as u32),
                _ => (int(a, i).ok_or_else(unexpected)? as i128, scale),
            };
            if kind == Kind::Int && scale == 0 {
                Value::Int64(i64::try_from(n).map_err(|_| format!("{n} does not fit bigint"))?)
            } else {
                Value::Decimal(scaled(n, scale))
            }
        }
        Kind::Real => match a.data_type() {
            Arrow::Float64 => Value::Float64(a.as_primitive::<Float64Type>().value(i)),
            Arrow::Float32 => Value::Float64(a.as_primitive::<Float32Type>().value(i) as f64),
            _ => return Err(unexpected()),
        },
        Kind::Text => Value::Text(text(a, i).ok_or_else(unexpected)?.to_string()),
        Kind::Json => Value::Json(text(a, i).ok_or_else(unexpected)?.to_string()),
        Kind::Binary => Value::Bytes(match a.data_type() {
            Arrow::Binary => a.as_binary::<i32>().value(i).to_vec(),
            Arrow::LargeBinary => a.as_binary::<i64>().value(i).to_vec(),
            Arrow::FixedSizeBinary(_) => a.as_fixed_size_binary().value(i).to_vec(),
            Arrow::BinaryView => a.as_binary_view().value(i).to_vec(),
            _ => return Err(unexpected()),
        }),
        Kind::Bool => match a.data_type() {
            Arrow::Boolean => Value::Bool(a.as_boolean().value(i)),
            _ => return Err(unexpected()),
        },
        Kind::Date => {
            let days = match a.data_type() {
                Arrow::Date32 => a.as_primitive::<Date32Type>().value(i) as i64,
                _ => int(a, i).ok_or_else(unexpected)?,
            };
            let d = NaiveDate::from_ymd_opt(1970, 1, 1)
                .and_then(|e| e.checked_add_signed(chrono::Duration::days(days)))
                .ok_or_else(|| format!("date {days} days from 1970 is out of range"))?;
            Value::Date(d)
        }
        Kind::Time => {
            let nanos = match a.data_type() {
                Arrow::Time64(_) => a.as_primitive::<Time64NanosecondType>().value(i),
                _ => int(a, i).ok_or_else(unexpected)? * 10i64.pow(9 - scale.min(9)),
            };
            let t = NaiveTime::from_num_seconds_from_midnight_opt(
                (nanos / 1_000_000_000) as u32,
                (nanos % 1_000_000_000) as u32,
            )
            .ok_or_else(|| format!("time {nanos} ns is out of range"))?;
            Value::Time(t)
        }
        Kind::Timestamp | Kind::TimestampTz => {
            let (secs, nanos) = match a.data_type() {
                Arrow::Struct(_) => epoch_of_struct(a.as_struct(), i, scale)?,
                _ => split_scaled(int(a, i).ok_or_else(unexpected)?, scale),
            };
            let at = DateTime::from_timestamp(secs, nanos)
                .ok_or_else(|| format!("timestamp {secs}s from 1970 is out of range"))?;
            if kind == Kind::Timestamp {
                Value::Timestamp(at.naive_utc())
            } else {
                Value::TimestampTz(at)
            }
        }
    })
}

/// `{epoch, fraction[, timezone]}` (epoch in seconds, fraction in nanoseconds) or
/// `{epoch, timezone}` (epoch scaled by the column's scale). The zone of TIMESTAMP_TZ is an
/// offset of the same instant: the instant is what PostgreSQL's timestamptz keeps.
fn epoch_of_struct(s: &StructArray, i: usize, scale: u32) -> Result<(i64, u32), String> {
    let epoch = s
        .column_by_name("epoch")
        .and_then(|e| int(e, i))
        .ok_or("a timestamp struct without an integer 'epoch'")?;
    match s.column_by_name("fraction") {
        Some(f) => {
            let fraction =
                int(f, i).ok_or("a timestamp struct whose 'fraction' is not an integer")?;
            Ok((epoch, fraction as u32))
        }
        None => Ok(split_scaled(epoch, scale)),
    }
}

fn split_scaled(n: i64, scale: u32) -> (i64, u32) {
    let unit = 10i64.pow(scale.min(9));
    let secs = n.div_euclid(unit);
    let frac = n.rem_euclid(unit) * 10i64.pow(9 - scale.min(9));
    (secs, frac as u32)
}

fn int(a: &ArrayRef, i: usize) -> Option<i64> {
    Some(match a.data_type() {
        Arrow::Int8 => a.as_primitive::<Int8Type>().value(i) as i64,
        Arrow::Int16 => a.as_primitive::<Int16Type>().value(i) as i64,
        Arrow::Int32 => a.as_primitive::<Int32Type>().value(i) as i64,
        Arrow::Int64 => a.as_primitive::<Int64Type>().value(i),
        _ => return None,
    })
}

fn text(a: &ArrayRef, i: usize) -> Option<&str> {
    Some(match a.data_type() {
        Arrow::Utf8 => a.as_string::<i32>().value(i),
        Arrow::LargeUtf8 => a.as_string::<i64>().value(i),
        Arrow::Utf8View => a.as_string_view().value(i),
        _ => return None,
    })
}

/// An integer scaled by `scale` decimal places, as an exact decimal.
fn scaled(n: i128, scale: u32) -> Decimal {
    Decimal::from_digits(n < 0, &n.unsigned_abs().to_string(), scale as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_integers_are_exact_decimals() {
        let big = 12345678901234567890123456789012345678i128;
        assert_eq!(
            scaled(-big, 2).as_str(),
            "-123456789012345678901234567890123456.78"
        );
        assert_eq!(scaled(5, 3).as_str(), "0.005");
        assert_eq!(split_scaled(-1, 3), (-1, 999_000_000));
    }
}
