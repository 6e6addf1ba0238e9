//! Arrow arrays, as the Parquet reader hands them, to the loader's values: the column type
//! from the file's schema (`data_type`) and each batch's values column by column (`column`).
//! Exact: decimals keep their digits, timestamps their unit and zone (down to the
//! microsecond, what PostgreSQL keeps; finer digits per the `nanoseconds` option).

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, OffsetSizeTrait};
use arrow_schema::{DataType as Arrow, IntervalUnit, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveTime};

use super::options::Nanoseconds;
use crate::data::{DataType, Decimal, Value};

/// The loader's type for an Arrow type. Lists of scalars are arrays; structs, maps and lists
/// of those are json.
pub fn data_type(arrow: &Arrow) -> DataType {
    match arrow {
        Arrow::Null | Arrow::Utf8 | Arrow::LargeUtf8 | Arrow::Utf8View => DataType::TEXT,
        Arrow::Boolean => DataType::Bool,
        Arrow::Int8 | Arrow::Int16 | Arrow::UInt8 => DataType::Int16,
        Arrow::Int32 | Arrow::UInt16 => DataType::Int32,
        Arrow::Int64 | Arrow::UInt32 => DataType::Int64,
        Arrow::UInt64 => decimal(20, 0),
        Arrow::Float16 | Arrow::Float32 => DataType::Float32,
        Arrow::Float64 => DataType::Float64,
        Arrow::Decimal32(p, s)
        | Arrow::Decimal64(p, s)
        | Arrow::Decimal128(p, s)
        | Arrow::Decimal256(p, s) => {
            // A negative scale (1.2e3 stored as 12 with scale -2) is whole numbers.
            let extra = (-*s).max(0) as u32;
            decimal(*p as u32 + extra, (*s).max(0) as u32)
        }
        Arrow::Binary | Arrow::LargeBinary | Arrow::BinaryView | Arrow::FixedSizeBinary(_) => {
            DataType::Bytes
        }
        Arrow::Date32 | Arrow::Date64 => DataType::Date,
        Arrow::Time32(_) | Arrow::Time64(_) => DataType::Time,
        Arrow::Timestamp(_, None) => DataType::Timestamp,
        Arrow::Timestamp(_, Some(_)) => DataType::TimestampTz,
        Arrow::Duration(_) | Arrow::Interval(_) => DataType::Interval,
        Arrow::Dictionary(_, values) => data_type(values),
        Arrow::List(f) | Arrow::LargeList(f) | Arrow::FixedSizeList(f, _) => {
            match data_type(f.data_type()) {
                DataType::Json | DataType::Array(_) => DataType::Json,
                element => DataType::Array(Box::new(element)),
            }
        }
        _ => DataType::Json,
    }
}

fn decimal(precision: u32, scale: u32) -> DataType {
    DataType::Decimal {
        precision: Some(precision),
        scale: Some(scale),
    }
}

/// How values are converted, and what the conversion had to do.
pub struct Convert {
    pub nanoseconds: Nanoseconds,
    /// Set when a value lost digits below the microsecond (`nanoseconds: "truncate"`).
    pub truncated: bool,
}

impl Convert {
    /// Microseconds from `v` in `unit`; finer digits per the option.
    fn micros(&mut self, v: i64, unit: TimeUnit) -> Result<i64, String> {
        let out = match unit {
            TimeUnit::Second => v.checked_mul(1_000_000),
            TimeUnit::Millisecond => v.checked_mul(1_000),
            TimeUnit::Microsecond => Some(v),
            TimeUnit::Nanosecond => {
                if v % 1_000 != 0 {
                    match self.nanoseconds {
                        Nanoseconds::Error => return Err(format!(
                            "the value {v} ns has digits below the microsecond, which the target cannot keep; \
                             to load it without them pass nanoseconds: \"truncate\""
                        )),
                        Nanoseconds::Truncate => self.truncated = true,
                    }
                }
                Some(v.div_euclid(1_000))
            }
        };
        out.ok_or_else(|| format!("the value {v} is out of range"))
    }

