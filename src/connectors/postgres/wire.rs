//! Values to and from PostgreSQL's binary format, per column `Wire`. Shared by COPY (both
//! directions), result rows and bound parameters, so every path encodes a value the same way.

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::numeric;
use super::types::{PgType, Wire};
use crate::data::{DataType, Value};

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// `NaiveDate::num_days_from_ce` of 2000-01-01.
const PG_EPOCH_DAYS_FROM_CE: i32 = 730_120;
const USECS_PER_DAY: i64 = 86_400_000_000;
/// Dates and timestamps of ±200,000 years around 2000, which always decode.
const SAFE_DAYS: std::ops::Range<i32> = -73_000_000..73_000_000;
const SAFE_MICROS: std::ops::Range<i64> = -6_300_000_000_000_000_000..6_300_000_000_000_000_000;

/// Appends the binary payload of a non-NULL value for a column of `wire`. A value of another
/// type is converted first, refusing lossy casts (a text parameter bound to a timestamp is
/// parsed, an int4 widened to int8).
pub fn encode(v: &Value, wire: &Wire, out: &mut BytesMut) -> Result<(), String> {
    match (wire, v) {
        (Wire::Bool, Value::Bool(b)) => out.put_u8(*b as u8),
        (Wire::Int2, Value::Int16(i)) => out.put_i16(*i),
        (Wire::Int4, Value::Int32(i)) => out.put_i32(*i),
        (Wire::Int8, Value::Int64(i)) => out.put_i64(*i),
        (Wire::Int4, Value::Int16(i)) => out.put_i32(*i as i32),
        (Wire::Int8, Value::Int16(i)) => out.put_i64(*i as i64),
        (Wire::Int8, Value::Int32(i)) => out.put_i64(*i as i64),
        (Wire::Float4, Value::Float32(f)) => out.put_f32(*f),
        (Wire::Float8, Value::Float64(f)) => out.put_f64(*f),
        (Wire::Float8, Value::Float32(f)) => out.put_f64(*f as f64),
        (Wire::Numeric, Value::Decimal(d)) => {
            if !numeric::representable(d) {
                return Err(format!("{} has more digits than PostgreSQL's numeric can hold", crate::data::shorten_text(d.as_str(), 40)));
            }
            numeric::encode(d, out)
        }
        (Wire::Text, Value::Text(s)) | (Wire::Json, Value::Json(s)) => put_text(s, out)?,
        (Wire::Text, Value::Json(s)) => put_text(s, out)?,
        (Wire::Jsonb, Value::Json(s)) => {
            out.put_u8(1);
            put_text(s, out)?
        }
        (Wire::Date, Value::Date(d)) => out.put_i32(d.num_days_from_ce() - PG_EPOCH_DAYS_FROM_CE),
        (Wire::Time(p), Value::Time(t)) => {
            let micros = t.num_seconds_from_midnight() as i64 * 1_000_000 + (t.nanosecond() / 1000) as i64;
            check_precision(micros, *p, v)?;
            out.put_i64(micros)
        }
        (Wire::Timestamp(p), Value::Timestamp(t)) => {
            let micros = t.and_utc().timestamp_micros() - PG_EPOCH_MICROS;
            check_precision(micros, *p, v)?;
            out.put_i64(micros)
        }
        (Wire::TimestampTz(p), Value::TimestampTz(t)) => {
            let micros = t.timestamp_micros() - PG_EPOCH_MICROS;
            check_precision(micros, *p, v)?;
            out.put_i64(micros)
        }
        (Wire::Interval, Value::Interval { months, days, micros }) => {
            out.put_i64(*micros);
            out.put_i32(*days);
            out.put_i32(*months);
        }
        (Wire::Uuid, Value::Uuid(u)) => out.put_slice(u.as_bytes()),
        (Wire::Bytea, Value::Bytes(b)) => out.put_slice(b),
        (Wire::Array { elem, elem_oid }, Value::Array(items)) => encode_array(items, elem, *elem_oid, out)?,
        // The shortest text that reads back as the same double is its exact decimal: what a
        // script wrote as `1.5` binds as 1.5.
        (Wire::Numeric, Value::Float64(f)) if f.is_finite() => {
            let d = crate::data::Decimal::parse(&f.to_string())?;
            numeric::encode(&d, out)
        }
        (Wire::Timestamp(_), Value::Date(d)) => {
            out.put_i64(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_micros() - PG_EPOCH_MICROS)
        }
        (Wire::TimestampTz(_), Value::Date(d)) => {
            out.put_i64(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_micros() - PG_EPOCH_MICROS)
        }
        (Wire::Unsupported(name), _) => {
            return Err(format!("the column type {name} cannot be written by etl; change the column to a supported type or cast in SQL"))
        }
        (_, Value::Null) => return Err("NULL has no payload".into()),
        (wire, other) => {
            let target = wire_type(wire);
            let converted = other.clone().coerce(&target)?;
            if std::mem::discriminant(&converted) == std::mem::discriminant(other) {
                return Err(format!(
                    "a {} value cannot be written to a {target} column",
                    other.data_type().map(|t| t.to_string()).unwrap_or_default()
                ));
            }
            encode(&converted, wire, out)?
        }
    }
    Ok(())
}

