//! Dates and times for scripts, on the value types rows already use: `Date` (NaiveDate),
//! `Timestamp` (a wall-clock time without zone) and `TimestampTz` (an instant, shown in UTC).
//! `today()`, `now()`, `date_add(d, "3 days")`, `date_trunc("month", d)`,
//! `format_date(d, "%d.%m.%Y")`, `parse_date(text[, format])`, `parse_timestamp(text[, format])`,
//! `to_timezone(instant, "Europe/Paris")`, `from_timezone(wall_clock, "Europe/Paris")`.

use std::fmt::Write;

use chrono::format::{Item, StrftimeItems};
use chrono::{
    DateTime, Datelike, Duration, Local, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;
use rhai::{Dynamic, Engine};

use super::super::{fail, Res};

pub fn register(engine: &mut Engine) {
    // The machine's local date, or the date in a zone; `now()` is the instant.
    engine.register_fn("today", || Local::now().date_naive());
    engine.register_fn("today", |tz: &str| -> Res<NaiveDate> {
        Ok(Utc::now().with_timezone(&zone(tz)?).date_naive())
    });
    engine.register_fn("now", Utc::now);
    engine.register_fn("now", |tz: &str| -> Res<NaiveDateTime> {
        Ok(Utc::now().with_timezone(&zone(tz)?).naive_local())
    });

    engine.register_fn("date_add", |d: NaiveDate, by: &str| -> Res<NaiveDate> {
        let step = Step::parse(by)?;
        if step.seconds % 86_400 != 0 {
            return Err(fail(format!(
                "date_add(): a Date moves by days, weeks, months or years, not '{by}': add to a Timestamp (date.to_timestamp()) for hours and minutes"
            )));
        }
        let t = step.apply(d.and_time(NaiveTime::MIN), by)?;
        Ok(t.date())
    });
    engine.register_fn(
        "date_add",
        |t: NaiveDateTime, by: &str| -> Res<NaiveDateTime> { Step::parse(by)?.apply(t, by) },
    );
    engine.register_fn(
        "date_add",
        |t: DateTime<Utc>, by: &str| -> Res<DateTime<Utc>> {
            Ok(Step::parse(by)?.apply(t.naive_utc(), by)?.and_utc())
        },
    );

    engine.register_fn("date_trunc", |unit: &str, d: NaiveDate| -> Res<NaiveDate> {
        if matches!(unit, "hour" | "minute" | "second") {
            return Ok(d);
        }
        Ok(trunc(unit, d.and_time(NaiveTime::MIN))?.date())
    });
    engine.register_fn("date_trunc", |unit: &str, t: NaiveDateTime| trunc(unit, t));
    engine.register_fn(
        "date_trunc",
        |unit: &str, t: DateTime<Utc>| -> Res<DateTime<Utc>> {
            Ok(trunc(unit, t.naive_utc())?.and_utc())
        },
    );
    engine.register_fn("to_timestamp", |d: NaiveDate| d.and_time(NaiveTime::MIN));

    engine.register_fn("format_date", |d: NaiveDate, f: &str| -> Res<String> {
        format(&d.format_with_items(items(f)?.into_iter()), f)
    });
    engine.register_fn("format_date", |t: NaiveDateTime, f: &str| -> Res<String> {
        format(&t.format_with_items(items(f)?.into_iter()), f)
    });
    engine.register_fn("format_date", |t: DateTime<Utc>, f: &str| -> Res<String> {
        format(&t.format_with_items(items(f)?.into_iter()), f)
    });

    engine.register_fn("parse_date", |s: &str| -> Res<NaiveDate> {
        parse_date(s, "%Y-%m-%d")
    });
    engine.register_fn("parse_date", parse_date);
    engine.register_fn("parse_timestamp", |s: &str| -> Res<NaiveDateTime> {
        crate::load::parse_date_arg(s)
            .map(|(t, _)| t)
            .map_err(|e| fail(format!("parse_timestamp(): {e}")))
    });
    engine.register_fn("parse_timestamp", parse_timestamp);

    engine.register_fn(
        "to_timezone",
        |t: DateTime<Utc>, tz: &str| -> Res<NaiveDateTime> {
            Ok(t.with_timezone(&zone(tz)?).naive_local())
        },
    );
    engine.register_fn("from_timezone", |t: NaiveDateTime, tz: &str| -> Res<DateTime<Utc>> {
        let z = zone(tz)?;
        // A wall-clock time skipped by a DST change has no instant; a repeated one takes
        // the earlier.
        z.from_local_datetime(&t)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| fail(format!("from_timezone(): {t} does not exist in {tz} (skipped by a daylight-saving change)")))
    });
}

fn zone(tz: &str) -> Res<Tz> {
    tz.parse::<Tz>().map_err(|_| {
        fail(format!(
            "'{tz}' is not a time zone: use an IANA name such as \"UTC\" or \"Europe/Paris\""
        ))
    })
}

