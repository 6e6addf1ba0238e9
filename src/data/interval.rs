//! Intervals as PostgreSQL keeps them: months, days and microseconds are separate fields
//! because a month is not a fixed number of days and a day is not always 24 hours (DST), so
//! '1 mon' and '30 days' are different values that only compare equal.

use std::cmp::Ordering;
use std::fmt::Write;

const USECS_PER_SEC: i64 = 1_000_000;
const USECS_PER_MINUTE: i64 = 60 * USECS_PER_SEC;
const USECS_PER_HOUR: i64 = 60 * USECS_PER_MINUTE;
const USECS_PER_DAY: i64 = 24 * USECS_PER_HOUR;

/// Appends PostgreSQL's output (`IntervalStyle = postgres`): `1 year 2 mons -3 days +04:05:06.5`.
pub fn format_interval(months: i32, days: i32, micros: i64, out: &mut String) {
    let (year, mon) = (months / 12, months % 12);
    let mut is_zero = true;
    let mut is_before = false;
    for (value, unit) in [
        (year as i64, "year"),
        (mon as i64, "mon"),
        (days as i64, "day"),
    ] {
        if value == 0 {
            continue;
        }
        let sep = if is_zero { "" } else { " " };
        let plus = if is_before && value > 0 { "+" } else { "" };
        let plural = if value != 1 { "s" } else { "" };
        write!(out, "{sep}{plus}{value} {unit}{plural}").expect("write to String");
        is_before = value < 0;
        is_zero = false;
    }
    let hour = micros / USECS_PER_HOUR;
    let rest = micros - hour * USECS_PER_HOUR;
    let min = rest / USECS_PER_MINUTE;
    let rest = rest - min * USECS_PER_MINUTE;
    let sec = rest / USECS_PER_SEC;
    let fsec = rest - sec * USECS_PER_SEC;
    if is_zero || micros != 0 {
        let minus = micros < 0;
        let sign = if minus {
            "-"
        } else if is_before {
            "+"
        } else {
            ""
        };
        let sep = if is_zero { "" } else { " " };
        write!(
            out,
            "{sep}{sign}{:02}:{:02}:{:02}",
            hour.unsigned_abs(),
            min.unsigned_abs(),
            sec.unsigned_abs()
        )
        .expect("write to String");
        if fsec != 0 {
            let frac = format!("{:06}", fsec.unsigned_abs());
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
    }
}

/// Parses PostgreSQL's interval input: `1 year 2 mons 3 days 04:05:06.789`, `-1 days +02:00:00`,
/// verbose units (`3 hours 20 minutes`, `@ 1 day ago`) and ISO 8601 (`P1Y2M3DT4H5M6.5S`).
pub fn parse_interval(input: &str) -> Result<(i32, i32, i64), String> {
    let bad = |why: &str| {
        format!(
            "'{}' is not a valid interval: {why}",
            super::value::shorten(input)
        )
    };
    let t = input.trim();
    if t.is_empty() {
        return Err(bad("empty"));
    }
    let mut acc = Acc::default();
    if t.starts_with(['P', 'p']) {
        parse_iso(&t[1..], &mut acc).map_err(|e| bad(&e))?;
    } else {
        parse_verbose(t, &mut acc).map_err(|e| bad(&e))?;
    }
    acc.finish().map_err(|e| bad(&e))
}

/// Months, days and microseconds collected exactly; fractional units cascade down the way
/// PostgreSQL does it (a month is 30 days, a day 24 hours).
#[derive(Default)]
struct Acc {
    months: i128,
    days: i128,
    micros: i128,
}

impl Acc {
    /// Adds `number` (decimal text, optionally signed) of a unit.
    fn add(&mut self, number: &str, unit: Unit) -> Result<(), String> {
        let (neg, digits) = match number.as_bytes().first() {
            Some(b'-') => (true, &number[1..]),
            Some(b'+') => (false, &number[1..]),
            _ => (false, number),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(format!("'{number}' is not a number"));
        }
        let int: i128 = if int.is_empty() {
            0
        } else {
            int.parse()
                .map_err(|_| format!("'{number}' is too large"))?
        };
        // Fraction as an exact ratio of 10^len, cut at 12 digits (finer than a microsecond of a year).
        let frac = &frac[..frac.len().min(12)];
        let scale = 10i128.pow(frac.len() as u32);
        let frac_num: i128 = if frac.is_empty() {
            0
        } else {
            frac.parse()
                .map_err(|_| format!("'{number}' is not a number"))?
        };
        let sign = if neg { -1 } else { 1 };
        let (months, days, micros) = match unit {
            Unit::Months(m) => {
                let whole = int * m as i128;
                let part = frac_num * m as i128; // in months / scale
                let days_part = part % scale * 30; // in days / scale
                let micros_part = days_part % scale * USECS_PER_DAY as i128 / scale;
                (whole + part / scale, days_part / scale, micros_part)
            }
            Unit::Days(d) => {
                let part = frac_num * d as i128;
                (
                    0,
                    int * d as i128 + part / scale,
                    part % scale * USECS_PER_DAY as i128 / scale,
                )
            }
            Unit::Micros(u) => (0, 0, int * u as i128 + frac_num * u as i128 / scale),
        };
        self.months += sign * months;
        self.days += sign * days;
        self.micros += sign * micros;
        Ok(())
    }

    fn negate(&mut self) {
        self.months = -self.months;
        self.days = -self.days;
        self.micros = -self.micros;
    }

    fn finish(self) -> Result<(i32, i32, i64), String> {
        let months = i32::try_from(self.months).map_err(|_| "months out of range".to_string())?;
        let days = i32::try_from(self.days).map_err(|_| "days out of range".to_string())?;
        let micros = i64::try_from(self.micros).map_err(|_| "time out of range".to_string())?;
        Ok((months, days, micros))
    }
}

#[derive(Clone, Copy)]
enum Unit {
    Months(i64),
    Days(i64),
    Micros(i64),
}

fn unit(name: &str) -> Option<Unit> {
    Some(match name.to_ascii_lowercase().as_str() {
        "millennium" | "millennia" | "millenniums" => Unit::Months(12_000),
        "century" | "centuries" => Unit::Months(1_200),
        "decade" | "decades" => Unit::Months(120),
        "y" | "yr" | "yrs" | "year" | "years" => Unit::Months(12),
        "mon" | "mons" | "month" | "months" => Unit::Months(1),
        "w" | "week" | "weeks" => Unit::Days(7),
        "d" | "day" | "days" => Unit::Days(1),
        "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Micros(USECS_PER_HOUR),
        "m" | "min" | "mins" | "minute" | "minutes" => Unit::Micros(USECS_PER_MINUTE),
        "s" | "sec" | "secs" | "second" | "seconds" => Unit::Micros(USECS_PER_SEC),
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => Unit::Micros(1_000),
        "us" | "usec" | "usecs" | "microsecond" | "microseconds" => Unit::Micros(1),
        _ => return None,
    })
}

fn parse_verbose(t: &str, acc: &mut Acc) -> Result<(), String> {
    let mut tokens: Vec<&str> = t.split_whitespace().collect();
    if tokens.first() == Some(&"@") {
        tokens.remove(0);
    }
    let ago = tokens.last().is_some_and(|w| w.eq_ignore_ascii_case("ago"));
    if ago {
        tokens.pop();
    }
    let mut i = 0;
    while i < tokens.len() {
        let tok = tokens[i];
        if tok.contains(':') {
            parse_clock(tok, acc)?;
            i += 1;
            continue;
        }
        // "3days" as well as "3 days"; a lone number is seconds.
        let split = tok
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(tok.len());
        let (number, attached) = tok.split_at(split);
        let (unit_name, step) = if !attached.is_empty() {
            (attached, 1)
        } else if let Some(next) = tokens.get(i + 1).filter(|n| unit(n).is_some()) {
            (*next, 2)
        } else {
            ("s", 1)
        };
        let u = unit(unit_name).ok_or_else(|| format!("unknown unit '{unit_name}'"))?;
        acc.add(number, u)?;
        i += step;
    }
    if ago {
        acc.negate();
    }
    Ok(())
}

/// `[+-]H:M[:S[.f]]`, the sign applying to every part.
fn parse_clock(tok: &str, acc: &mut Acc) -> Result<(), String> {
    let (neg, body) = match tok.as_bytes().first() {
        Some(b'-') => (true, &tok[1..]),
        Some(b'+') => (false, &tok[1..]),
        _ => (false, tok),
    };
    let parts: Vec<&str> = body.split(':').collect();
    if parts.len() > 3
        || parts.iter().any(|p| p.is_empty())
        || parts[..parts.len() - 1].iter().any(|p| p.contains('.'))
    {
        return Err(format!("'{tok}' is not a time of day"));
    }
    let sign = if neg { "-" } else { "" };
    acc.add(&format!("{sign}{}", parts[0]), Unit::Micros(USECS_PER_HOUR))?;
    if let Some(m) = parts.get(1) {
        acc.add(&format!("{sign}{m}"), Unit::Micros(USECS_PER_MINUTE))?;
    }
    if let Some(s) = parts.get(2) {
        acc.add(&format!("{sign}{s}"), Unit::Micros(USECS_PER_SEC))?;
    }
    Ok(())
}

fn parse_iso(body: &str, acc: &mut Acc) -> Result<(), String> {
    let mut in_time = false;
    let mut number = String::new();
    for c in body.chars() {
        match c {
            'T' | 't' => {
                if !number.is_empty() {
                    return Err("a number without a unit before 'T'".into());
                }
                in_time = true;
            }
            '0'..='9' | '.' | '-' | '+' => number.push(c),
            _ => {
                let u = match (c.to_ascii_uppercase(), in_time) {
                    ('Y', false) => Unit::Months(12),
                    ('M', false) => Unit::Months(1),
                    ('W', false) => Unit::Days(7),
                    ('D', false) => Unit::Days(1),
                    ('H', true) => Unit::Micros(USECS_PER_HOUR),
                    ('M', true) => Unit::Micros(USECS_PER_MINUTE),
                    ('S', true) => Unit::Micros(USECS_PER_SEC),
                    _ => return Err(format!("unexpected '{c}' in ISO 8601 duration")),
                };
                acc.add(&number, u)?;
                number.clear();
            }
        }
    }
    if number.is_empty() {
        Ok(())
    } else {
        Err("a number without a unit at the end".into())
    }
}

/// PostgreSQL's interval order: everything converted with 30-day months and 24-hour days.
pub fn compare_interval(a: (i32, i32, i64), b: (i32, i32, i64)) -> Ordering {
    let span = |(m, d, u): (i32, i32, i64)| {
        (m as i128 * 30 + d as i128) * USECS_PER_DAY as i128 + u as i128
    };
    span(a).cmp(&span(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(m: i32, d: i32, u: i64) -> String {
        let mut s = String::new();
        format_interval(m, d, u, &mut s);
        s
    }

    #[test]
    fn prints_like_postgres() {
        assert_eq!(fmt(0, 0, 0), "00:00:00");
        assert_eq!(
            fmt(14, 3, 4 * USECS_PER_HOUR + 5 * USECS_PER_MINUTE + 6_789_000),
            "1 year 2 mons 3 days 04:05:06.789"
        );
        assert_eq!(fmt(0, -1, 2 * USECS_PER_HOUR), "-1 days +02:00:00");
        assert_eq!(fmt(-13, 0, 0), "-1 years -1 mons");
        assert_eq!(fmt(1, 1, 0), "1 mon 1 day");
        assert_eq!(fmt(0, 0, -1), "-00:00:00.000001");
        assert_eq!(fmt(0, 0, 100 * USECS_PER_HOUR), "100:00:00");
        assert_eq!(fmt(0, 2, -USECS_PER_SEC), "2 days -00:00:01");
    }

    #[test]
    fn parses_what_it_prints_and_more() {
        for (m, d, u) in [
            (0, 0, 0),
            (14, 3, 14_706_789_000),
            (0, -1, 7_200_000_000),
            (-13, 0, 0),
            (0, 0, -1),
            (0, 2, -1_000_000),
            (i32::MAX, i32::MIN, i64::MAX),
        ] {
            assert_eq!(
                parse_interval(&fmt(m, d, u)),
                Ok((m, d, u)),
                "{}",
                fmt(m, d, u)
            );
        }
        assert_eq!(
            parse_interval("3 hours 20 minutes"),
            Ok((0, 0, 12_000_000_000))
        );
        assert_eq!(parse_interval("@ 1 day ago"), Ok((0, -1, 0)));
        assert_eq!(
            parse_interval("P1Y2M3DT4H5M6.5S"),
            Ok((14, 3, 14_706_500_000))
        );
        assert_eq!(parse_interval("1.5 days"), Ok((0, 1, 12 * USECS_PER_HOUR)));
        assert_eq!(parse_interval("1.5 months"), Ok((1, 15, 0)));
        assert_eq!(parse_interval("1 week"), Ok((0, 7, 0)));
        assert!(parse_interval("1 fortnight").is_err());
        assert!(parse_interval("").is_err());
    }

    #[test]
    fn compares_with_30_day_months() {
        assert_eq!(compare_interval((1, 0, 0), (0, 30, 0)), Ordering::Equal);
        assert_eq!(
            compare_interval((0, 1, 0), (0, 0, USECS_PER_DAY + 1)),
            Ordering::Less
        );
    }
}