/// Appends a text value for a column of `wire` as `encode` does for `Value::Text`, without
/// the value.
pub fn encode_str(s: &str, wire: &Wire, out: &mut BytesMut) -> Result<(), String> {
    match wire {
        Wire::Text => put_text(s, out),
        _ => encode(&Value::Text(s.to_string()), wire, out),
    }
}

/// The `DataType` a wire format stands for (for converting a value of another type).
fn wire_type(wire: &Wire) -> DataType {
    match wire {
        Wire::Bool => DataType::Bool,
        Wire::Int2 => DataType::Int16,
        Wire::Int4 => DataType::Int32,
        Wire::Int8 => DataType::Int64,
        Wire::Float4 => DataType::Float32,
        Wire::Float8 => DataType::Float64,
        Wire::Numeric => DataType::NUMERIC,
        Wire::Text | Wire::Unsupported(_) => DataType::TEXT,
        Wire::Json | Wire::Jsonb => DataType::Json,
        Wire::Date => DataType::Date,
        Wire::Time(_) => DataType::Time,
        Wire::Timestamp(_) => DataType::Timestamp,
        Wire::TimestampTz(_) => DataType::TimestampTz,
        Wire::Interval => DataType::Interval,
        Wire::Uuid => DataType::Uuid,
        Wire::Bytea => DataType::Bytes,
        Wire::Array { elem, .. } => DataType::Array(Box::new(wire_type(elem))),
    }
}

/// PostgreSQL rounds a value with finer fractional seconds than `timestamp(p)` keeps; a load
/// must not change data silently.
fn check_precision(micros: i64, digits: u8, v: &Value) -> Result<(), String> {
    if digits >= 6 {
        return Ok(());
    }
    let unit = 10i64.pow(6 - digits as u32);
    if micros.rem_euclid(unit) != 0 {
        return Err(format!(
            "{} has more fractional seconds than the column keeps ({digits} digits) and would be rounded",
            v.to_text().unwrap_or_default()
        ));
    }
    Ok(())
}

fn put_text(s: &str, out: &mut BytesMut) -> Result<(), String> {
    if s.as_bytes().contains(&0) {
        return Err("text contains a NUL character, which PostgreSQL cannot store".into());
    }
    out.put_slice(s.as_bytes());
    Ok(())
}

