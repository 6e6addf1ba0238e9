//! Binary-protocol values → ours, by the column's `Kind`. Strings arrive as owned bytes and
//! become `String`s without a copy; numbers and dates carry no allocation at all.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use mysql_async::Value as My;

use super::config::ZeroDates;
use super::types::Kind;
use crate::data::{Decimal, Value};

/// Per-column decoding state: how many impossible dates became NULL.
pub struct Decoder {
    pub kinds: Vec<Kind>,
    pub zero_dates: ZeroDates,
    /// Zero/invalid dates per column (NULL under `zero_dates=null`).
    pub bad_dates: Vec<u64>,
}

impl Decoder {
    pub fn new(kinds: Vec<Kind>, zero_dates: ZeroDates) -> Decoder {
        let n = kinds.len();
        Decoder {
            kinds,
            zero_dates,
            bad_dates: vec![0; n],
        }
    }

    /// One field. The error is the reason without the column (the caller names it).
    pub fn decode(&mut self, col: usize, v: My) -> Result<Value, String> {
        let kind = self.kinds[col];
        Ok(match (kind, v) {
            (_, My::NULL) => Value::Null,
            (Kind::Bool, My::Int(i)) => match i {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                _ => {
                    return Err(format!(
                        "tinyint(1) value {i} is not a boolean (0 or 1); add tinyint1_as_bool=false to the connection URL to read tinyint(1) as smallint"
                    ))
                }
            },
            (Kind::Int16, My::Int(i)) => Value::Int16(int(i)?),
            (Kind::Int16, My::UInt(i)) => Value::Int16(int(i)?),
            (Kind::Int32, My::Int(i)) => Value::Int32(int(i)?),
            (Kind::Int32, My::UInt(i)) => Value::Int32(int(i)?),
            (Kind::Int64, My::Int(i)) => Value::Int64(i),
            (Kind::Int64, My::UInt(i)) => Value::Int64(int(i)?),
            (Kind::UInt64, My::UInt(u)) => Value::Decimal(Decimal::from_i128(u.into())),
            (Kind::UInt64, My::Int(i)) => Value::Decimal(Decimal::from_i128(i.into())),
            (Kind::Float32, My::Float(f)) => Value::Float32(f),
            (Kind::Float32, My::Double(f)) => Value::Float32(f as f32),
            (Kind::Float64, My::Double(f)) => Value::Float64(f),
            (Kind::Float64, My::Float(f)) => Value::Float64(f.into()),
            (Kind::Decimal, My::Bytes(b)) => {
                let s = std::str::from_utf8(&b).map_err(|_| "decimal is not text".to_string())?;
                Value::Decimal(Decimal::parse(s)?)
            }
            (Kind::Decimal, My::Int(i)) => Value::Decimal(Decimal::from_i128(i.into())),
            (Kind::Decimal, My::UInt(i)) => Value::Decimal(Decimal::from_i128(i.into())),
            (Kind::Text, My::Bytes(b)) => Value::Text(text(b)?),
            (Kind::Json, My::Bytes(b)) => Value::Json(text(b)?),
            (Kind::Bytes, My::Bytes(b)) => Value::Bytes(b),
            (Kind::Bit, My::Bytes(b)) => {
                if b.len() > 8 {
                    return Err(format!("bit value of {} bytes", b.len()));
                }
                let u = b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
                match i64::try_from(u) {
                    Ok(i) if b.len() < 8 => Value::Int64(i),
                    _ => Value::Decimal(Decimal::from_i128(u.into())),
                }
            }
            (Kind::Bit, My::Int(i)) => Value::Int64(i),
            (Kind::Bit, My::UInt(u)) => Value::Int64(int(u)?),
            (Kind::Date, My::Date(y, m, d, ..)) => match date(y, m, d) {
                Some(d) => Value::Date(d),
                None => self.bad_date(col, format!("{y:04}-{m:02}-{d:02}"))?,
            },
            (Kind::Timestamp | Kind::TimestampTz, My::Date(y, mo, d, h, mi, s, us)) => {
                match date(y, mo, d)
                    .and_then(|d| d.and_hms_micro_opt(h.into(), mi.into(), s.into(), us))
                {
                    Some(ts) if kind == Kind::Timestamp => Value::Timestamp(ts),
                    Some(ts) => Value::TimestampTz(Utc.from_utc_datetime(&ts)),
                    None => self.bad_date(
                        col,
                        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"),
                    )?,
                }
            }
            (Kind::Time, My::Time(neg, days, h, m, s, us)) => {
                let secs = i64::from(days) * 86_400
                    + i64::from(h) * 3600
                    + i64::from(m) * 60
                    + i64::from(s);
                let micros = secs * 1_000_000 + i64::from(us);
                Value::Interval {
                    months: 0,
                    days: 0,
                    micros: if neg { -micros } else { micros },
                }
            }
            // Text-protocol shapes (and servers that send strings for odd expressions).
            (k, My::Bytes(b)) => {
                let s = text(b)?;
                let ty = match k {
                    Kind::Date => crate::data::DataType::Date,
                    Kind::Timestamp => crate::data::DataType::Timestamp,
                    Kind::TimestampTz => {
                        let ts = NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M:%S%.f")
                            .map_err(|_| format!("'{s}' is not a timestamp"))?;
                        return Ok(Value::TimestampTz(Utc.from_utc_datetime(&ts)));
                    }
                    Kind::Int16 => crate::data::DataType::Int16,
                    Kind::Int32 => crate::data::DataType::Int32,
                    Kind::Int64 => crate::data::DataType::Int64,
                    Kind::Float32 => crate::data::DataType::Float32,
                    Kind::Float64 => crate::data::DataType::Float64,
                    Kind::UInt64 => crate::data::DataType::NUMERIC,
                    _ => return Err(format!("unexpected text value '{s}'")),
                };
                if s.starts_with("0000-00-00") {
                    return self.bad_date(col, s);
                }
                Value::parse(&s, &ty)?
            }
            (k, v) => return Err(format!("unexpected value {v:?} for a {k:?} column")),
        })
    }

