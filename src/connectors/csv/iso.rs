//! Fast parsers for the ISO 8601 forms type inference recognises. They accept a subset of what
//! `Value::parse` accepts and give the same values; text outside the subset is simply not
//! recognised (inferred as text), never misread.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// A date and time as written, with the offset when one was given.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum IsoTimestamp {
    Naive(NaiveDateTime),
    Zoned(DateTime<Utc>),
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |n, d| n * 10 + (d - b'0') as u32))
}

/// `YYYY-MM-DD`.
pub fn date(s: &[u8]) -> Option<NaiveDate> {
    if s.len() != 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(
        digits(&s[..4])? as i32,
        digits(&s[5..7])?,
        digits(&s[8..10])?,
    )
}

/// `YYYY-MM-DD[T ]HH:MM[:SS[.fffffffff]]`, then optionally `Z` or an offset `+HH`, `+HH:MM`,
/// `+HHMM` (offsets only after seconds, as PostgreSQL prints them).
pub fn timestamp(s: &[u8]) -> Option<IsoTimestamp> {
    if s.len() < 16 || (s[10] != b'T' && s[10] != b' ') || s[13] != b':' {
        return None;
    }
    let day = date(&s[..10])?;
    let (hour, minute) = (digits(&s[11..13])?, digits(&s[14..16])?);
    let mut rest = &s[16..];
    let (mut second, mut nano) = (0, 0);
    let mut has_seconds = false;
    if let [b':', a, b, tail @ ..] = rest {
        second = digits(&[*a, *b])?;
        has_seconds = true;
        rest = tail;
        if let [b'.', tail @ ..] = rest {
            let n = tail.iter().take_while(|b| b.is_ascii_digit()).count();
            if n == 0 || n > 9 {
                return None;
            }
            nano = digits(&tail[..n])? * 10u32.pow(9 - n as u32);
            rest = &tail[n..];
        }
    }
    // Leap seconds (":60") are left to the general parser.
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nano)?;
    let naive = NaiveDateTime::new(day, time);
    match rest {
        [] => Some(IsoTimestamp::Naive(naive)),
        b"Z" if has_seconds => Some(IsoTimestamp::Zoned(naive.and_utc())),
        [sign @ (b'+' | b'-'), offset @ ..] if has_seconds => {
            let (h, m) = match offset {
                [h1, h2] => (digits(&[*h1, *h2])?, 0),
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?)
                }
                _ => return None,
            };
            if m > 59 {
                return None;
            }
            let secs = (h * 3600 + m * 60) as i32;
            let tz = FixedOffset::east_opt(if *sign == b'-' { -secs } else { secs })?;
            let local = tz.from_local_datetime(&naive).single()?;
            Some(IsoTimestamp::Zoned(local.with_timezone(&Utc)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DataType, Value};

    #[test]
    fn dates() {
        assert_eq!(date(b"2024-02-29"), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(date(b"2023-02-29"), None);
        assert_eq!(date(b"2024-2-29"), None);
        assert_eq!(date(b"20240229"), None);
    }

    #[test]
    fn agrees_with_value_parse() {
        for text in [
            "2024-03-10 02:30:00",
            "2024-03-10T02:30:00.5",
            "2024-03-10 02:30:00.123456789",
            "2024-03-10 02:30",
            "2024-03-10T23:59:59",
        ] {
            let Some(IsoTimestamp::Naive(t)) = timestamp(text.as_bytes()) else {
                panic!("{text}")
            };
            assert_eq!(
                Value::Timestamp(t),
                Value::parse(text, &DataType::Timestamp).unwrap(),
                "{text}"
            );
        }
        for text in [
            "2024-03-10 02:30:00Z",
            "2024-03-10T02:30:00.25+02:00",
            "2024-03-10 02:30:00+05:30",
            "2024-03-10 02:30:00-0330",
            "2024-03-10 02:30:00+00",
        ] {
            let Some(IsoTimestamp::Zoned(t)) = timestamp(text.as_bytes()) else {
                panic!("{text}")
            };
            assert_eq!(
                Value::TimestampTz(t),
                Value::parse(text, &DataType::TimestampTz).unwrap(),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_what_it_does_not_recognise() {
        for text in [
            "2024-03-10",
            "2024-03-10 25:00:00",
            "2024-03-10 10:00:00.",
            "2024-03-10 10:00:00.1234567890",
            "2024-03-10 10:00:00 ",
            "2024-03-10 10:00:00+2",
            "2024-03-10 10:00Z",
            "2024-03-10 10:00:60",
            "2024/03/10 10:00:00",
        ] {
            assert_eq!(timestamp(text.as_bytes()), None, "{text}");
        }
    }
}
