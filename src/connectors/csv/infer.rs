//! Type inference for CSV columns, and the strict conversion that holds later rows to the
//! inferred type. Inference never picks a type that would change a value: "007" stays text, a
//! 25-digit number becomes numeric rather than a float, dates and offsets are kept apart.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use uuid::Uuid;

use super::iso::{self, IsoTimestamp};
use crate::data::{DataType, Decimal, Value};

/// Beyond this many digits an integer may not fit `bigint` (i64 holds every 18-digit number).
const MAX_BIGINT_DIGITS: u32 = 18;
/// PostgreSQL's largest declarable numeric precision; wider columns stay unconstrained.
const MAX_PRECISION: u32 = 1000;

/// What one non-NULL field looks like, with the value already parsed when that was free.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    Bool(bool),
    /// `digits` counts significant digits (0 for "0"); `value` is None beyond 18 digits.
    Int {
        digits: u32,
        value: Option<i64>,
    },
    Decimal {
        int_digits: u32,
        scale: u32,
    },
    Date(NaiveDate),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    Uuid(Uuid),
    Text,
}

pub fn classify(text: &str) -> Shape {
    let b = text.as_bytes();
    match b.first() {
        None => return Shape::Text,
        Some(b'0'..=b'9' | b'-' | b'.') => {
            if let Some(shape) = number(b) {
                return shape;
            }
        }
        Some(b't' | b'T' | b'f' | b'F') => {
            if text.eq_ignore_ascii_case("true") {
                return Shape::Bool(true);
            }
            if text.eq_ignore_ascii_case("false") {
                return Shape::Bool(false);
            }
        }
        Some(_) => {}
    }
    if b.len() == 10 {
        if let Some(d) = iso::date(b) {
            return Shape::Date(d);
        }
    }
    if b.len() >= 16 {
        match iso::timestamp(b) {
            Some(IsoTimestamp::Naive(t)) => return Shape::Timestamp(t),
            Some(IsoTimestamp::Zoned(t)) => return Shape::TimestampTz(t),
            None => {}
        }
    }
    if b.len() == 36 && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-') {
        if let Ok(u) = Uuid::try_parse(text) {
            return Shape::Uuid(u);
        }
    }
    Shape::Text
}

/// `-?digits` or `-?digits.digits` (also `.5`). A `+`, an exponent, spaces or leading zeros
/// make it text: a number type would not give the same text back ("+49…", "007").
fn number(b: &[u8]) -> Option<Shape> {
    let body = b.strip_prefix(b"-").unwrap_or(b);
    let int_len = body.iter().take_while(|c| c.is_ascii_digit()).count();
    let (int, rest) = body.split_at(int_len);
    if int.len() > 1 && int[0] == b'0' {
        return None;
    }
    let sig = if int == b"0" { 0 } else { int.len() as u32 };
    match rest {
        [] if !int.is_empty() => {
            let value = (sig <= MAX_BIGINT_DIGITS).then(|| {
                let n = int.iter().fold(0i64, |n, d| n * 10 + (d - b'0') as i64);
                if body.len() < b.len() {
                    -n
                } else {
                    n
                }
            });
            Some(Shape::Int { digits: sig, value })
        }
        [b'.', frac @ ..] if !frac.is_empty() && frac.iter().all(u8::is_ascii_digit) => {
            Some(Shape::Decimal {
                int_digits: sig,
                scale: frac.len() as u32,
            })
        }
        _ => None,
    }
}

/// What a column's values seen so far have in common; folds `Shape`s into a type.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Kind {
    /// Only NULLs so far.
    #[default]
    Empty,
    Bool,
    Integer {
        digits: u32,
        all_i32: bool,
    },
    Numeric {
        int_digits: u32,
        scale: u32,
    },
    Date,
    Timestamp,
    TimestampTz,
    Uuid,
    Text,
}

