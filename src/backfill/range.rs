//! The range of a backfill and its half-open windows.

use chrono::NaiveDateTime;

use crate::load::parse_date_arg;

/// More windows than this is almost certainly a typo in `--days` or the dates.
pub const MAX_WINDOWS: usize = 10_000;

/// The longest window: 10000 years, more than any range of dates `--from`/`--to` can give.
pub const MAX_DAYS: u32 = 3_652_500;

/// One window `[since, until)`; `index` counts from 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub index: usize,
    pub since: NaiveDateTime,
    pub until: NaiveDateTime,
}

/// The range and window length as given on the command line.
#[derive(Clone, Debug)]
pub struct Range {
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
    pub days: u32,
    /// Whether bounds are written with a time of day (a bound was given with one).
    pub with_time: bool,
}

impl Range {
    pub fn parse(from: &str, to: &str, days: u32) -> Result<Range, String> {
        let (f, f_time) = parse_date_arg(from).map_err(|e| format!("--from {e}"))?;
        let (t, t_time) = parse_date_arg(to).map_err(|e| format!("--to {e}"))?;
        if days == 0 {
            return Err("--days must be 1 or more".into());
        }
        if days > MAX_DAYS {
            return Err(format!(
                "--days {days} is longer than any range of dates: give at most {MAX_DAYS} (10000 years)"
            ));
        }
        if t <= f {
            return Err(format!(
                "--to {to} must be after --from {from} (the range is [from, to): --to is excluded)"
            ));
        }
        let range = Range {
            from: f,
            to: t,
            days,
            with_time: f_time || t_time,
        };
        let n = range.count();
        if n > MAX_WINDOWS {
            return Err(format!(
                "{from} .. {to} in windows of {days} days gives {n} windows (at most {MAX_WINDOWS}): use a larger --days"
            ));
        }
        Ok(range)
    }

    fn count(&self) -> usize {
        let span = (self.to - self.from).num_seconds();
        let step = i64::from(self.days) * 86_400;
        ((span + step - 1) / step) as usize
    }

    /// The windows in order: `[from, from+N)`, ..., the last one cut at `to`.
    pub fn windows(&self) -> Vec<Window> {
        let step = chrono::Duration::try_days(i64::from(self.days));
        let mut out = Vec::with_capacity(self.count());
        let mut since = self.from;
        while since < self.to {
            // A step past the last date chrono holds (`--days 4294967295`) ends at `to`.
            let until = step
                .and_then(|s| since.checked_add_signed(s))
                .map_or(self.to, |u| u.min(self.to));
            out.push(Window {
                index: out.len(),
                since,
                until,
            });
            since = until;
        }
        out
    }

    /// A bound as `run.since` / `run.until` get it: `YYYY-MM-DD`, or `YYYY-MM-DD HH:MM:SS`
    /// when the range was given with a time of day.
    pub fn text(&self, t: NaiveDateTime) -> String {
        if self.with_time {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        } else {
            t.format("%Y-%m-%d").to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(r: &Range) -> Vec<(String, String)> {
        r.windows()
            .iter()
            .map(|w| (r.text(w.since), r.text(w.until)))
            .collect()
    }

    #[test]
    fn windows_are_half_open_and_the_last_is_cut_at_to() {
        let r = Range::parse("2025-01-01", "2025-01-31", 3).unwrap();
        let w = texts(&r);
        assert_eq!(w.len(), 10);
        assert_eq!(w[0], ("2025-01-01".into(), "2025-01-04".into()));
        assert_eq!(w[9], ("2025-01-28".into(), "2025-01-31".into()));
        // Consecutive windows share their bound: nothing is read twice or skipped.
        for pair in r.windows().windows(2) {
            assert_eq!(pair[0].until, pair[1].since);
        }
        let r = Range::parse("2025-01-01", "2025-01-08", 3).unwrap();
        assert_eq!(
            texts(&r),
            [
                ("2025-01-01".into(), "2025-01-04".into()),
                ("2025-01-04".into(), "2025-01-07".into()),
                ("2025-01-07".into(), "2025-01-08".into()),
            ]
        );
        let one = Range::parse("2025-02-27", "2025-03-02", 30).unwrap();
        assert_eq!(texts(&one), [("2025-02-27".into(), "2025-03-02".into())]);
    }

    #[test]
    fn a_time_of_day_in_a_bound_makes_every_bound_a_date_time() {
        let r = Range::parse("2025-01-01 06:00", "2025-01-03", 1).unwrap();
        assert_eq!(
            texts(&r),
            [
                ("2025-01-01 06:00:00".into(), "2025-01-02 06:00:00".into()),
                ("2025-01-02 06:00:00".into(), "2025-01-03 00:00:00".into()),
            ]
        );
    }

    #[test]
    fn bad_ranges_say_what_to_change() {
        let e = Range::parse("2025-13-01", "2025-12-31", 1).unwrap_err();
        assert!(e.starts_with("--from '2025-13-01' is not a date"), "{e}");
        let e = Range::parse("2025-01-02", "2025-01-01", 1).unwrap_err();
        assert!(e.contains("must be after --from"), "{e}");
        let e = Range::parse("2025-01-01", "2025-01-01", 1).unwrap_err();
        assert!(e.contains("must be after --from"), "{e}");
        assert!(Range::parse("2025-01-01", "2025-01-02", 0)
            .unwrap_err()
            .contains("--days must be 1 or more"));
        let e = Range::parse("1900-01-01", "2100-01-01", 1).unwrap_err();
        assert!(e.contains("use a larger --days"), "{e}");
    }

    #[test]
    fn days_are_bounded_and_a_window_past_the_calendar_ends_at_to() {
        let e = Range::parse("0001-01-01", "9999-12-31", u32::MAX).unwrap_err();
        assert!(
            e.contains("--days 4294967295 is longer than any range"),
            "{e}"
        );
        let r = Range::parse("0001-01-01", "9999-12-31", MAX_DAYS).unwrap();
        assert_eq!(texts(&r), [("0001-01-01".into(), "9999-12-31".into())]);
        let r = Range::parse("9999-12-30", "9999-12-31 12:00", 1).unwrap();
        assert_eq!(r.windows().len(), 2);
    }
}
