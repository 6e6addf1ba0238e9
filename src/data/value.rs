use std::cmp::Ordering;
use std::fmt::Write;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use uuid::Uuid;

use super::{DataType, Decimal};

/// One field. `Null` and `Text(String::new())` are different values everywhere.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Decimal(Decimal),
    Text(String),
    Date(NaiveDate),
    Time(NaiveTime),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    /// JSON kept as its text, so number formats and key order survive.
    Json(String),
    Uuid(Uuid),
    Bytes(Vec<u8>),
    /// PostgreSQL's interval; the three fields are independent (see `data::interval`).
    Interval {
        months: i32,
        days: i32,
        micros: i64,
    },
    /// Elements of one type; nested arrays are further dimensions.
    Array(Vec<Value>),
}

const TS_FORMATS: [&str; 4] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
];

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The type a value carries on its own (None for NULL).
    pub fn data_type(&self) -> Option<DataType> {
        Some(match self {
            Value::Null => return None,
            Value::Bool(_) => DataType::Bool,
            Value::Int16(_) => DataType::Int16,
            Value::Int32(_) => DataType::Int32,
            Value::Int64(_) => DataType::Int64,
            Value::Float32(_) => DataType::Float32,
            Value::Float64(_) => DataType::Float64,
            Value::Decimal(_) => DataType::NUMERIC,
            Value::Text(_) => DataType::TEXT,
            Value::Date(_) => DataType::Date,
            Value::Time(_) => DataType::Time,
            Value::Timestamp(_) => DataType::Timestamp,
            Value::TimestampTz(_) => DataType::TimestampTz,
            Value::Json(_) => DataType::Json,
            Value::Uuid(_) => DataType::Uuid,
            Value::Bytes(_) => DataType::Bytes,
            Value::Interval { .. } => DataType::Interval,
            Value::Array(items) => DataType::Array(Box::new(
                first_element_type(items).unwrap_or(DataType::TEXT),
            )),
        })
    }

    /// Parses the text form of a value of type `ty` (CSV fields, SQLite text storage, CLI
    /// parameters). The error says why the text is not such a value.
    pub fn parse(text: &str, ty: &DataType) -> Result<Value, String> {
        let bad = |what: &str| format!("'{}' is not a valid {what}", shorten(text));
        let t = text.trim();
        Ok(match ty {
            DataType::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "t" | "yes" | "y" | "1" | "on" => Value::Bool(true),
                "false" | "f" | "no" | "n" | "0" | "off" => Value::Bool(false),
                _ => return Err(bad("boolean")),
            },
            DataType::Int16 => Value::Int16(t.parse().map_err(|_| bad("smallint"))?),
            DataType::Int32 => Value::Int32(t.parse().map_err(|_| bad("integer"))?),
            DataType::Int64 => Value::Int64(t.parse().map_err(|_| bad("bigint"))?),
            DataType::Float32 => Value::Float32(t.parse().map_err(|_| bad("real"))?),
            DataType::Float64 => Value::Float64(t.parse().map_err(|_| bad("double precision"))?),
            DataType::Decimal { .. } => {
                Value::Decimal(Decimal::parse(t).map_err(|_| bad("numeric"))?).coerce(ty)?
            }
            DataType::Text { .. } => Value::Text(text.to_string()).coerce(ty)?,
            DataType::Date => Value::Date(
                fast_date(t.as_bytes())
                    .map(Ok)
                    .unwrap_or_else(|| NaiveDate::parse_from_str(t, "%Y-%m-%d"))
                    .map_err(|_| bad("date (YYYY-MM-DD)"))?,
            ),
            DataType::Time => Value::Time(
                NaiveTime::parse_from_str(t, "%H:%M:%S%.f")
                    .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
                    .map_err(|_| bad("time (HH:MM:SS)"))?,
            ),
            DataType::Timestamp => Value::Timestamp(
                parse_timestamp(t).ok_or_else(|| bad("timestamp (YYYY-MM-DD HH:MM:SS)"))?,
            ),
            DataType::TimestampTz => Value::TimestampTz(
                parse_timestamptz(t)
                    .ok_or_else(|| bad("timestamp with time zone (YYYY-MM-DD HH:MM:SS+HH:MM)"))?,
            ),
            DataType::Json => {
                serde_json::from_str::<serde_json::Value>(t)
                    .map_err(|e| format!("'{}' is not valid JSON: {e}", shorten(text)))?;
                Value::Json(text.to_string())
            }
            DataType::Uuid => Value::Uuid(Uuid::parse_str(t).map_err(|_| bad("uuid"))?),
            DataType::Bytes => match t.strip_prefix("\\x") {
                Some(hex) => {
                    Value::Bytes(decode_hex(hex).ok_or_else(|| bad("bytea hex string (\\x...)"))?)
                }
                None => Value::Bytes(text.as_bytes().to_vec()),
            },
            DataType::Interval => {
                let (months, days, micros) = super::interval::parse_interval(t)?;
                Value::Interval {
                    months,
                    days,
                    micros,
                }
            }
            DataType::Array(elem) => super::array::parse_array(t, elem)
                .map_err(|e| format!("'{}' is not a valid {ty} array: {e}", shorten(text)))?,
        })
    }

    /// Whether a load converts this value before writing it to a column of type `ty`: a value
    /// of another type, and any decimal or length-limited text (precision and length are
    /// always checked). NULL never is.
    pub fn needs_coerce(&self, ty: &DataType) -> bool {
        !self.is_null()
            && (matches!(
                ty,
                DataType::Decimal { .. } | DataType::Text { max_len: Some(_) }
            ) || self.data_type().as_ref() != Some(ty))
    }

    /// Converts the value for a column of type `ty`, refusing anything lossy: a narrowing
    /// integer, a decimal that would be rounded or overflow its precision, text longer than
    /// varchar(n). Text is parsed as `ty` (the usual way typed values reach a text source).
    pub fn coerce(self, ty: &DataType) -> Result<Value, String> {
        use DataType as T;
        let out_of_range = |v: &dyn std::fmt::Display| format!("{v} is out of range for {ty}");
        Ok(match (self, ty) {
            (Value::Null, _) => Value::Null,
            (Value::Text(s), T::Text { max_len }) => {
                if let Some(n) = max_len {
                    if s.chars().count() > *n as usize {
                        return Err(format!(
                            "text of {} characters does not fit {ty}: '{}'",
                            s.chars().count(),
                            shorten(&s)
                        ));
                    }
                }
                Value::Text(s)
            }
            (Value::Text(s), _) => Value::parse(&s, ty)?,
            (Value::Decimal(d), T::Decimal { precision, scale }) => match (precision, scale) {
                (Some(p), Some(s)) => {
                    if !d.fits(*p, *s) {
                        return Err(format!(
                            "{d} does not fit {ty} without rounding or overflow"
                        ));
                    }
                    if d.scale() == *s as usize {
                        Value::Decimal(d)
                    } else {
                        Value::Decimal(d.with_scale(*s as usize).expect("checked by fits"))
                    }
                }
                _ => Value::Decimal(d),
            },
            (
                v @ (Value::Int16(_) | Value::Int32(_) | Value::Int64(_)),
                T::Int16 | T::Int32 | T::Int64 | T::Decimal { .. },
            ) => {
                let n = v.as_i64().expect("integer");
                match ty {
                    T::Int16 => Value::Int16(i16::try_from(n).map_err(|_| out_of_range(&n))?),
                    T::Int32 => Value::Int32(i32::try_from(n).map_err(|_| out_of_range(&n))?),
                    T::Int64 => Value::Int64(n),
                    _ => Value::Decimal(Decimal::from_i128(n as i128)).coerce(ty)?,
                }
            }
            (Value::Decimal(d), T::Int16 | T::Int32 | T::Int64) => {
                let n = d
                    .to_i128()
                    .ok_or_else(|| format!("{d} is not a whole number for {ty}"))?;
                Value::Int64(i64::try_from(n).map_err(|_| out_of_range(&n))?).coerce(ty)?
            }
            (Value::Float32(f), T::Float64) => Value::Float64(f as f64),
            (Value::Float64(f), T::Float32) if (f as f32) as f64 == f || f.is_nan() => {
                Value::Float32(f as f32)
            }
            (v @ (Value::Int16(_) | Value::Int32(_)), T::Float64) => {
                Value::Float64(v.as_i64().expect("integer") as f64)
            }
            (Value::Timestamp(t), T::TimestampTz) => Value::TimestampTz(t.and_utc()),
            (Value::Json(j), T::Text { .. }) => Value::Text(j).coerce(ty)?,
            (Value::Json(j), T::Array(_)) => Value::parse(&j, ty)?,
            (Value::Array(items), T::Array(elem)) => Value::Array(
                items
                    .into_iter()
                    .map(|v| match v {
                        inner @ Value::Array(_) => inner.coerce(ty),
                        v => v.coerce(elem),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            (v @ Value::Array(_), T::Json) => {
                let mut json = String::new();
                super::array::write_json(&v, &mut json);
                Value::Json(json)
            }
            (v, _) if v.data_type().as_ref().is_some_and(|t| same_kind(t, ty)) => v,
            (v, _) => {
                return Err(format!(
                    "a {} value ('{}') cannot be stored in a {ty} column without a lossy cast",
                    v.data_type().map(|t| t.to_string()).unwrap_or_default(),
                    shorten(&v.to_text().unwrap_or_default())
                ))
            }
        })
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int16(v) => Some(*v as i64),
            Value::Int32(v) => Some(*v as i64),
            Value::Int64(v) => Some(*v),
            _ => None,
        }
    }

    /// Canonical text (PostgreSQL's output format); None for NULL.
    pub fn to_text(&self) -> Option<String> {
        let mut s = String::new();
        self.write_text(&mut s).then_some(s)
    }

    /// Appends the canonical text to `out`; false (and nothing written) for NULL.
    pub fn write_text(&self, out: &mut String) -> bool {
        match self {
            Value::Null => return false,
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int16(v) => write!(out, "{v}").unwrap(),
            Value::Int32(v) => write!(out, "{v}").unwrap(),
            Value::Int64(v) => write!(out, "{v}").unwrap(),
            Value::Float32(v) => write!(out, "{v}").unwrap(),
            Value::Float64(v) => write!(out, "{v}").unwrap(),
            Value::Decimal(d) => out.push_str(d.as_str()),
            Value::Text(t) | Value::Json(t) => out.push_str(t),
            Value::Date(d) => write!(out, "{}", d.format("%Y-%m-%d")).unwrap(),
            Value::Time(t) => write!(out, "{}", t.format("%H:%M:%S%.f")).unwrap(),
            Value::Timestamp(t) => write!(out, "{}", t.format("%Y-%m-%d %H:%M:%S%.f")).unwrap(),
            Value::TimestampTz(t) => {
                write!(out, "{}", t.format("%Y-%m-%d %H:%M:%S%.f+00")).unwrap()
            }
            Value::Uuid(u) => write!(out, "{u}").unwrap(),
            Value::Bytes(b) => {
                out.push_str("\\x");
                for byte in b {
                    write!(out, "{byte:02x}").unwrap();
                }
            }
            Value::Interval {
                months,
                days,
                micros,
            } => super::interval::format_interval(*months, *days, *micros, out),
            Value::Array(items) => super::array::write_array(items, out),
        }
        true
    }

    /// Order between values of comparable kinds (cursor columns, min/max figures).
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        use Value::*;
        match (self, other) {
            (Null, _) | (_, Null) => None,
            (a, b) if a.as_i64().is_some() && b.as_i64().is_some() => {
                a.as_i64().partial_cmp(&b.as_i64())
            }
            (Float32(a), Float32(b)) => a.partial_cmp(b),
            (Float64(a), Float64(b)) => a.partial_cmp(b),
            (Decimal(a), Decimal(b)) => Some(a.cmp(b)),
            (Decimal(a), b) | (b, Decimal(a)) if b.as_i64().is_some() => {
                let ord = a.cmp(&super::Decimal::from_i128(b.as_i64()? as i128));
                Some(if matches!(self, Decimal(_)) {
                    ord
                } else {
                    ord.reverse()
                })
            }
            (Text(a), Text(b)) | (Json(a), Json(b)) => Some(a.cmp(b)),
            (Bool(a), Bool(b)) => Some(a.cmp(b)),
            (Date(a), Date(b)) => Some(a.cmp(b)),
            (Time(a), Time(b)) => Some(a.cmp(b)),
            (Timestamp(a), Timestamp(b)) => Some(a.cmp(b)),
            (TimestampTz(a), TimestampTz(b)) => Some(a.cmp(b)),
            (Timestamp(a), TimestampTz(b)) => Some(a.and_utc().cmp(b)),
            (TimestampTz(a), Timestamp(b)) => Some(a.cmp(&b.and_utc())),
            (Date(a), Timestamp(b)) => Some(a.and_hms_opt(0, 0, 0)?.cmp(b)),
            (Timestamp(a), Date(b)) => Some(a.cmp(&b.and_hms_opt(0, 0, 0)?)),
            (Uuid(a), Uuid(b)) => Some(a.cmp(b)),
            (Bytes(a), Bytes(b)) => Some(a.cmp(b)),
            (
                Interval {
                    months: m1,
                    days: d1,
                    micros: u1,
                },
                Interval {
                    months: m2,
                    days: d2,
                    micros: u2,
                },
            ) => Some(super::interval::compare_interval(
                (*m1, *d1, *u1),
                (*m2, *d2, *u2),
            )),
            (Array(a), Array(b)) => {
                for (x, y) in a.iter().zip(b) {
                    match x.compare(y)? {
                        Ordering::Equal => continue,
                        other => return Some(other),
                    }
                }
                Some(a.len().cmp(&b.len()))
            }
            _ => None,
        }
    }
}