impl Kind {
    /// The narrowest kind that holds both what was seen and `shape`.
    pub fn add(self, shape: &Shape) -> Kind {
        use Kind as K;
        use Shape as S;
        let fits_i32 = |v: &Option<i64>| v.is_some_and(|v| i32::try_from(v).is_ok());
        match (self, shape) {
            (K::Text, _) | (_, S::Text) => K::Text,
            (K::Empty, s) => K::Empty.widen(s),
            (K::Bool, S::Bool(_)) => K::Bool,
            (K::Integer { digits, all_i32 }, S::Int { digits: d, value }) => K::Integer {
                digits: digits.max(*d),
                all_i32: all_i32 && fits_i32(value),
            },
            (K::Integer { digits, .. }, S::Decimal { int_digits, scale }) => K::Numeric {
                int_digits: digits.max(*int_digits),
                scale: *scale,
            },
            (K::Numeric { int_digits, scale }, S::Int { digits, .. }) => K::Numeric {
                int_digits: int_digits.max(*digits),
                scale,
            },
            (
                K::Numeric { int_digits, scale },
                S::Decimal {
                    int_digits: i,
                    scale: s,
                },
            ) => K::Numeric {
                int_digits: int_digits.max(*i),
                scale: scale.max(*s),
            },
            (K::Date, S::Date(_)) => K::Date,
            // A date is midnight of that day: exact as a timestamp.
            (K::Date | K::Timestamp, S::Timestamp(_)) | (K::Timestamp, S::Date(_)) => K::Timestamp,
            (K::TimestampTz, S::TimestampTz(_)) => K::TimestampTz,
            (K::Uuid, S::Uuid(_)) => K::Uuid,
            _ => K::Text,
        }
    }

    fn widen(self, shape: &Shape) -> Kind {
        match shape {
            Shape::Bool(_) => Kind::Bool,
            Shape::Int { digits, value } => Kind::Integer {
                digits: *digits,
                all_i32: value.is_some_and(|v| i32::try_from(v).is_ok()),
            },
            Shape::Decimal { int_digits, scale } => Kind::Numeric {
                int_digits: *int_digits,
                scale: *scale,
            },
            Shape::Date(_) => Kind::Date,
            Shape::Timestamp(_) => Kind::Timestamp,
            Shape::TimestampTz(_) => Kind::TimestampTz,
            Shape::Uuid(_) => Kind::Uuid,
            Shape::Text => Kind::Text,
        }
    }

    pub fn data_type(self) -> DataType {
        let numeric = |int_digits: u32, scale: u32| {
            let precision = (int_digits + scale).max(scale + 1);
            if precision > MAX_PRECISION {
                DataType::NUMERIC
            } else {
                DataType::Decimal {
                    precision: Some(precision),
                    scale: Some(scale),
                }
            }
        };
        match self {
            Kind::Empty | Kind::Text => DataType::TEXT,
            Kind::Bool => DataType::Bool,
            Kind::Integer { digits, .. } if digits > MAX_BIGINT_DIGITS => numeric(digits, 0),
            Kind::Integer { all_i32: true, .. } => DataType::Int32,
            Kind::Integer { .. } => DataType::Int64,
            Kind::Numeric { int_digits, scale } => numeric(int_digits, scale),
            Kind::Date => DataType::Date,
            Kind::Timestamp => DataType::Timestamp,
            Kind::TimestampTz => DataType::TimestampTz,
            Kind::Uuid => DataType::Uuid,
        }
    }

    /// The kind whose `data_type` is `ty`, for the types inference produces.
    fn of_type(ty: &DataType) -> Option<Kind> {
        Some(match ty {
            DataType::Bool => Kind::Bool,
            // Widest integers of each type, so a suggestion built from them keeps their range.
            DataType::Int32 => Kind::Integer {
                digits: 10,
                all_i32: true,
            },
            DataType::Int64 => Kind::Integer {
                digits: MAX_BIGINT_DIGITS,
                all_i32: false,
            },
            DataType::Decimal {
                precision: Some(p),
                scale: Some(s),
            } => Kind::Numeric {
                int_digits: p - s,
                scale: *s,
            },
            // Holds any number; only the suggestion for a non-number uses this kind.
            DataType::Decimal {
                precision: None, ..
            } => Kind::Numeric {
                int_digits: 0,
                scale: 0,
            },
            DataType::Date => Kind::Date,
            DataType::Timestamp => Kind::Timestamp,
            DataType::TimestampTz => Kind::TimestampTz,
            DataType::Uuid => Kind::Uuid,
            DataType::Text { max_len: None } => Kind::Text,
            _ => return None,
        })
    }
}

