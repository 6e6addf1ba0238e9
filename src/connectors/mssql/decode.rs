//! TDS values (tiberius' `ColumnData`) → ours, by the column's `Kind`, and our values → bound
//! parameters. Dates and times are decoded from the wire fields here rather than through
//! tiberius' chrono conversions: its `DateTime<Utc>` for datetimeoffset subtracts the offset
//! from a value TDS already sends in UTC, and its conversions keep nanoseconds we must count.

use std::borrow::Cow;

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use tiberius::numeric::Numeric;
use tiberius::ColumnData;

use super::config::SubMicros;
use super::types::Kind;
use crate::data::{Decimal, Value};

/// Per-read decoding state: values finer than a microsecond, per column.
pub struct Decoder {
    pub kinds: Vec<Kind>,
    pub sub_micros: SubMicros,
    pub truncated: Vec<u64>,
}

/// money and smallmoney in i64 ten-thousandths are exact in an f64 below 2^53; above, the
/// f64 tiberius hands over may be off in the last place.
const MONEY_EXACT_BELOW: f64 = 9_007_199_254_740_992.0 / 10_000.0;

fn days_from(base: NaiveDate, days: i64) -> Option<NaiveDate> {
    base.checked_add_signed(Duration::days(days))
}

fn year1() -> NaiveDate {
    NaiveDate::from_ymd_opt(1, 1, 1).expect("a valid date")
}

fn year1900() -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 1, 1).expect("a valid date")
}

impl Decoder {
    pub fn new(kinds: Vec<Kind>, sub_micros: SubMicros) -> Decoder {
        let n = kinds.len();
        Decoder {
            kinds,
            sub_micros,
            truncated: vec![0; n],
        }
    }

    /// Nanoseconds since midnight of a `time(n)` value, as microseconds; the 100 ns digit of
    /// time(7)/datetime2(7) is counted (warn) or refused (fail).
    fn micros(&mut self, col: usize, t: tiberius::time::Time) -> Result<i64, String> {
        let nanos = t.increments() as i64 * 10i64.pow(9 - u32::from(t.scale()));
        if nanos % 1000 != 0 {
            if self.sub_micros == SubMicros::Fail {
                return Err(format!(
                    "the value has a 100-nanosecond digit ({} ns past the microsecond), which a microsecond timestamp cannot hold; cast the column to datetime2(6) in a sql(...) query, or drop sub_microsecond=fail from the URL to truncate with a warning",
                    nanos % 1000
                ));
            }
            self.truncated[col] += 1;
        }
        Ok(nanos / 1000)
    }

    fn datetime2(
        &mut self,
        col: usize,
        v: tiberius::time::DateTime2,
    ) -> Result<NaiveDateTime, String> {
        let date = days_from(year1(), i64::from(v.date().days())).ok_or("date out of range")?;
        let us = self.micros(col, v.time())?;
        Ok(date.and_time(NaiveTime::MIN) + Duration::microseconds(us))
    }