    /// Every value of `array`, in row order.
    pub fn column(&mut self, array: &ArrayRef) -> Result<Vec<Value>, (usize, String)> {
        let n = array.len();
        macro_rules! each {
            ($typed:expr, |$v:ident| $make:expr) => {{
                let a = $typed;
                let mut out = Vec::with_capacity(n);
                for i in 0..n {
                    out.push(if a.is_null(i) {
                        Value::Null
                    } else {
                        let $v = a.value(i);
                        $make
                    });
                }
                Ok(out)
            }};
        }
        match array.data_type() {
            Arrow::Boolean => each!(array.as_boolean(), |v| Value::Bool(v)),
            Arrow::Int16 => each!(array.as_primitive::<Int16Type>(), |v| Value::Int16(v)),
            Arrow::Int32 => each!(array.as_primitive::<Int32Type>(), |v| Value::Int32(v)),
            Arrow::Int64 => each!(array.as_primitive::<Int64Type>(), |v| Value::Int64(v)),
            Arrow::Float32 => each!(array.as_primitive::<Float32Type>(), |v| Value::Float32(v)),
            Arrow::Float64 => each!(array.as_primitive::<Float64Type>(), |v| Value::Float64(v)),
            Arrow::Utf8 => each!(array.as_string::<i32>(), |v| Value::Text(v.to_string())),
            Arrow::Utf8View => each!(array.as_string_view(), |v| Value::Text(v.to_string())),
            Arrow::Decimal128(_, s) => {
                let s = *s;
                each!(array.as_primitive::<Decimal128Type>(), |v| Value::Decimal(
                    from_i128(v, s)
                ))
            }
            // The commonest time types skip the per-value dispatch.
            Arrow::Date32 => {
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
                let a = array.as_primitive::<Date32Type>();
                (0..n)
                    .map(|i| {
                        if a.is_null(i) {
                            return Ok(Value::Null);
                        }
                        let days = a.value(i);
                        epoch
                            .checked_add_signed(chrono::TimeDelta::days(days.into()))
                            .map(Value::Date)
                            .ok_or_else(|| (i, format!("date {days} days is out of range")))
                    })
                    .collect()
            }
            Arrow::Timestamp(TimeUnit::Microsecond, zone) => {
                let a = array.as_primitive::<TimestampMicrosecondType>();
                (0..n)
                    .map(|i| {
                        if a.is_null(i) {
                            return Ok(Value::Null);
                        }
                        let v = a.value(i);
                        let at = DateTime::from_timestamp_micros(v)
                            .ok_or_else(|| (i, format!("timestamp {v} µs is out of range")))?;
                        Ok(match zone {
                            Some(_) => Value::TimestampTz(at),
                            None => Value::Timestamp(at.naive_utc()),
                        })
                    })
                    .collect()
            }
            _ => (0..n)
                .map(|i| self.value(array.as_ref(), i).map_err(|e| (i, e)))
                .collect(),
        }
    }