fn encode_array(
    items: &[Value],
    elem: &Wire,
    elem_oid: u32,
    out: &mut BytesMut,
) -> Result<(), String> {
    let mut dims = Vec::new();
    let mut level = items;
    loop {
        dims.push(level.len());
        match level.first() {
            Some(Value::Array(inner)) => level = inner,
            _ => break,
        }
    }
    if items.is_empty() {
        dims.clear();
    }
    if dims.len() > 6 {
        return Err("arrays have at most 6 dimensions".into());
    }
    let mut flat: Vec<&Value> = Vec::new();
    flatten(items, &dims, &mut flat)?;
    out.put_i32(dims.len() as i32);
    out.put_i32(flat.iter().any(|v| v.is_null()) as i32);
    out.put_u32(elem_oid);
    for d in &dims {
        out.put_i32(*d as i32);
        out.put_i32(1);
    }
    for v in flat {
        if v.is_null() {
            out.put_i32(-1);
        } else {
            let at = out.len();
            out.put_i32(0);
            encode(v, elem, out)?;
            let len = (out.len() - at - 4) as i32;
            out[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
    }
    Ok(())
}

/// Row-major elements, checking that every sub-array has the dimensions of the first.
fn flatten<'a>(items: &'a [Value], dims: &[usize], out: &mut Vec<&'a Value>) -> Result<(), String> {
    if items.len() != dims.first().copied().unwrap_or(0) {
        return Err("multidimensional arrays must have sub-arrays of matching sizes".into());
    }
    for v in items {
        match (v, dims.len()) {
            (Value::Array(inner), n) if n > 1 => flatten(inner, &dims[1..], out)?,
            (Value::Array(_), _) => {
                return Err("multidimensional arrays must have sub-arrays of matching sizes".into())
            }
            (_, n) if n > 1 => {
                return Err("multidimensional arrays must have sub-arrays of matching sizes".into())
            }
            (v, _) => out.push(v),
        }
    }
    Ok(())
}

/// Reads a non-NULL binary value of `ty`.
pub fn decode(raw: &[u8], ty: &PgType) -> Result<Value, String> {
    decode_wire(raw, &ty.wire)
}

/// Checks a non-NULL binary value of `wire` is one `decode_wire` accepts, without building
/// it where that is cheap to tell: a passed-through value (`CopyFramer`) is refused exactly
/// where a decoded one would be (NaN, infinities, text that is not UTF-8).
pub fn check_carried(raw: &[u8], wire: &Wire) -> Result<(), String> {
    match wire {
        Wire::Bool
        | Wire::Int2
        | Wire::Int4
        | Wire::Int8
        | Wire::Float4
        | Wire::Float8
        | Wire::Interval
        | Wire::Uuid
        | Wire::Bytea => Ok(()),
        Wire::Text | Wire::Json => std::str::from_utf8(raw)
            .map(drop)
            .map_err(|e| format!("text is not UTF-8: {e}")),
        // A positive or negative sign word: a number (NaN and the infinities have others).
        Wire::Numeric if matches!(raw.get(4..6), Some([0x00 | 0x40, 0])) => Ok(()),
        // Well inside what decoding accepts (chrono's ±262,000 years): nothing to convert.
        Wire::Date if raw.len() == 4 && SAFE_DAYS.contains(&i32::from_be_bytes(fixed(raw)?)) => {
            Ok(())
        }
        Wire::Timestamp(_) | Wire::TimestampTz(_)
            if raw.len() == 8 && SAFE_MICROS.contains(&i64::from_be_bytes(fixed(raw)?)) =>
        {
            Ok(())
        }
        Wire::Time(_)
            if raw.len() == 8 && (0..USECS_PER_DAY).contains(&i64::from_be_bytes(fixed(raw)?)) =>
        {
            Ok(())
        }
        // The rest (out of those ranges, arrays, jsonb) is decoded for its verdict.
        _ => decode_wire(raw, wire).map(drop),
    }
}

fn fixed<const N: usize>(raw: &[u8]) -> Result<[u8; N], String> {
    raw.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", raw.len()))
}

pub fn decode_wire(raw: &[u8], wire: &Wire) -> Result<Value, String> {
    Ok(match wire {
        Wire::Bool => Value::Bool(fixed::<1>(raw)?[0] != 0),
        Wire::Int2 => Value::Int16(i16::from_be_bytes(fixed(raw)?)),
        Wire::Int4 => Value::Int32(i32::from_be_bytes(fixed(raw)?)),
        Wire::Int8 => Value::Int64(i64::from_be_bytes(fixed(raw)?)),
        Wire::Float4 => Value::Float32(f32::from_be_bytes(fixed(raw)?)),
        Wire::Float8 => Value::Float64(f64::from_be_bytes(fixed(raw)?)),
        Wire::Numeric => Value::Decimal(numeric::decode(raw)?),
        Wire::Text => Value::Text(text(raw)?),
        Wire::Json => Value::Json(text(raw)?),
        Wire::Jsonb => match raw.split_first() {
            Some((1, rest)) => Value::Json(text(rest)?),
            _ => return Err("unknown jsonb format version".into()),
        },
        Wire::Date => {
            let days = i32::from_be_bytes(fixed(raw)?);
            if days == i32::MAX || days == i32::MIN {
                return Err(format!(
                    "{}infinity is not a date etl can carry",
                    if days < 0 { "-" } else { "" }
                ));
            }
            Value::Date(
                days.checked_add(PG_EPOCH_DAYS_FROM_CE)
                    .and_then(NaiveDate::from_num_days_from_ce_opt)
                    .ok_or("date out of range")?,
            )
        }
        Wire::Time(_) => {
            let micros = i64::from_be_bytes(fixed(raw)?);
            if micros == USECS_PER_DAY {
                return Err("24:00:00 is not a time etl can carry".into());
            }
            let secs = micros.div_euclid(1_000_000) as u32;
            let nanos = (micros.rem_euclid(1_000_000) * 1000) as u32;
            Value::Time(
                NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos)
                    .ok_or("time out of range")?,
            )
        }
        Wire::Timestamp(_) => Value::Timestamp(timestamp(raw)?),
        Wire::TimestampTz(_) => Value::TimestampTz(timestamp(raw)?.and_utc()),
        Wire::Interval => {
            let b: [u8; 16] = fixed(raw)?;
            Value::Interval {
                micros: i64::from_be_bytes(b[0..8].try_into().expect("8 bytes")),
                days: i32::from_be_bytes(b[8..12].try_into().expect("4 bytes")),
                months: i32::from_be_bytes(b[12..16].try_into().expect("4 bytes")),
            }
        }
        Wire::Uuid => Value::Uuid(uuid::Uuid::from_bytes(fixed(raw)?)),
        Wire::Bytea => Value::Bytes(raw.to_vec()),
        Wire::Array { elem, .. } => decode_array(raw, elem)?,
        Wire::Unsupported(name) => return Err(format!("type {name} cannot be read in binary")),
    })
}