/// An amount of time: calendar months (which vary in length) and exact seconds.
struct Step {
    months: i32,
    seconds: i64,
}

impl Step {
    /// "3 days", "-1 month", "2 hours 30 minutes", "1 week".
    fn parse(text: &str) -> Res<Step> {
        let wrong = || {
            fail(format!(
                "date_add(): '{text}' is not an amount of time: write a number and a unit, such as \"3 days\", \"-1 month\" or \"2 hours 30 minutes\" (units: second, minute, hour, day, week, month, quarter, year)"
            ))
        };
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() || !words.len().is_multiple_of(2) {
            return Err(wrong());
        }
        let mut step = Step {
            months: 0,
            seconds: 0,
        };
        for pair in words.chunks(2) {
            let n: i64 = pair[0].parse().map_err(|_| wrong())?;
            let unit = pair[1].to_ascii_lowercase();
            let unit = unit.strip_suffix('s').unwrap_or(&unit);
            let (months, seconds) = match unit {
                "second" | "sec" => (0, 1),
                "minute" | "min" => (0, 60),
                "hour" => (0, 3_600),
                "day" => (0, 86_400),
                "week" => (0, 7 * 86_400),
                "month" => (1, 0),
                "quarter" => (3, 0),
                "year" => (12, 0),
                _ => return Err(wrong()),
            };
            step.months = i32::try_from(n * months)
                .ok()
                .and_then(|m| step.months.checked_add(m))
                .ok_or_else(wrong)?;
            step.seconds = n
                .checked_mul(seconds)
                .and_then(|s| step.seconds.checked_add(s))
                .ok_or_else(wrong)?;
        }
        Ok(step)
    }

    /// Months first (the day is kept, or clamped to the month's last day), then the seconds.
    fn apply(&self, t: NaiveDateTime, text: &str) -> Res<NaiveDateTime> {
        let months = Months::new(self.months.unsigned_abs());
        let t = if self.months >= 0 {
            t.checked_add_months(months)
        } else {
            t.checked_sub_months(months)
        };
        t.and_then(|t| t.checked_add_signed(Duration::seconds(self.seconds)))
            .ok_or_else(|| {
                fail(format!(
                    "date_add(): '{text}' goes past the dates there are"
                ))
            })
    }
}

fn trunc(unit: &str, t: NaiveDateTime) -> Res<NaiveDateTime> {
    let d = t.date();
    let day = |d: NaiveDate| d.and_time(NaiveTime::MIN);
    let first = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1).map(day);
    let out = match unit {
        "year" => first(d.year(), 1),
        "quarter" => first(d.year(), (d.month0() / 3) * 3 + 1),
        "month" => first(d.year(), d.month()),
        // ISO weeks start on Monday (as PostgreSQL's date_trunc).
        "week" => Some(day(d - Duration::days(d.weekday().num_days_from_monday() as i64))),
        "day" => Some(day(d)),
        "hour" => t.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)),
        "minute" => t.with_second(0).and_then(|t| t.with_nanosecond(0)),
        "second" => t.with_nanosecond(0),
        _ => {
            return Err(fail(format!(
                "date_trunc(): '{unit}' is not one of year, quarter, month, week, day, hour, minute, second"
            )))
        }
    };
    out.ok_or_else(|| fail(format!("date_trunc(\"{unit}\"): {t} has no such start")))
}

/// A strftime format, checked before use (chrono panics when it prints a bad one).
fn items(f: &str) -> Res<Vec<Item<'_>>> {
    let items: Vec<Item> = StrftimeItems::new(f).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return Err(fail(format!(
            "'{f}' is not a date format: use strftime fields such as %Y-%m-%d %H:%M:%S"
        )));
    }
    Ok(items)
}

fn format(value: &dyn std::fmt::Display, f: &str) -> Res<String> {
    let mut out = String::new();
    write!(out, "{value}").map_err(|_| {
        fail(format!(
            "format_date(): '{f}' asks for fields this value does not have (a Date has no time of day, only a TimestampTz has a zone)"
        ))
    })?;
    Ok(out)
}

fn parse_date(s: &str, f: &str) -> Res<NaiveDate> {
    items(f)?;
    NaiveDate::parse_from_str(s.trim(), f).map_err(|e| {
        fail(format!(
            "parse_date(): '{s}' does not match the format '{f}': {e}"
        ))
    })
}

/// A timestamp in `f`; with a zone in the format (`%z`, `%:z`) the instant (TimestampTz),
/// without one the wall-clock time (Timestamp).
fn parse_timestamp(s: &str, f: &str) -> Res<Dynamic> {
    items(f)?;
    if let Ok(t) = DateTime::parse_from_str(s.trim(), f) {
        return Ok(Dynamic::from(t.with_timezone(&Utc)));
    }
    NaiveDateTime::parse_from_str(s.trim(), f)
        .map(Dynamic::from)
        .map_err(|e| {
            fail(format!(
                "parse_timestamp(): '{s}' does not match the format '{f}': {e}"
            ))
        })
}