    fn bad_date(&mut self, col: usize, shown: String) -> Result<Value, String> {
        match self.zero_dates {
            ZeroDates::Null => {
                self.bad_dates[col] += 1;
                Ok(Value::Null)
            }
            ZeroDates::Fail => Err(format!(
                "'{shown}' is not a valid date (MySQL zero or invalid date); the connection has zero_dates=fail (zero_dates=null reads such dates as NULL with a warning)"
            )),
        }
    }
}

fn int<T: TryFrom<U>, U: Copy + std::fmt::Display>(v: U) -> Result<T, String> {
    T::try_from(v).map_err(|_| format!("{v} is out of range for the column's type"))
}

fn text(b: Vec<u8>) -> Result<String, String> {
    String::from_utf8(b).map_err(|e| {
        format!(
            "text is not valid UTF-8 at byte {} (the connection reads utf8mb4; is the column's charset declared correctly?)",
            e.utf8_error().valid_up_to()
        )
    })
}

fn date(y: u16, m: u8, d: u8) -> Option<NaiveDate> {
    if y == 0 && m == 0 && d == 0 {
        return None;
    }
    NaiveDate::from_ymd_opt(y.into(), m.into(), d.into())
}

/// Our values as statement parameters. The session time zone is UTC, so a timestamptz is sent
/// as its UTC wall time.
pub fn param(v: &Value) -> Result<My, String> {
    use chrono::{Datelike, Timelike};
    let dt = |ts: &NaiveDateTime| {
        My::Date(
            ts.year() as u16,
            ts.month() as u8,
            ts.day() as u8,
            ts.hour() as u8,
            ts.minute() as u8,
            ts.second() as u8,
            ts.nanosecond() / 1000,
        )
    };
    Ok(match v {
        Value::Null => My::NULL,
        Value::Bool(b) => My::Int(i64::from(*b)),
        Value::Int16(i) => My::Int((*i).into()),
        Value::Int32(i) => My::Int((*i).into()),
        Value::Int64(i) => My::Int(*i),
        Value::Float32(f) => My::Float(*f),
        Value::Float64(f) => My::Double(*f),
        Value::Decimal(d) => My::Bytes(d.as_str().as_bytes().to_vec()),
        Value::Text(s) | Value::Json(s) => My::Bytes(s.as_bytes().to_vec()),
        Value::Uuid(u) => My::Bytes(u.to_string().into_bytes()),
        Value::Bytes(b) => My::Bytes(b.clone()),
        Value::Date(d) => dt(&d.and_time(NaiveTime::MIN)),
        Value::Timestamp(ts) => dt(ts),
        Value::TimestampTz(ts) => dt(&ts.naive_utc()),
        Value::Time(t) => My::Time(
            false,
            0,
            t.hour() as u8,
            t.minute() as u8,
            t.second() as u8,
            t.nanosecond() / 1000,
        ),
        Value::Interval {
            months: 0,
            days: 0,
            micros,
        } => {
            let neg = *micros < 0;
            let m = micros.unsigned_abs();
            let secs = m / 1_000_000;
            My::Time(
                neg,
                (secs / 86_400) as u32,
                ((secs / 3600) % 24) as u8,
                ((secs / 60) % 60) as u8,
                (secs % 60) as u8,
                (m % 1_000_000) as u32,
            )
        }
        other => {
            return Err(format!(
                "a {} value cannot be a MySQL parameter",
                other.data_type().map(|t| t.to_string()).unwrap_or_default()
            ))
        }
    })
}