fn text(raw: &[u8]) -> Result<String, String> {
    std::str::from_utf8(raw)
        .map(str::to_string)
        .map_err(|e| format!("text is not UTF-8: {e}"))
}

fn timestamp(raw: &[u8]) -> Result<NaiveDateTime, String> {
    let micros = i64::from_be_bytes(fixed(raw)?);
    if micros == i64::MAX || micros == i64::MIN {
        return Err(format!(
            "{}infinity is not a timestamp etl can carry",
            if micros < 0 { "-" } else { "" }
        ));
    }
    micros
        .checked_add(PG_EPOCH_MICROS)
        .and_then(DateTime::from_timestamp_micros)
        .map(|t| t.naive_utc())
        .ok_or_else(|| "timestamp out of range".into())
}

fn decode_array(raw: &[u8], elem: &Wire) -> Result<Value, String> {
    let mut r = Reader { raw, at: 0 };
    let ndim = r.i32()?;
    let _has_null = r.i32()?;
    let _oid = r.i32()?;
    if !(0..=6).contains(&ndim) {
        return Err(format!("array with {ndim} dimensions"));
    }
    let mut dims = Vec::with_capacity(ndim as usize);
    for _ in 0..ndim {
        let n = r.i32()?;
        let _lower = r.i32()?;
        dims.push(usize::try_from(n).map_err(|_| "negative array dimension")?);
    }
    if dims.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    let v = read_dims(&mut r, &dims, elem)?;
    Ok(v)
}

fn read_dims(r: &mut Reader<'_>, dims: &[usize], elem: &Wire) -> Result<Value, String> {
    let mut items = Vec::with_capacity(dims[0]);
    for _ in 0..dims[0] {
        if dims.len() > 1 {
            items.push(read_dims(r, &dims[1..], elem)?);
        } else {
            let len = r.i32()?;
            if len < 0 {
                items.push(Value::Null);
            } else {
                let bytes = r.take(len as usize)?;
                items.push(decode_wire(bytes, elem)?);
            }
        }
    }
    Ok(Value::Array(items))
}