/// The element type of an array value: its first non-NULL scalar, looking into dimensions.
fn first_element_type(items: &[Value]) -> Option<DataType> {
    items.iter().find_map(|v| match v {
        Value::Null => None,
        Value::Array(inner) => first_element_type(inner),
        v => v.data_type(),
    })
}

fn same_kind(a: &DataType, b: &DataType) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// `YYYY-MM-DD` read directly: chrono's format machinery costs more than the rest of a CSV
/// row, and this is every date of every row. Anything else goes to the general parser.
fn fast_date(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(
        digits(&b[0..4])? as i32,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]` (or with `T`), up to nanoseconds, read directly.
fn fast_timestamp(b: &[u8]) -> Option<NaiveDateTime> {
    if b.len() < 19 || !matches!(b[10], b' ' | b'T') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', frac @ ..] if (1..=9).contains(&frac.len()) => {
            digits(frac)? * 10u32.pow(9 - frac.len() as u32)
        }
        _ => return None,
    };
    fast_date(&b[..10])?.and_hms_nano_opt(
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
        nanos,
    )
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32)
    })
}

pub(crate) fn parse_timestamp(t: &str) -> Option<NaiveDateTime> {
    if let Some(ts) = fast_timestamp(t.as_bytes()) {
        return Some(ts);
    }
    TS_FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()?
                .and_hms_opt(0, 0, 0)
        })
}

pub(crate) fn parse_timestamptz(t: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    // PostgreSQL prints offsets as +00 or +05:30; chrono wants +HHMM or +HH:MM.
    let t = t.replace('T', " ");
    for f in [
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M:%S%.f %#z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(&t, f) {
            return Some(d.with_timezone(&Utc));
        }
    }
    let trimmed = t.strip_suffix(" UTC").or_else(|| t.strip_suffix('Z'))?;
    parse_timestamp(trimmed).map(|n| n.and_utc())
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Values quoted in error messages are cut, so one wide field cannot flood a log.
pub(crate) fn shorten(s: &str) -> String {
    super::shorten_text(s, 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(s: &str) -> DataType {
        DataType::parse(s).unwrap()
    }

    #[test]
    fn parses_each_type_from_text() {
        assert_eq!(Value::parse("t", &ty("boolean")), Ok(Value::Bool(true)));
        assert_eq!(
            Value::parse("-32768", &ty("smallint")),
            Ok(Value::Int16(-32768))
        );
        assert!(Value::parse("32768", &ty("smallint")).is_err());
        assert_eq!(
            Value::parse("12.5", &ty("numeric(12,2)"))
                .unwrap()
                .to_text()
                .unwrap(),
            "12.50"
        );
        assert!(Value::parse("12.555", &ty("numeric(12,2)"))
            .unwrap_err()
            .contains("without rounding"));
        assert_eq!(
            Value::parse("2024-03-10 02:30:00.123456", &ty("timestamp"))
                .unwrap()
                .to_text()
                .unwrap(),
            "2024-03-10 02:30:00.123456"
        );
        assert_eq!(
            Value::parse("2024-03-10T02:30:00+02:00", &ty("timestamptz"))
                .unwrap()
                .to_text()
                .unwrap(),
            "2024-03-10 00:30:00+00"
        );
        assert_eq!(
            Value::parse("2024-03-10 02:30:00+05:30", &ty("timestamptz"))
                .unwrap()
                .to_text()
                .unwrap(),
            "2024-03-09 21:00:00+00"
        );
        assert_eq!(
            Value::parse("\\x00ff", &ty("bytea")),
            Ok(Value::Bytes(vec![0, 255]))
        );
        assert!(Value::parse("{bad", &ty("json"))
            .unwrap_err()
            .contains("not valid JSON"));
        assert!(Value::parse("héllo wörld", &ty("varchar(5)"))
            .unwrap_err()
            .contains("does not fit varchar(5)"));
    }

    #[test]
    fn fast_date_paths_agree_with_chrono() {
        for t in [
            "2024-02-29 13:14:15.123456",
            "2024-02-29T13:14:15",
            "1999-12-31 23:59:59.5",
            "0001-01-01 00:00:00.000000001",
        ] {
            let slow = TS_FORMATS
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok());
            assert_eq!(fast_timestamp(t.as_bytes()), slow, "{t}");
        }
        for bad in [
            "2023-02-29 00:00:00",
            "2024-13-01 00:00:00",
            "2024-01-01 24:00:00",
            "2024-01-01 00:00:00.",
            "2024-01-01 00:00",
        ] {
            assert_eq!(fast_timestamp(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(
            fast_date(b"2024-02-29"),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        assert_eq!(fast_date(b"2023-02-29"), None);
        assert_eq!(
            Value::parse("2024-01-01 00:00", &ty("timestamp"))
                .unwrap()
                .to_text()
                .unwrap(),
            "2024-01-01 00:00:00"
        );
    }

    #[test]
    fn empty_text_is_not_null() {
        assert_eq!(
            Value::parse("", &ty("text")),
            Ok(Value::Text(String::new()))
        );
        assert_eq!(Value::Text(String::new()).to_text(), Some(String::new()));
        assert_eq!(Value::Null.to_text(), None);
    }

    #[test]
    fn coercion_refuses_lossy_casts() {
        assert_eq!(Value::Int16(7).coerce(&ty("bigint")), Ok(Value::Int64(7)));
        assert!(Value::Int64(1 << 40).coerce(&ty("integer")).is_err());
        assert!(Value::Float64(0.1).coerce(&ty("real")).is_err());
        assert!(Value::Text("x".into()).coerce(&ty("integer")).is_err());
        assert_eq!(
            Value::Int32(5).coerce(&ty("numeric(4,1)")),
            Ok(Value::Decimal(Decimal::parse("5.0").unwrap()))
        );
    }

    #[test]
    fn compares_cursor_values() {
        let a = Value::parse("2024-01-01 00:00:00", &ty("timestamp")).unwrap();
        let b = Value::parse("2024-01-02", &ty("date")).unwrap();
        assert_eq!(a.compare(&b), Some(Ordering::Less));
        assert_eq!(
            Value::Int32(3).compare(&Value::Int64(3)),
            Some(Ordering::Equal)
        );
        assert_eq!(Value::Null.compare(&Value::Int64(3)), None);
    }
}