/// The lowest or highest value of a cursor type, for an open end of a `:since`/`:until` window.
pub fn extreme(ty: Option<&crate::data::DataType>, high: bool) -> My {
    use crate::data::DataType as T;
    match ty {
        Some(T::Bool | T::Int16 | T::Int32 | T::Int64) => {
            My::Int(if high { i64::MAX } else { i64::MIN })
        }
        Some(T::Decimal { .. } | T::Float32 | T::Float64) => {
            My::Double(if high { f64::MAX } else { f64::MIN })
        }
        Some(T::Text { .. } | T::Uuid | T::Json) => {
            if high {
                My::Bytes("\u{10FFFF}".repeat(64).into_bytes())
            } else {
                My::Bytes(Vec::new())
            }
        }
        Some(T::Interval | T::Time) => {
            if high {
                My::Time(false, 34, 22, 59, 59, 0)
            } else {
                My::Time(true, 34, 22, 59, 59, 0)
            }
        }
        // Dates and timestamps (and unknown cursors): the zero date sorts below every date.
        _ => {
            if high {
                My::Date(9999, 12, 31, 23, 59, 59, 999_999)
            } else {
                My::Date(0, 0, 0, 0, 0, 0, 0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_edge_values_exactly() {
        let mut d = Decoder::new(
            vec![
                Kind::UInt64,
                Kind::Decimal,
                Kind::Time,
                Kind::Date,
                Kind::Bit,
            ],
            ZeroDates::Null,
        );
        assert_eq!(
            d.decode(0, My::UInt(u64::MAX)).unwrap(),
            Value::Decimal(Decimal::parse("18446744073709551615").unwrap())
        );
        assert_eq!(
            d.decode(1, My::Bytes(b"-0.000000000000000000000000000001".to_vec()))
                .unwrap(),
            Value::Decimal(Decimal::parse("-0.000000000000000000000000000001").unwrap())
        );
        assert_eq!(
            d.decode(2, My::Time(true, 34, 22, 59, 59, 5)).unwrap(),
            Value::Interval {
                months: 0,
                days: 0,
                micros: -(838 * 3600 + 59 * 60 + 59) * 1_000_000 - 5
            }
        );
        assert_eq!(
            d.decode(3, My::Date(0, 0, 0, 0, 0, 0, 0)).unwrap(),
            Value::Null
        );
        assert_eq!(
            d.decode(3, My::Date(2024, 2, 30, 0, 0, 0, 0)).unwrap(),
            Value::Null
        );
        assert_eq!(d.bad_dates[3], 2);
        assert_eq!(
            d.decode(4, My::Bytes(vec![1, 0])).unwrap(),
            Value::Int64(256)
        );
        let mut f = Decoder::new(vec![Kind::Date, Kind::Bool], ZeroDates::Fail);
        assert!(f
            .decode(0, My::Date(0, 0, 0, 0, 0, 0, 0))
            .unwrap_err()
            .contains("zero_dates=fail"));
        assert!(f
            .decode(1, My::Int(2))
            .unwrap_err()
            .contains("tinyint1_as_bool=false"));
    }

    #[test]
    fn named_parameters_become_question_marks() {
        let (sql, names) = crate::connectors::sql_params::rewrite_mysql(
            "SELECT ':no', `a:b`, \"it\\\"s :x\" # :c\n FROM t WHERE a >= :since AND b < :until OR c = :since",
        )
        .unwrap();
        assert_eq!(
            sql,
            "SELECT ':no', `a:b`, \"it\\\"s :x\" # :c\n FROM t WHERE a >= ? AND b < ? OR c = ?"
        );
        assert_eq!(names, ["since", "until", "since"]);
    }
}