    /// The value at row `i` of `array`, whatever its type.
    pub fn value(&mut self, array: &dyn Array, i: usize) -> Result<Value, String> {
        if array.is_null(i) {
            return Ok(Value::Null);
        }
        let ts = |micros: i64| {
            DateTime::from_timestamp_micros(micros)
                .ok_or_else(|| format!("timestamp {micros} µs is out of range"))
        };
        Ok(match array.data_type() {
            Arrow::Null => Value::Null,
            Arrow::Boolean => Value::Bool(array.as_boolean().value(i)),
            Arrow::Int8 => Value::Int16(array.as_primitive::<Int8Type>().value(i).into()),
            Arrow::Int16 => Value::Int16(array.as_primitive::<Int16Type>().value(i)),
            Arrow::UInt8 => Value::Int16(array.as_primitive::<UInt8Type>().value(i).into()),
            Arrow::Int32 => Value::Int32(array.as_primitive::<Int32Type>().value(i)),
            Arrow::UInt16 => Value::Int32(array.as_primitive::<UInt16Type>().value(i).into()),
            Arrow::Int64 => Value::Int64(array.as_primitive::<Int64Type>().value(i)),
            Arrow::UInt32 => Value::Int64(array.as_primitive::<UInt32Type>().value(i).into()),
            Arrow::UInt64 => Value::Decimal(Decimal::from_i128(
                array.as_primitive::<UInt64Type>().value(i).into(),
            )),
            Arrow::Float16 => Value::Float32(array.as_primitive::<Float16Type>().value(i).to_f32()),
            Arrow::Float32 => Value::Float32(array.as_primitive::<Float32Type>().value(i)),
            Arrow::Float64 => Value::Float64(array.as_primitive::<Float64Type>().value(i)),
            Arrow::Decimal32(_, s) => Value::Decimal(from_i128(
                array.as_primitive::<Decimal32Type>().value(i).into(),
                *s,
            )),
            Arrow::Decimal64(_, s) => Value::Decimal(from_i128(
                array.as_primitive::<Decimal64Type>().value(i).into(),
                *s,
            )),
            Arrow::Decimal128(_, s) => Value::Decimal(from_i128(
                array.as_primitive::<Decimal128Type>().value(i),
                *s,
            )),
            Arrow::Decimal256(_, s) => {
                let text = array.as_primitive::<Decimal256Type>().value(i).to_string();
                let (neg, digits) = match text.strip_prefix('-') {
                    Some(d) => (true, d),
                    None => (false, text.as_str()),
                };
                Value::Decimal(from_digits(neg, digits, *s))
            }
            Arrow::Utf8 => Value::Text(array.as_string::<i32>().value(i).to_string()),
            Arrow::LargeUtf8 => Value::Text(array.as_string::<i64>().value(i).to_string()),
            Arrow::Utf8View => Value::Text(array.as_string_view().value(i).to_string()),
            Arrow::Binary => Value::Bytes(array.as_binary::<i32>().value(i).to_vec()),
            Arrow::LargeBinary => Value::Bytes(array.as_binary::<i64>().value(i).to_vec()),
            Arrow::BinaryView => Value::Bytes(array.as_binary_view().value(i).to_vec()),
            Arrow::FixedSizeBinary(_) => {
                Value::Bytes(array.as_fixed_size_binary().value(i).to_vec())
            }
            Arrow::Date32 => {
                let days = array.as_primitive::<Date32Type>().value(i);
                Value::Date(date(i64::from(days) * 86_400_000)?)
            }
            Arrow::Date64 => Value::Date(date(array.as_primitive::<Date64Type>().value(i))?),
            Arrow::Time32(unit) => {
                let v = match unit {
                    TimeUnit::Second => array.as_primitive::<Time32SecondType>().value(i),
                    _ => array.as_primitive::<Time32MillisecondType>().value(i),
                };
                Value::Time(time(self.micros(v.into(), *unit)?)?)
            }
            Arrow::Time64(unit) => {
                let v = match unit {
                    TimeUnit::Nanosecond => array.as_primitive::<Time64NanosecondType>().value(i),
                    _ => array.as_primitive::<Time64MicrosecondType>().value(i),
                };
                Value::Time(time(self.micros(v, *unit)?)?)
            }
            Arrow::Timestamp(unit, zone) => {
                let v = match unit {
                    TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(i),
                    TimeUnit::Millisecond => {
                        array.as_primitive::<TimestampMillisecondType>().value(i)
                    }
                    TimeUnit::Microsecond => {
                        array.as_primitive::<TimestampMicrosecondType>().value(i)
                    }
                    TimeUnit::Nanosecond => {
                        array.as_primitive::<TimestampNanosecondType>().value(i)
                    }
                };
                // With a zone the value is an instant (UTC); without, a wall-clock reading.
                let at = ts(self.micros(v, *unit)?)?;
                match zone {
                    Some(_) => Value::TimestampTz(at),
                    None => Value::Timestamp(at.naive_utc()),
                }
            }
            Arrow::Duration(unit) => {
                let v = match unit {
                    TimeUnit::Second => array.as_primitive::<DurationSecondType>().value(i),
                    TimeUnit::Millisecond => {
                        array.as_primitive::<DurationMillisecondType>().value(i)
                    }
                    TimeUnit::Microsecond => {
                        array.as_primitive::<DurationMicrosecondType>().value(i)
                    }
                    TimeUnit::Nanosecond => array.as_primitive::<DurationNanosecondType>().value(i),
                };
                Value::Interval {
                    months: 0,
                    days: 0,
                    micros: self.micros(v, *unit)?,
                }
            }
            Arrow::Interval(IntervalUnit::YearMonth) => Value::Interval {
                months: array.as_primitive::<IntervalYearMonthType>().value(i),
                days: 0,
                micros: 0,
            },
            Arrow::Interval(IntervalUnit::DayTime) => {
                let v = array.as_primitive::<IntervalDayTimeType>().value(i);
                Value::Interval {
                    months: 0,
                    days: v.days,
                    micros: i64::from(v.milliseconds) * 1_000,
                }
            }
            Arrow::Interval(IntervalUnit::MonthDayNano) => {
                let v = array.as_primitive::<IntervalMonthDayNanoType>().value(i);
                Value::Interval {
                    months: v.months,
                    days: v.days,
                    micros: self.micros(v.nanoseconds, TimeUnit::Nanosecond)?,
                }
            }
            Arrow::Dictionary(_, _) => {
                let dict = array.as_any_dictionary();
                let key = dict.normalized_keys()[i];
                return self.value(dict.values().as_ref(), key);
            }
            Arrow::List(_) | Arrow::LargeList(_) | Arrow::FixedSizeList(_, _) => {
                let items = list_items(array, i);
                match data_type(array.data_type()) {
                    DataType::Array(_) => Value::Array(
                        (0..items.len())
                            .map(|j| self.value(items.as_ref(), j))
                            .collect::<Result<_, _>>()?,
                    ),
                    _ => Value::Json(self.json(array, i)?),
                }
            }
            _ => Value::Json(self.json(array, i)?),
        })
    }