/// A value that does not fit the type inferred for its column, and the type that would hold it.
#[derive(Debug, PartialEq)]
pub struct Misfit {
    pub reason: String,
    pub suggestion: DataType,
}

/// Converts a field of a column whose type was inferred. Such a column accepts exactly the
/// values that would have left the inferred type unchanged had they been in the sample, so a
/// later "007" in an integer column or "yes" in a boolean one is refused, not reinterpreted.
pub fn convert_inferred(text: &str, ty: &DataType) -> Result<Value, Misfit> {
    if let DataType::Text { max_len: None } = ty {
        return Ok(Value::Text(text.to_owned()));
    }
    let shape = classify(text);
    let value = match (shape, ty) {
        (Shape::Bool(b), DataType::Bool) => Some(Value::Bool(b)),
        (Shape::Int { value: Some(v), .. }, DataType::Int32) => {
            i32::try_from(v).ok().map(Value::Int32)
        }
        (Shape::Int { value: Some(v), .. }, DataType::Int64) => Some(Value::Int64(v)),
        (Shape::Int { .. } | Shape::Decimal { .. }, DataType::Decimal { .. }) => {
            numeric(text, shape, ty)
        }
        (Shape::Date(d), DataType::Date) => Some(Value::Date(d)),
        // A date is midnight of that day: exact as a timestamp.
        (Shape::Date(d), DataType::Timestamp) => d.and_hms_opt(0, 0, 0).map(Value::Timestamp),
        (Shape::Timestamp(t), DataType::Timestamp) => Some(Value::Timestamp(t)),
        (Shape::TimestampTz(t), DataType::TimestampTz) => Some(Value::TimestampTz(t)),
        (Shape::Uuid(u), DataType::Uuid) => Some(Value::Uuid(u)),
        _ => None,
    };
    if let Some(value) = value {
        return Ok(value);
    }
    let Some(kind) = Kind::of_type(ty) else {
        // Not a type inference produces; hold it to the general parser.
        return Value::parse(text, ty).map_err(|reason| Misfit {
            reason,
            suggestion: DataType::TEXT,
        });
    };
    let widened = match ty {
        DataType::Decimal {
            precision: None, ..
        } => DataType::TEXT,
        _ => kind.add(&shape).data_type(),
    };
    let shown = shorten(text);
    let reason = match shape {
        Shape::Int { .. } | Shape::Decimal { .. } if widened != DataType::TEXT => {
            format!("'{shown}' does not fit {ty}")
        }
        Shape::Text if has_leading_zeros(text) => {
            format!("'{shown}' has leading zeros, which {ty} would drop")
        }
        _ => format!("'{shown}' is not a value of type {ty}"),
    };
    Err(Misfit {
        reason,
        suggestion: widened,
    })
}

/// A number for a numeric column, when it fits without rounding: no more fraction digits than
/// the scale, no more integer digits than precision minus scale.
fn numeric(text: &str, shape: Shape, ty: &DataType) -> Option<Value> {
    let (int_digits, scale) = match shape {
        Shape::Int { digits, .. } => (digits, 0),
        Shape::Decimal { int_digits, scale } => (int_digits, scale),
        _ => return None,
    };
    let d = Decimal::parse(text).ok()?;
    match ty {
        DataType::Decimal {
            precision: Some(p),
            scale: Some(s),
        } => {
            if scale > *s || int_digits > p.saturating_sub(*s) {
                return None;
            }
            if scale == *s {
                Some(Value::Decimal(d))
            } else {
                d.with_scale(*s as usize).map(Value::Decimal)
            }
        }
        DataType::Decimal {
            precision: None, ..
        } => Some(Value::Decimal(d)),
        _ => None,
    }
}

