//! Cron expressions in a time zone: when a project is due next, and which runs were missed.
//! A leaf module (it imports nothing of the crate): the script layer checks a `schedule` with
//! it and the scheduler runs on it.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;

/// The zone a schedule is read in: the system's, or an IANA zone (`Europe/Berlin`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Zone {
    Local,
    Named(chrono_tz::Tz),
}

impl Zone {
    /// An IANA name, `UTC`, or `local` (the system's zone).
    pub fn parse(s: &str) -> Result<Zone, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("local") {
            return Ok(Zone::Local);
        }
        chrono_tz::Tz::from_str(t).map(Zone::Named).map_err(|_| {
            format!("'{s}' is not a time zone: use an IANA name such as \"Europe/Berlin\" or \"UTC\", or \"local\"")
        })
    }

    pub fn name(&self) -> String {
        match self {
            Zone::Local => "local".into(),
            Zone::Named(tz) => tz.name().to_string(),
        }
    }
}

/// A parsed `schedule`: standard five fields (minute hour day-of-month month day-of-week),
/// or six with seconds first; the usual names, ranges, steps, lists and `@daily`-style
/// nicknames.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub text: String,
    pub zone: Zone,
    cron: Cron,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Schedule) -> bool {
        self.text == other.text && self.zone == other.zone
    }
}

impl Schedule {
    pub fn parse(text: &str, zone: Zone) -> Result<Schedule, String> {
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(text.trim())
            .map_err(|e| {
                format!("schedule '{text}' is not a cron expression ({e}); write five fields, minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\" (six with seconds first)")
            })?;
        Ok(Schedule {
            text: text.trim().to_string(),
            zone,
            cron,
        })
    }

    /// Whether the expression has a seconds field (cron and Task Scheduler cannot run it).
    pub fn has_seconds(&self) -> bool {
        !self.text.starts_with('@') && self.text.split_whitespace().count() >= 6
    }

    /// The first occurrence strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.zone {
            Zone::Local => self
                .cron
                .find_next_occurrence(&t.with_timezone(&chrono::Local), false)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
            Zone::Named(tz) => self
                .cron
                .find_next_occurrence(&t.with_timezone(tz), false)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
        }
    }

    /// The occurrences in `(after, until]`: how many (counting stops at `cap`) and the last.
    pub fn between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        cap: usize,
    ) -> (usize, Option<DateTime<Utc>>) {
        let mut count = 0;
        let mut last = None;
        let mut t = after;
        while let Some(next) = self.next_after(t) {
            if next > until {
                break;
            }
            count += 1;
            last = Some(next);
            t = next;
            if count >= cap {
                // Enough to report: the last one is found without counting the rest.
                last = self.previous_at_or_before(until).or(last);
                break;
            }
        }
        (count, last)
    }

    fn previous_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.zone {
            Zone::Local => self
                .cron
                .find_previous_occurrence(&t.with_timezone(&chrono::Local), true)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
            Zone::Named(tz) => self
                .cron
                .find_previous_occurrence(&t.with_timezone(tz), true)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn next_occurrence_in_a_zone() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        let s = Schedule::parse("0 2 * * *", berlin).unwrap();
        // 02:00 in Berlin is 01:00 UTC in winter, 00:00 UTC in summer.
        assert_eq!(
            s.next_after(utc("2025-01-10T12:00:00Z")),
            Some(utc("2025-01-11T01:00:00Z"))
        );
        assert_eq!(
            s.next_after(utc("2025-07-10T12:00:00Z")),
            Some(utc("2025-07-11T00:00:00Z"))
        );
        let u = Schedule::parse("30 6 * * MON-FRI", Zone::parse("UTC").unwrap()).unwrap();
        // 2025-01-11 is a Saturday.
        assert_eq!(
            u.next_after(utc("2025-01-10T07:00:00Z")),
            Some(utc("2025-01-13T06:30:00Z"))
        );
        assert!(!u.has_seconds());
    }

    #[test]
    fn a_seconds_field_is_optional() {
        let s = Schedule::parse("*/2 * * * * *", Zone::parse("UTC").unwrap()).unwrap();
        assert!(s.has_seconds());
        assert_eq!(
            s.next_after(utc("2025-01-10T12:00:01Z")),
            Some(utc("2025-01-10T12:00:02Z"))
        );
        assert_eq!(
            s.next_after(utc("2025-01-10T12:00:02Z")),
            Some(utc("2025-01-10T12:00:04Z"))
        );
    }

    #[test]
    fn missed_occurrences_are_counted() {
        let s = Schedule::parse("0 2 * * *", Zone::parse("UTC").unwrap()).unwrap();
        let (n, last) = s.between(
            utc("2025-01-01T02:00:00Z"),
            utc("2025-01-04T03:00:00Z"),
            1000,
        );
        assert_eq!(n, 3);
        assert_eq!(last, Some(utc("2025-01-04T02:00:00Z")));
        let (n, last) = s.between(
            utc("2025-01-04T02:00:00Z"),
            utc("2025-01-04T03:00:00Z"),
            1000,
        );
        assert_eq!((n, last), (0, None));
        let (n, last) = s.between(utc("2020-01-01T00:00:00Z"), utc("2025-01-04T03:00:00Z"), 10);
        assert_eq!(n, 10);
        assert_eq!(last, Some(utc("2025-01-04T02:00:00Z")));
    }

    #[test]
    fn bad_expressions_and_zones_say_what_to_write() {
        let e = Schedule::parse("every night", Zone::Local).unwrap_err();
        assert!(
            e.contains("is not a cron expression") && e.contains("\"0 2 * * *\""),
            "{e}"
        );
        let e = Zone::parse("Mars/Olympus").unwrap_err();
        assert!(e.contains("is not a time zone"), "{e}");
        assert_eq!(Zone::parse("local").unwrap(), Zone::Local);
    }
}