    /// One field. The error is the reason without the column (the caller names it).
    pub fn decode(&mut self, col: usize, v: ColumnData<'static>) -> Result<Value, String> {
        use ColumnData as C;
        let kind = self.kinds[col];
        Ok(match v {
            C::U8(None)
            | C::I16(None)
            | C::I32(None)
            | C::I64(None)
            | C::F32(None)
            | C::F64(None)
            | C::Bit(None)
            | C::String(None)
            | C::Guid(None)
            | C::Binary(None)
            | C::Numeric(None)
            | C::Xml(None)
            | C::DateTime(None)
            | C::SmallDateTime(None)
            | C::Time(None)
            | C::Date(None)
            | C::DateTime2(None)
            | C::DateTimeOffset(None) => Value::Null,
            C::Bit(Some(b)) => Value::Bool(b),
            C::U8(Some(i)) => Value::Int16(i.into()),
            C::I16(Some(i)) => Value::Int16(i),
            C::I32(Some(i)) => Value::Int32(i),
            C::I64(Some(i)) => Value::Int64(i),
            C::F32(Some(f)) => Value::Float32(f),
            C::F64(Some(f)) if kind == Kind::Money => Value::Decimal(money(f)?),
            C::F64(Some(f)) => Value::Float64(f),
            C::Numeric(Some(n)) => Value::Decimal(numeric(n)),
            C::String(Some(s)) if kind == Kind::Json => Value::Json(s.into_owned()),
            C::String(Some(s)) => Value::Text(s.into_owned()),
            C::Xml(Some(x)) => Value::Text(x.into_owned().into_string()),
            C::Guid(Some(u)) => Value::Uuid(u),
            C::Binary(Some(b)) => Value::Bytes(b.into_owned()),
            C::Date(Some(d)) => {
                Value::Date(days_from(year1(), i64::from(d.days())).ok_or("date out of range")?)
            }
            C::Time(Some(t)) => {
                Value::Time(NaiveTime::MIN + Duration::microseconds(self.micros(col, t)?))
            }
            C::DateTime2(Some(v)) => Value::Timestamp(self.datetime2(col, v)?),
            // TDS sends the UTC instant; the offset only says where it was written.
            C::DateTimeOffset(Some(v)) => {
                Value::TimestampTz(self.datetime2(col, v.datetime2())?.and_utc())
            }
            // datetime: days since 1900 and 1/300 s ticks, rounded to the microsecond.
            C::DateTime(Some(v)) => {
                let date = days_from(year1900(), i64::from(v.days())).ok_or("date out of range")?;
                let us = (i64::from(v.seconds_fragments()) * 10_000 + 1) / 3;
                Value::Timestamp(date.and_time(NaiveTime::MIN) + Duration::microseconds(us))
            }
            C::SmallDateTime(Some(v)) => {
                let date = days_from(year1900(), i64::from(v.days())).ok_or("date out of range")?;
                Value::Timestamp(
                    date.and_time(NaiveTime::MIN)
                        + Duration::minutes(i64::from(v.seconds_fragments())),
                )
            }
        })
    }
}

/// A decimal from TDS' numeric: an i128 of digits and a scale.
pub fn numeric(n: Numeric) -> Decimal {
    let v = n.value();
    Decimal::from_digits(v < 0, &v.unsigned_abs().to_string(), usize::from(n.scale()))
}

/// money/smallmoney from tiberius' f64, back to its exact 4-decimal value.
pub fn money(f: f64) -> Result<Decimal, String> {
    if !f.is_finite() || f.abs() >= MONEY_EXACT_BELOW {
        return Err(format!(
            "money value {f} is too large to read exactly through tiberius (which hands money over as a float); cast the column to decimal(19,4) in a sql(...) query (table reads do this themselves)"
        ));
    }
    let units = (f * 10_000.0).round() as i64;
    Ok(Decimal::from_digits(
        units < 0,
        &units.unsigned_abs().to_string(),
        4,
    ))
}

/// A parameter as SQL Server gets it. Decimals bind as numeric(38, s) when their digits fit,
/// as text otherwise (the server converts to the compared column's type).
pub fn param(v: &Value) -> Result<ColumnData<'static>, String> {
    use chrono::Timelike;
    let dt2 = |t: NaiveDateTime| {
        let nanos = u64::from(t.time().num_seconds_from_midnight()) * 1_000_000_000
            + u64::from(t.time().nanosecond() % 1_000_000_000);
        tiberius::time::DateTime2::new(
            tiberius::time::Date::new((t.date() - year1()).num_days() as u32),
            tiberius::time::Time::new(nanos / 100, 7),
        )
    };
    Ok(match v {
        Value::Null => ColumnData::String(None),
        Value::Bool(b) => ColumnData::Bit(Some(*b)),
        Value::Int16(i) => ColumnData::I16(Some(*i)),
        Value::Int32(i) => ColumnData::I32(Some(*i)),
        Value::Int64(i) => ColumnData::I64(Some(*i)),
        Value::Float32(f) => ColumnData::F32(Some(*f)),
        Value::Float64(f) => ColumnData::F64(Some(*f)),
        Value::Decimal(d) => {
            let digits: String = d.as_str().chars().filter(char::is_ascii_digit).collect();
            match digits.parse::<i128>() {
                Ok(n) if digits.len() <= 38 => ColumnData::Numeric(Some(Numeric::new_with_scale(
                    if d.is_negative() { -n } else { n },
                    d.scale() as u8,
                ))),
                _ => ColumnData::String(Some(Cow::Owned(d.as_str().to_string()))),
            }
        }
        Value::Date(d) => ColumnData::Date(Some(tiberius::time::Date::new(
            (*d - year1()).num_days() as u32,
        ))),
        Value::Timestamp(t) => ColumnData::DateTime2(Some(dt2(*t))),
        Value::TimestampTz(t) => ColumnData::DateTimeOffset(Some(
            tiberius::time::DateTimeOffset::new(dt2(t.naive_utc()), 0),
        )),
        Value::Uuid(u) => ColumnData::Guid(Some(*u)),
        Value::Bytes(b) => ColumnData::Binary(Some(Cow::Owned(b.clone()))),
        Value::Text(s) | Value::Json(s) => ColumnData::String(Some(Cow::Owned(s.clone()))),
        Value::Time(t) => {
            let nanos = u64::from(t.num_seconds_from_midnight()) * 1_000_000_000
                + u64::from(t.nanosecond() % 1_000_000_000);
            ColumnData::Time(Some(tiberius::time::Time::new(nanos / 100, 7)))
        }
        Value::Interval { .. } | Value::Array(_) => {
            return Err("intervals and arrays cannot be bound as SQL Server parameters".into())
        }
    })
}