struct Reader<'a> {
    raw: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.raw.len())
            .ok_or("truncated array value")?;
        let s = &self.raw[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: Value, wire: Wire) -> Value {
        let mut buf = BytesMut::new();
        encode(&v, &wire, &mut buf).unwrap();
        decode_wire(&buf, &wire).unwrap()
    }

    #[test]
    fn every_wire_type_round_trips() {
        let p = |s: &str, t: &str| Value::parse(s, &DataType::parse(t).unwrap()).unwrap();
        let cases = [
            (Value::Bool(true), Wire::Bool),
            (Value::Int16(-7), Wire::Int2),
            (Value::Int32(i32::MIN), Wire::Int4),
            (Value::Int64(i64::MAX), Wire::Int8),
            (Value::Float32(1.5), Wire::Float4),
            (Value::Float64(-0.1), Wire::Float8),
            (p("-12345678901234567890.0001", "numeric"), Wire::Numeric),
            (Value::Text("héllo, \"wörld\"\n".into()), Wire::Text),
            (Value::Text(String::new()), Wire::Text),
            (Value::Json("{\"b\": 1, \"a\": [1.50]}".into()), Wire::Json),
            (Value::Json("{\"a\": 1}".into()), Wire::Jsonb),
            (p("1999-12-31", "date"), Wire::Date),
            (p("0001-01-01", "date"), Wire::Date),
            (p("23:59:59.999999", "time"), Wire::Time(6)),
            (
                p("1970-01-01 00:00:00.000001", "timestamp"),
                Wire::Timestamp(6),
            ),
            (
                p("2024-03-10 02:30:00.5+00", "timestamptz"),
                Wire::TimestampTz(6),
            ),
            (
                p("1 year 2 mons -3 days 04:05:06.7", "interval"),
                Wire::Interval,
            ),
            (
                p("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "uuid"),
                Wire::Uuid,
            ),
            (Value::Bytes(vec![0, 1, 255]), Wire::Bytea),
            (
                p("{{1,NULL},{3,4}}", "integer[]"),
                Wire::Array {
                    elem: Box::new(Wire::Int4),
                    elem_oid: 23,
                },
            ),
            (
                p("{}", "text[]"),
                Wire::Array {
                    elem: Box::new(Wire::Text),
                    elem_oid: 25,
                },
            ),
        ];
        for (v, wire) in cases {
            assert_eq!(round_trip(v.clone(), wire.clone()), v, "{wire:?}");
        }
    }

    #[test]
    fn converts_other_types_losslessly_only() {
        assert_eq!(round_trip(Value::Int32(5), Wire::Int8), Value::Int64(5));
        let ts = round_trip(
            Value::Text("2024-01-02 03:04:05".into()),
            Wire::Timestamp(6),
        );
        assert_eq!(ts.to_text().unwrap(), "2024-01-02 03:04:05");
        let mut buf = BytesMut::new();
        assert!(encode(&Value::Int64(1 << 40), &Wire::Int4, &mut buf).is_err());
        assert!(encode(&Value::Text("x".into()), &Wire::Int4, &mut buf).is_err());
        let half = Value::parse("2024-01-01 00:00:00.5", &DataType::Timestamp).unwrap();
        assert!(encode(&half, &Wire::Timestamp(0), &mut buf)
            .unwrap_err()
            .contains("would be rounded"));
        assert!(encode(&Value::Text("a\0b".into()), &Wire::Text, &mut buf)
            .unwrap_err()
            .contains("NUL"));
    }

    #[test]
    fn refuses_infinities_and_ragged_arrays() {
        assert!(decode_wire(&i64::MAX.to_be_bytes(), &Wire::Timestamp(6))
            .unwrap_err()
            .contains("infinity"));
        assert!(decode_wire(&i32::MIN.to_be_bytes(), &Wire::Date)
            .unwrap_err()
            .contains("-infinity"));
        let ragged = Value::Array(vec![
            Value::Array(vec![Value::Int32(1)]),
            Value::Array(vec![]),
        ]);
        let mut buf = BytesMut::new();
        assert!(encode(
            &ragged,
            &Wire::Array {
                elem: Box::new(Wire::Int4),
                elem_oid: 23
            },
            &mut buf
        )
        .is_err());
    }
}
