//! `etl exec --from T --to T`: one run as one backfill window, the way an outside scheduler
//! (Airflow's data interval) asks for exactly its slice of time. The bounds become `run.since`
//! / `run.until` of a load type B run, so each load replaces exactly that range, as the windows
//! of `etl backfill` do.

use chrono::{DateTime, NaiveDateTime, NaiveTime};

use crate::cron::Zone;
use crate::load::parse_date_arg;

/// A run's window `[since, until)` as `run.since` / `run.until` get it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecWindow {
    pub since: String,
    pub until: String,
}

/// Reads `--from` / `--to`. A bound is a date, a local date-time (read in the project's zone,
/// like the scheduler reads a schedule), or a date-time with an offset such as Airflow's
/// `{{ data_interval_start | ts }}` (`2025-01-01T00:00:00+00:00`), which is converted to
/// the project's zone so that a window at midnight UTC is the right local range.
pub fn parse(from: &str, to: &str, zone: &Zone) -> Result<ExecWindow, String> {
    let since = bound(from, zone).map_err(|e| format!("--from {e}"))?;
    let until = bound(to, zone).map_err(|e| format!("--to {e}"))?;
    if until <= since {
        return Err(format!(
            "--to {to} must be after --from {from} (the window is [from, to): --to is excluded)"
        ));
    }
    // Bounds at midnight stay dates, so a daily interval reads as the days `etl backfill`
    // would give; any time of day makes both bounds date-times.
    let midnight = |t: &NaiveDateTime| t.time() == NaiveTime::MIN;
    let text = |t: NaiveDateTime| {
        if midnight(&since) && midnight(&until) {
            t.format("%Y-%m-%d").to_string()
        } else {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        }
    };
    Ok(ExecWindow {
        since: text(since),
        until: text(until),
    })
}

fn bound(text: &str, zone: &Zone) -> Result<NaiveDateTime, String> {
    if let Ok((t, _)) = parse_date_arg(text) {
        return Ok(t);
    }
    let t = text.trim();
    let with_offset = DateTime::parse_from_rfc3339(t)
        .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%:z"))
        .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%:z"))
        .map_err(|_| {
            format!(
                "'{text}' is not a date or time: write YYYY-MM-DD, \"YYYY-MM-DD HH:MM:SS\" (the project's zone) or an ISO time with an offset such as 2025-01-01T00:00:00+00:00"
            )
        })?;
    Ok(match zone {
        Zone::Named(tz) => with_offset.with_timezone(tz).naive_local(),
        Zone::Local => with_offset.with_timezone(&chrono::Local).naive_local(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> Zone {
        Zone::parse(name).unwrap()
    }

    fn window(since: &str, until: &str) -> ExecWindow {
        ExecWindow {
            since: since.into(),
            until: until.into(),
        }
    }

    #[test]
    fn dates_and_local_times_are_taken_as_written() {
        let utc = zone("UTC");
        assert_eq!(
            parse("2025-01-01", "2025-01-02", &utc).unwrap(),
            window("2025-01-01", "2025-01-02")
        );
        assert_eq!(
            parse("2025-01-01 06:00", "2025-01-01T07:00:00", &utc).unwrap(),
            window("2025-01-01 06:00:00", "2025-01-01 07:00:00")
        );
    }

    #[test]
    fn airflow_interval_bounds_are_converted_to_the_projects_zone() {
        // Airflow's `ts` of a daily interval in UTC.
        let (a, b) = ("2025-01-01T00:00:00+00:00", "2025-01-02T00:00:00+00:00");
        assert_eq!(
            parse(a, b, &zone("UTC")).unwrap(),
            window("2025-01-01", "2025-01-02")
        );
        assert_eq!(
            parse(a, b, &zone("Europe/Berlin")).unwrap(),
            window("2025-01-01 01:00:00", "2025-01-02 01:00:00")
        );
        // A Berlin midnight interval as Airflow writes it for a Berlin timetable.
        assert_eq!(
            parse(
                "2025-07-01T00:00:00+02:00",
                "2025-07-02T00:00:00+02:00",
                &zone("Europe/Berlin")
            )
            .unwrap(),
            window("2025-07-01", "2025-07-02")
        );
    }

    #[test]
    fn bad_bounds_say_what_to_write() {
        let utc = zone("UTC");
        let e = parse("yesterday", "2025-01-02", &utc).unwrap_err();
        assert!(e.starts_with("--from 'yesterday' is not a date"), "{e}");
        assert!(e.contains("2025-01-01T00:00:00+00:00"), "{e}");
        let e = parse("2025-01-02", "2025-01-02", &utc).unwrap_err();
        assert!(e.contains("must be after --from"), "{e}");
    }
}
