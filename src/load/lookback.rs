//! `lookback: "2 hours"`: an incremental load re-reads a margin below its watermark, so rows
//! that arrive late (their cursor is older than rows already loaded) are still picked up.
//! The merge on the key makes reading them twice harmless; the watermark itself never moves
//! back (the audit record keeps the greater of the old watermark and the rows' maximum).

use chrono::{Duration, NaiveTime};

use crate::data::Value;

#[derive(Clone, Debug, PartialEq)]
pub struct Lookback {
    /// As the script wrote it, for messages and `etl plan`.
    pub text: String,
    amount: i64,
    unit: Unit,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    /// A bare number: a margin for a numeric cursor (an id, a version).
    Number,
}

impl Lookback {
    /// `"90 seconds"`, `"30 minutes"`, `"2 hours"`, `"3 days"`, `"1 week"`, or a bare number
    /// for numeric cursors.
    pub fn parse(text: &str) -> Result<Lookback, String> {
        let t = text.trim();
        let (num, unit) = match t.split_once(char::is_whitespace) {
            Some((n, u)) => (n, u.trim()),
            None => (t, ""),
        };
        let amount: i64 = num.parse().map_err(|_| {
            format!("lookback '{text}' is not a duration: write e.g. \"2 hours\", \"30 minutes\", \"1 day\"")
        })?;
        if amount < 0 {
            return Err(format!(
                "lookback '{text}' is negative: give a margin of 0 or more"
            ));
        }
        let unit = match unit.to_ascii_lowercase().trim_end_matches('s') {
            "" => Unit::Number,
            "second" | "sec" => Unit::Second,
            "minute" | "min" => Unit::Minute,
            "hour" => Unit::Hour,
            "day" => Unit::Day,
            "week" => Unit::Week,
            other => {
                return Err(format!(
                    "lookback '{text}': unit '{other}' is not one of seconds, minutes, hours, days, weeks"
                ))
            }
        };
        Ok(Lookback {
            text: t.to_string(),
            amount,
            unit,
        })
    }

    fn duration(&self) -> Option<Duration> {
        match self.unit {
            Unit::Second => Duration::try_seconds(self.amount),
            Unit::Minute => Duration::try_minutes(self.amount),
            Unit::Hour => Duration::try_hours(self.amount),
            Unit::Day => Duration::try_days(self.amount),
            Unit::Week => Duration::try_weeks(self.amount),
            Unit::Number => None,
        }
    }

    /// The watermark moved down by the margin, in the cursor's own type.
    pub fn below(&self, since: &Value) -> Result<Value, String> {
        let unfit = || {
            format!(
                "lookback '{}' does not fit a cursor of type {}: give a duration (\"2 hours\") for a \
                 date or timestamp cursor, a number for a numeric one",
                self.text,
                since
                    .data_type()
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "NULL".into())
            )
        };
        let out = match (since, self.duration()) {
            (Value::Timestamp(t), Some(d)) => t.checked_sub_signed(d).map(Value::Timestamp),
            (Value::TimestampTz(t), Some(d)) => t.checked_sub_signed(d).map(Value::TimestampTz),
            // A date cursor moves by whole days: the day the margin reaches is read again.
            (Value::Date(day), Some(d)) => day
                .and_time(NaiveTime::MIN)
                .checked_sub_signed(d)
                .map(|t| Value::Date(t.date())),
            (Value::Int16(n), None) => Some(Value::Int64(*n as i64 - self.amount)),
            (Value::Int32(n), None) => Some(Value::Int64(*n as i64 - self.amount)),
            (Value::Int64(n), None) => n.checked_sub(self.amount).map(Value::Int64),
            _ => return Err(unfit()),
        };
        out.ok_or_else(unfit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse_date_arg;

    #[test]
    fn moves_the_watermark_down_in_the_cursor_type() {
        let lb = Lookback::parse("2 hours").unwrap();
        let t = parse_date_arg("2025-01-04 01:00:00").unwrap().0;
        assert_eq!(
            lb.below(&Value::Timestamp(t)).unwrap(),
            Value::Timestamp(parse_date_arg("2025-01-03 23:00:00").unwrap().0)
        );
        let d = Lookback::parse("1 day").unwrap();
        assert_eq!(
            d.below(&Value::Date(t.date())).unwrap(),
            Value::Date(t.date().pred_opt().unwrap())
        );
        assert_eq!(
            Lookback::parse("100")
                .unwrap()
                .below(&Value::Int64(1000))
                .unwrap(),
            Value::Int64(900)
        );
        assert!(Lookback::parse("2 fortnights")
            .unwrap_err()
            .contains("not one of"));
        assert!(Lookback::parse("100")
            .unwrap()
            .below(&Value::Timestamp(t))
            .unwrap_err()
            .contains("does not fit"));
    }
}