/// The T-SQL type of a bound parameter, for `sp_describe_first_result_set`'s @params.
pub fn param_type(v: &ColumnData<'_>) -> &'static str {
    match v {
        ColumnData::Bit(_) => "bit",
        ColumnData::U8(_) => "tinyint",
        ColumnData::I16(_) => "smallint",
        ColumnData::I32(_) => "int",
        ColumnData::I64(_) => "bigint",
        ColumnData::F32(_) => "real",
        ColumnData::F64(_) => "float",
        ColumnData::Numeric(_) => "decimal(38,10)",
        ColumnData::Guid(_) => "uniqueidentifier",
        ColumnData::Binary(_) => "varbinary(max)",
        ColumnData::Date(_) => "date",
        ColumnData::Time(_) => "time(7)",
        ColumnData::DateTime(_) | ColumnData::SmallDateTime(_) | ColumnData::DateTime2(_) => {
            "datetime2(7)"
        }
        ColumnData::DateTimeOffset(_) => "datetimeoffset(7)",
        ColumnData::String(_) | ColumnData::Xml(_) => "nvarchar(max)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiberius::time::{Date, DateTime, DateTime2, DateTimeOffset, Time};

    fn one(kind: Kind, v: ColumnData<'static>) -> Result<Value, String> {
        Decoder::new(vec![kind], SubMicros::Fail).decode(0, v)
    }

    fn text(v: Value) -> String {
        v.to_text().unwrap_or_else(|| "NULL".into())
    }

    #[test]
    fn decimals_keep_all_38_digits() {
        let n = Numeric::new_with_scale(-12_345_678_901_234_567_890_123_456_789_012_345_678, 10);
        assert_eq!(
            text(one(Kind::Decimal, ColumnData::Numeric(Some(n))).unwrap()),
            "-1234567890123456789012345678.9012345678"
        );
        let small = Numeric::new_with_scale(5, 4);
        assert_eq!(
            text(one(Kind::Decimal, ColumnData::Numeric(Some(small))).unwrap()),
            "0.0005"
        );
    }

    #[test]
    fn money_comes_back_exact_or_is_refused() {
        let v = one(Kind::Money, ColumnData::F64(Some(922_337_203.580_7))).unwrap();
        assert_eq!(text(v), "922337203.5807");
        assert_eq!(
            text(one(Kind::Money, ColumnData::F64(Some(-0.0001))).unwrap()),
            "-0.0001"
        );
        let e = one(Kind::Money, ColumnData::F64(Some(922_337_203_685_477.5))).unwrap_err();
        assert!(e.contains("decimal(19,4)"), "{e}");
    }

    #[test]
    fn datetime2_keeps_microseconds_and_counts_or_refuses_100ns() {
        // 2024-03-10 12:34:56.1234567 as datetime2(7): days since 0001-01-01, 100 ns ticks.
        let days = (NaiveDate::from_ymd_opt(2024, 3, 10).unwrap() - year1()).num_days() as u32;
        let ticks = (12 * 3600 + 34 * 60 + 56) * 10_000_000u64 + 1_234_567;
        let v = DateTime2::new(Date::new(days), Time::new(ticks, 7));
        let e = one(Kind::Timestamp, ColumnData::DateTime2(Some(v))).unwrap_err();
        assert!(e.contains("100-nanosecond"), "{e}");
        let mut warn = Decoder::new(vec![Kind::Timestamp], SubMicros::Warn);
        let got = warn.decode(0, ColumnData::DateTime2(Some(v))).unwrap();
        assert_eq!(text(got), "2024-03-10 12:34:56.123456");
        assert_eq!(warn.truncated, vec![1]);
        // datetime2(6) has no 100 ns digit: exact, nothing counted.
        let v6 = DateTime2::new(Date::new(days), Time::new(ticks / 10, 6));
        assert_eq!(
            text(one(Kind::Timestamp, ColumnData::DateTime2(Some(v6))).unwrap()),
            "2024-03-10 12:34:56.123456"
        );
    }

    #[test]
    fn datetimeoffset_is_the_utc_instant_on_the_wire() {
        let days = (NaiveDate::from_ymd_opt(2024, 3, 10).unwrap() - year1()).num_days() as u32;
        // 10:00 UTC written as 12:00+02:00: TDS carries 10:00 and +120 minutes.
        let v = DateTimeOffset::new(
            DateTime2::new(Date::new(days), Time::new(10 * 3600 * 10_000_000, 7)),
            120,
        );
        let got = one(Kind::TimestampTz, ColumnData::DateTimeOffset(Some(v))).unwrap();
        assert_eq!(
            got,
            Value::TimestampTz(
                NaiveDate::from_ymd_opt(2024, 3, 10)
                    .unwrap()
                    .and_hms_opt(10, 0, 0)
                    .unwrap()
                    .and_utc()
            )
        );
    }

    #[test]
    fn legacy_datetime_ticks_round_to_microseconds() {
        // 1900-01-02 00:00:00.003 is day 1 and one 1/300 s tick.
        let got = one(
            Kind::Timestamp,
            ColumnData::DateTime(Some(DateTime::new(1, 1))),
        )
        .unwrap();
        assert_eq!(text(got), "1900-01-02 00:00:00.003333");
    }

    #[test]
    fn null_empty_text_uuid_and_bytes_stay_apart() {
        assert_eq!(
            one(Kind::Text, ColumnData::String(None)).unwrap(),
            Value::Null
        );
        assert_eq!(
            one(Kind::Text, ColumnData::String(Some("".into()))).unwrap(),
            Value::Text(String::new())
        );
        let u = uuid::Uuid::parse_str("6f9619ff-8b86-d011-b42d-00c04fc964ff").unwrap();
        assert_eq!(
            one(Kind::Uuid, ColumnData::Guid(Some(u))).unwrap(),
            Value::Uuid(u)
        );
        assert_eq!(
            one(Kind::Bytes, ColumnData::Binary(Some(vec![0u8, 255].into()))).unwrap(),
            Value::Bytes(vec![0, 255])
        );
        assert_eq!(
            one(Kind::Bool, ColumnData::Bit(Some(true))).unwrap(),
            Value::Bool(true)
        );
    }

    #[test]
    fn parameters_round_trip_through_the_decoder() {
        let ts = NaiveDate::from_ymd_opt(2024, 1, 2)
            .unwrap()
            .and_hms_micro_opt(3, 4, 5, 678_901)
            .unwrap();
        for v in [
            Value::Timestamp(ts),
            Value::TimestampTz(ts.and_utc()),
            Value::Date(ts.date()),
            Value::Decimal(Decimal::parse("-12345678901234567890123456.789012345678").unwrap()),
            Value::Int64(-5),
        ] {
            let kind = match v {
                Value::Timestamp(_) => Kind::Timestamp,
                Value::TimestampTz(_) => Kind::TimestampTz,
                Value::Date(_) => Kind::Date,
                Value::Decimal(_) => Kind::Decimal,
                _ => Kind::Int64,
            };
            let bound = param(&v).unwrap();
            assert_eq!(one(kind, bound).unwrap(), v);
        }
    }
}