fn has_leading_zeros(text: &str) -> bool {
    let b = text.as_bytes();
    let b = b.strip_prefix(b"-").unwrap_or(b);
    b.len() > 1 && b[0] == b'0' && b[1].is_ascii_digit()
}

fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The type inferred for a column holding `values` (None = NULL).
    fn infer(values: &[Option<&str>]) -> String {
        values
            .iter()
            .flatten()
            .fold(Kind::Empty, |k, v| k.add(&classify(v)))
            .data_type()
            .to_string()
    }

    fn column(values: &[&str]) -> String {
        infer(&values.iter().map(|v| Some(*v)).collect::<Vec<_>>())
    }

    #[test]
    fn true_and_false_are_boolean() {
        assert_eq!(column(&["true", "false", "TRUE", "False"]), "boolean");
        assert_eq!(infer(&[Some("true"), None, Some("false")]), "boolean");
        assert_eq!(column(&["true", "yes"]), "text");
        assert_eq!(column(&["t", "f"]), "text");
        assert_eq!(column(&["true", "1"]), "text");
    }

    #[test]
    fn integers_are_integer_until_they_leave_i32() {
        assert_eq!(column(&["1", "-2147483648", "2147483647", "0"]), "integer");
        assert_eq!(column(&["1", "2147483648"]), "bigint");
        assert_eq!(column(&["-2147483649"]), "bigint");
        assert_eq!(column(&["999999999999999999"]), "bigint");
    }

    #[test]
    fn leading_zeros_keep_a_column_text() {
        assert_eq!(column(&["007", "12"]), "text");
        assert_eq!(column(&["00"]), "text");
        assert_eq!(column(&["01.5"]), "text");
        assert_eq!(column(&["0", "-0", "0.5"]), "numeric(2,1)");
    }

    #[test]
    fn more_than_18_digits_is_numeric() {
        assert_eq!(column(&["1234567890123456789"]), "numeric(19,0)");
        assert_eq!(column(&["12", "-12345678901234567890123"]), "numeric(23,0)");
        assert_eq!(column(&["12345678901234567890", "1.5"]), "numeric(21,1)");
    }

    #[test]
    fn decimals_are_numeric_with_room_for_every_digit() {
        assert_eq!(column(&["12.50", "-3.125", "100"]), "numeric(6,3)");
        assert_eq!(column(&["0.001"]), "numeric(4,3)");
        assert_eq!(column(&[".5"]), "numeric(2,1)");
        assert_eq!(column(&["1234567.8", "0.25"]), "numeric(9,2)");
    }

    #[test]
    fn precision_beyond_1000_stays_unconstrained() {
        let wide = format!("1.{}", "0".repeat(1000));
        assert_eq!(column(&[&wide]), "numeric");
        let just_fits = format!("1.{}", "0".repeat(999));
        assert_eq!(column(&[&just_fits]), "numeric(1000,999)");
    }

    #[test]
    fn signs_exponents_and_spaces_make_text() {
        assert_eq!(column(&["+5"]), "text");
        assert_eq!(column(&["1e5"]), "text");
        assert_eq!(column(&[" 5"]), "text");
        assert_eq!(column(&["5."]), "text");
        assert_eq!(column(&["-"]), "text");
        assert_eq!(column(&["1,5"]), "text");
    }

    #[test]
    fn iso_dates_and_timestamps() {
        assert_eq!(column(&["2024-01-31", "1999-12-31"]), "date");
        assert_eq!(column(&["2024-02-30"]), "text");
        assert_eq!(
            column(&["2024-01-31 10:00:00", "2024-01-31T10:00:00.123"]),
            "timestamp"
        );
        assert_eq!(column(&["2024-01-31", "2024-01-31 10:00:00"]), "timestamp");
        assert_eq!(
            column(&[
                "2024-01-31 10:00:00Z",
                "2024-01-31 10:00:00+02:00",
                "2024-01-31 10:00:00+00"
            ]),
            "timestamptz"
        );
        assert_eq!(
            column(&["2024-01-31 10:00:00", "2024-01-31 10:00:00Z"]),
            "text"
        );
        assert_eq!(column(&["2024-01-31", "2024-01-31 10:00:00Z"]), "text");
        assert_eq!(column(&["31/01/2024"]), "text");
    }

    #[test]
    fn uuids() {
        assert_eq!(
            column(&[
                "67e55044-10b1-426f-9247-bb680e5fe0c8",
                "67E55044-10B1-426F-9247-BB680E5FE0C8"
            ]),
            "uuid"
        );
        assert_eq!(column(&["67e5504410b1426f9247bb680e5fe0c8"]), "text");
        assert_eq!(column(&["67e55044-10b1-426f-9247-bb680e5fe0cz"]), "text");
    }

    #[test]
    fn only_nulls_or_empty_strings_are_text() {
        assert_eq!(infer(&[None, None]), "text");
        assert_eq!(infer(&[]), "text");
        assert_eq!(column(&["", "1"]), "text");
    }

    #[test]
    fn mixed_kinds_are_text() {
        assert_eq!(column(&["1", "true"]), "text");
        assert_eq!(column(&["2024-01-01", "5"]), "text");
        assert_eq!(
            column(&["67e55044-10b1-426f-9247-bb680e5fe0c8", "x"]),
            "text"
        );
    }

    fn ty(s: &str) -> DataType {
        DataType::parse(s).unwrap()
    }

    #[test]
    fn later_values_convert_exactly_like_value_parse() {
        for (text, t) in [
            ("42", "integer"),
            ("-9000000000", "bigint"),
            ("12.5", "numeric(6,2)"),
            ("12.50", "numeric(6,2)"),
            ("12", "numeric(6,2)"),
            ("-0.5", "numeric(6,2)"),
            ("123456789012345678901234567890", "numeric"),
            ("TRUE", "boolean"),
            ("2024-01-31", "date"),
            ("2024-01-31", "timestamp"),
            ("2024-01-31T10:11:12.5", "timestamp"),
            ("2024-01-31 10:11:12+05:30", "timestamptz"),
            ("67E55044-10B1-426F-9247-BB680E5FE0C8", "uuid"),
            ("", "text"),
            (" padded ", "text"),
        ] {
            assert_eq!(
                convert_inferred(text, &ty(t)),
                Ok(Value::parse(text, &ty(t)).unwrap()),
                "{text} as {t}"
            );
        }
        assert_eq!(
            convert_inferred("12.5", &ty("numeric(6,2)"))
                .unwrap()
                .to_text()
                .unwrap(),
            "12.50"
        );
    }

    #[test]
    fn later_values_that_do_not_fit_are_refused_with_a_wider_type() {
        let misfit = |text: &str, t: &str| convert_inferred(text, &ty(t)).unwrap_err();
        assert_eq!(
            misfit("3000000000", "integer"),
            Misfit {
                reason: "'3000000000' does not fit integer".into(),
                suggestion: DataType::Int64
            }
        );
        assert_eq!(
            misfit("1234.5", "numeric(5,2)").suggestion,
            ty("numeric(6,2)")
        );
        assert_eq!(
            misfit("1.255", "numeric(5,2)").suggestion,
            ty("numeric(6,3)")
        );
        assert_eq!(misfit("1.5", "integer").suggestion, ty("numeric(11,1)"));
        assert_eq!(
            misfit("12345678901234567890", "bigint").suggestion,
            ty("numeric(20,0)")
        );
        assert_eq!(
            misfit("2024-01-31 10:00:00", "date").suggestion,
            DataType::Timestamp
        );
        assert_eq!(misfit("1e3", "numeric").suggestion, DataType::TEXT);
        assert_eq!(
            misfit("007", "integer"),
            Misfit {
                reason: "'007' has leading zeros, which integer would drop".into(),
                suggestion: DataType::TEXT
            }
        );
        for (text, t) in [
            ("yes", "boolean"),
            (" 5", "bigint"),
            ("n/a", "numeric(5,2)"),
            ("2024-01-31Z", "date"),
        ] {
            let m = misfit(text, t);
            assert_eq!(m.suggestion, DataType::TEXT, "{text}");
            assert_eq!(m.reason, format!("'{text}' is not a value of type {t}"));
        }
    }
}