    /// The value at row `i` as JSON text: structs and maps as objects, lists as arrays,
    /// numbers as their exact digits, everything else as its text in a string.
    fn json(&mut self, array: &dyn Array, i: usize) -> Result<String, String> {
        let mut out = String::new();
        self.write_json(array, i, &mut out)?;
        Ok(out)
    }

    fn write_json(&mut self, array: &dyn Array, i: usize, out: &mut String) -> Result<(), String> {
        if array.is_null(i) {
            out.push_str("null");
            return Ok(());
        }
        match array.data_type() {
            Arrow::Struct(fields) => {
                let s = array.as_struct();
                out.push('{');
                for (k, (field, child)) in fields.iter().zip(s.columns()).enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    out.push_str(&quote(field.name()));
                    out.push(':');
                    self.write_json(child.as_ref(), i, out)?;
                }
                out.push('}');
            }
            Arrow::Map(_, _) => {
                let m = array.as_map();
                let entries = m.value(i);
                let (keys, values) = (entries.column(0), entries.column(1));
                out.push('{');
                for j in 0..entries.len() {
                    if j > 0 {
                        out.push(',');
                    }
                    let key = match self.value(keys.as_ref(), j)? {
                        Value::Text(t) => t,
                        other => other.to_text().unwrap_or_default(),
                    };
                    out.push_str(&quote(&key));
                    out.push(':');
                    self.write_json(values.as_ref(), j, out)?;
                }
                out.push('}');
            }
            Arrow::List(_) | Arrow::LargeList(_) | Arrow::FixedSizeList(_, _) => {
                let items = list_items(array, i);
                out.push('[');
                for j in 0..items.len() {
                    if j > 0 {
                        out.push(',');
                    }
                    self.write_json(items.as_ref(), j, out)?;
                }
                out.push(']');
            }
            _ => match self.value(array, i)? {
                Value::Null => out.push_str("null"),
                Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
                Value::Json(text) => out.push_str(&text),
                v @ (Value::Int16(_) | Value::Int32(_) | Value::Int64(_) | Value::Decimal(_)) => {
                    out.push_str(&v.to_text().unwrap_or_default())
                }
                Value::Float32(f) if f.is_finite() => out.push_str(&f.to_string()),
                Value::Float64(f) if f.is_finite() => out.push_str(&f.to_string()),
                Value::Text(t) => out.push_str(&quote(&t)),
                other => out.push_str(&quote(&other.to_text().unwrap_or_default())),
            },
        }
        Ok(())
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// The elements of the list at row `i`.
fn list_items(array: &dyn Array, i: usize) -> ArrayRef {
    fn of<O: OffsetSizeTrait>(array: &dyn Array, i: usize) -> ArrayRef {
        array.as_list::<O>().value(i)
    }
    match array.data_type() {
        Arrow::LargeList(_) => of::<i64>(array, i),
        Arrow::FixedSizeList(_, _) => array.as_fixed_size_list().value(i),
        _ => of::<i32>(array, i),
    }
}

fn from_i128(v: i128, scale: i8) -> Decimal {
    from_digits(v < 0, &v.unsigned_abs().to_string(), scale)
}

fn from_digits(negative: bool, digits: &str, scale: i8) -> Decimal {
    if scale >= 0 {
        Decimal::from_digits(negative, digits, scale as usize)
    } else {
        let zeros = "0".repeat((-scale) as usize);
        Decimal::from_digits(negative, &format!("{digits}{zeros}"), 0)
    }
}

fn date(millis: i64) -> Result<NaiveDate, String> {
    DateTime::from_timestamp_millis(millis)
        .map(|t| t.date_naive())
        .ok_or_else(|| format!("date {millis} ms is out of range"))
}

fn time(micros: i64) -> Result<NaiveTime, String> {
    let (secs, sub) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    u32::try_from(secs)
        .ok()
        .and_then(|s| NaiveTime::from_num_seconds_from_midnight_opt(s, sub as u32 * 1_000))
        .ok_or_else(|| format!("time of day {micros} µs is out of range"))
}
