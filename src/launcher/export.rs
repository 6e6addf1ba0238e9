//! A project's schedule for the system's own scheduler: a crontab line, or `schtasks`
//! commands for the Windows Task Scheduler (which has no cron syntax, so the common forms are
//! translated and the rest refused with what to do instead).

use std::path::Path;

use super::quote::{bat_arg, bat_bare, bat_comment, cron_word, sh_comment};
use crate::cron::{Schedule, Zone};

/// The crontab entry: a comment, `CRON_TZ` when the schedule has a named zone, and the line
/// that starts `launchers/run.sh` with the project's defaults (`--quiet`: cron mails only
/// warnings and errors; the full log is in the project's log folder).
pub fn cron_line(
    name: &str,
    script: &Path,
    schedule: &Schedule,
    root: &str,
    launcher_args: &[String],
) -> Result<String, String> {
    if schedule.has_seconds() {
        return Err(format!(
            "schedule \"{}\" has a seconds field, which cron cannot run (it starts jobs at most once a minute): run it with `etl schedule`, or write five fields",
            schedule.text
        ));
    }
    check_portable(&schedule.text, "cron")?;
    let fields = schedule_fields(schedule)?;
    let mut out = sh_comment(&format!(
        "# etl: project '{name}' ({}), schedule \"{}\"",
        script.display(),
        schedule.text
    ));
    let mut zone_line = String::new();
    if let Zone::Named(tz) = &schedule.zone {
        out.push_str(&format!(" in {}", tz.name()));
        // cronie and other crons read CRON_TZ; it applies to the lines after it.
        zone_line = format!("CRON_TZ={}\n", tz.name());
    }
    out.push('\n');
    out.push_str(&zone_line);
    let launcher = format!("{}/launchers/run.sh", root.trim_end_matches('/'));
    let mut words = vec![cron_word(&launcher, "the folder (--root)")?];
    for a in launcher_args {
        words.push(cron_word(a, "an argument")?);
    }
    words.push("--quiet".into());
    out.push_str(&format!("{fields} {}\n", words.join(" ")));
    Ok(out)
}

/// The schedule's fields as a crontab line starts: one space between them, and only the
/// characters of cron fields (a schedule is checked when the script runs; this keeps any
/// other text off the line whatever the parser accepted).
fn schedule_fields(schedule: &Schedule) -> Result<String, String> {
    let fields: Vec<&str> = schedule.text.split_whitespace().collect();
    let plain = fields.iter().all(|f| {
        f.chars()
            .all(|c| c.is_ascii_alphanumeric() || "*,/-@".contains(c))
    });
    if !plain {
        return Err(format!(
            "schedule \"{}\" holds characters that are not part of a cron expression",
            sh_comment(&schedule.text)
        ));
    }
    Ok(fields.join(" "))
}

/// Extensions of croner that crontab and Task Scheduler do not have.
fn check_portable(text: &str, what: &str) -> Result<(), String> {
    if text.contains(['L', 'W', '#', '?']) && !text.starts_with('@') {
        return Err(format!(
            "schedule \"{text}\" uses L, W, # or ?, which {what} does not understand: run it with `etl schedule`, or rewrite it with lists and ranges"
        ));
    }
    Ok(())
}

/// One cron field: every value, or these values.
#[derive(Clone, Debug, PartialEq)]
enum Field {
    Any,
    /// `*/n` on minutes or hours (kept for the MINUTE / HOURLY forms).
    Every(u32),
    Values(Vec<u32>),
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn value(s: &str, min: u32, max: u32, names: &[&str], base: u32) -> Result<u32, String> {
    let upper = s.to_ascii_uppercase();
    if let Some(i) = names.iter().position(|n| *n == upper) {
        return Ok(i as u32 + base);
    }
    let v: u32 = s.parse().map_err(|_| format!("'{s}'"))?;
    if v < min || v > max {
        return Err(format!("'{s}' (allowed {min}-{max})"));
    }
    Ok(v)
}

fn field(s: &str, min: u32, max: u32, names: &[&str], base: u32) -> Result<Field, String> {
    if s == "*" {
        return Ok(Field::Any);
    }
    if let Some(step) = s.strip_prefix("*/") {
        let n: u32 = step.parse().map_err(|_| format!("'{s}'"))?;
        if n == 0 {
            return Err(format!("'{s}'"));
        }
        return Ok(Field::Every(n));
    }
    let mut out = Vec::new();
    for part in s.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, st)) => (r, st.parse::<u32>().map_err(|_| format!("'{part}'"))?),
            None => (part, 1),
        };
        if step == 0 {
            return Err(format!("'{part}'"));
        }
        let (a, b) = match range.split_once('-') {
            Some((a, b)) => (
                value(a, min, max, names, base)?,
                value(b, min, max, names, base)?,
            ),
            None if range == "*" => (min, max),
            None => {
                let v = value(range, min, max, names, base)?;
                (v, if step > 1 { max } else { v })
            }
        };
        out.extend((a..=b).step_by(step as usize));
    }
    out.sort_unstable();
    out.dedup();
    Ok(Field::Values(out))
}

fn expand(f: &Field, min: u32, max: u32) -> Vec<u32> {
    match f {
        Field::Any => (min..=max).collect(),
        Field::Every(n) => (min..=max).step_by(*n as usize).collect(),
        Field::Values(v) => v.clone(),
    }
}

/// Most commands one schedule may turn into before it is better run by `etl schedule`.
const MAX_TASKS: usize = 24;

/// The `schtasks /Create` commands (one per trigger Task Scheduler needs) that run
/// `launchers\run.bat` with the project's defaults.
pub fn schtasks_commands(
    name: &str,
    schedule: &Schedule,
    root: &str,
    launcher_args: &[String],
) -> Result<String, String> {
    let refuse = |why: &str| {
        format!(
            "schedule \"{}\" cannot be written for Task Scheduler: {why}; run the project with `etl schedule` (as a service), or simplify the schedule",
            schedule.text
        )
    };
    if schedule.has_seconds() {
        return Err(refuse(
            "it has a seconds field (Task Scheduler starts tasks at most once a minute)",
        ));
    }
    check_portable(&schedule.text, "Task Scheduler")?;
    let text = match schedule.text.as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        t if t.starts_with('@') => return Err(refuse("this nickname has no Task Scheduler form")),
        t => t,
    };
    let parts: Vec<&str> = text.split_whitespace().collect();
    if parts.len() != 5 {
        return Err(refuse("it does not have five fields"));
    }
    let bad = |what: &str, e: String| refuse(&format!("the {what} field has {e}"));
    let minute = field(parts[0], 0, 59, &[], 0).map_err(|e| bad("minute", e))?;
    let hour = field(parts[1], 0, 23, &[], 0).map_err(|e| bad("hour", e))?;
    let dom = field(parts[2], 1, 31, &[], 0).map_err(|e| bad("day-of-month", e))?;
    let month = field(parts[3], 1, 12, &MONTHS, 1).map_err(|e| bad("month", e))?;
    let mut dow = field(parts[4], 0, 7, &DAYS, 0).map_err(|e| bad("day-of-week", e))?;
    if let Field::Values(v) = &mut dow {
        // 7 is Sunday too.
        for d in v.iter_mut() {
            if *d == 7 {
                *d = 0;
            }
        }
        v.sort_unstable();
        v.dedup();
    }

    let mut triggers: Vec<Vec<String>> = Vec::new();
    let all_days = dom == Field::Any && month == Field::Any && dow == Field::Any;
    match (&minute, &hour) {
        (Field::Every(n), Field::Any) if all_days => {
            if 60 % n != 0 {
                return Err(refuse(&format!(
                    "every {n} minutes restarts each hour in cron but not in Task Scheduler"
                )));
            }
            triggers.push(vec![
                "/SC".into(),
                "MINUTE".into(),
                "/MO".into(),
                n.to_string(),
            ]);
        }
        (Field::Values(m), Field::Any | Field::Every(_)) if all_days && m.len() == 1 => {
            let every = match hour {
                Field::Every(n) => n,
                _ => 1,
            };
            if 24 % every != 0 {
                return Err(refuse(&format!(
                    "every {every} hours restarts each day in cron but not in Task Scheduler"
                )));
            }
            triggers.push(vec![
                "/SC".into(),
                "HOURLY".into(),
                "/MO".into(),
                every.to_string(),
                "/ST".into(),
                format!("00:{:02}", m[0]),
            ]);
        }
        _ => {
            if matches!(minute, Field::Any | Field::Every(_)) {
                return Err(refuse("it runs several times an hour on some days only"));
            }
            let times: Vec<String> = expand(&hour, 0, 23)
                .iter()
                .flat_map(|h| {
                    expand(&minute, 0, 59)
                        .into_iter()
                        .map(move |m| format!("{h:02}:{m:02}"))
                })
                .collect();
            let months = match &month {
                Field::Any => None,
                f => Some(
                    expand(f, 1, 12)
                        .iter()
                        .map(|m| MONTHS[*m as usize - 1])
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            };
            let mut days: Vec<Vec<String>> = Vec::new();
            match (&dom, &dow) {
                (Field::Any, Field::Any) => match &months {
                    None => days.push(vec!["/SC".into(), "DAILY".into()]),
                    // Every day of some months: each day of the month, in those months.
                    Some(_) => {
                        return Err(refuse(
                            "every day of some months has no single Task Scheduler form",
                        ))
                    }
                },
                _ => {
                    // Cron runs when the day of the month OR the day of the week matches (when
                    // both are restricted): one trigger for each.
                    if dom != Field::Any {
                        for d in expand(&dom, 1, 31) {
                            let mut t: Vec<String> =
                                vec!["/SC".into(), "MONTHLY".into(), "/D".into(), d.to_string()];
                            if let Some(m) = &months {
                                t.extend(["/M".into(), m.clone()]);
                            }
                            days.push(t);
                        }
                    }
                    if dow != Field::Any {
                        if months.is_some() {
                            return Err(refuse(
                                "days of the week in some months have no Task Scheduler form",
                            ));
                        }
                        let list: Vec<&str> = expand(&dow, 0, 6)
                            .iter()
                            .map(|d| DAYS[*d as usize])
                            .collect();
                        days.push(vec![
                            "/SC".into(),
                            "WEEKLY".into(),
                            "/D".into(),
                            list.join(","),
                        ]);
                    }
                }
            }
            for d in &days {
                for t in &times {
                    let mut trigger = d.clone();
                    trigger.extend(["/ST".into(), t.clone()]);
                    triggers.push(trigger);
                }
            }
        }
    }
    if triggers.len() > MAX_TASKS {
        return Err(refuse(&format!(
            "it needs {} Task Scheduler tasks (at most {MAX_TASKS})",
            triggers.len()
        )));
    }
    let root = root.trim_end_matches(['\\', '/']);
    let launcher = format!("{root}\\launchers\\run.bat");
    // Inside /TR's quotes the path is written as \"...\", which cmd reads as outside its
    // quotes: it must hold nothing cmd acts on; the arguments must be plain for the same reason.
    bat_bare(&launcher, "the folder (--root)")?;
    bat_bare(name, "the project name")?;
    let mut args = Vec::new();
    for a in launcher_args {
        let word = bat_arg(a, "an argument")?;
        if word != *a {
            return Err(format!(
                "the argument '{}' cannot be written into a Task Scheduler command: use letters, digits, '_' and '-'",
                bat_comment(a)
            ));
        }
        args.push(word);
    }
    let command = format!("\\\"{launcher}\\\" {}", args.join(" "));
    let mut out = bat_comment(&format!(
        "rem etl: project '{name}', schedule '{}'{} ({} task{})",
        schedule.text,
        match &schedule.zone {
            Zone::Named(tz) => format!(
                ", read in {}: Task Scheduler uses the machine's local time",
                tz.name()
            ),
            Zone::Local => String::new(),
        },
        triggers.len(),
        if triggers.len() == 1 { "" } else { "s" }
    ));
    out.push('\n');
    for (i, trigger) in triggers.iter().enumerate() {
        let task = if triggers.len() == 1 {
            format!("etl\\{name}")
        } else {
            format!("etl\\{name}-{}", i + 1)
        };
        out.push_str(&format!(
            "schtasks /Create /F /TN \"{task}\" /TR \"{command}\" {}\n",
            trigger.join(" ")
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(s: &str) -> Schedule {
        Schedule::parse(s, Zone::Local).unwrap()
    }

    fn args() -> Vec<String> {
        ["shop", "--env", "prod", "--load-type", "I"]
            .map(String::from)
            .to_vec()
    }

    fn sch(s: &str) -> Result<Vec<String>, String> {
        schtasks_commands("shop", &sched(s), "C:\\etl", &args()).map(|t| {
            t.lines()
                .filter(|l| l.starts_with("schtasks"))
                .map(|l| {
                    l.split("run.bat\\\" shop --env prod --load-type I\" ")
                        .nth(1)
                        .unwrap()
                        .to_string()
                })
                .collect()
        })
    }

    #[test]
    fn crontab_line_runs_the_launcher_with_the_defaults() {
        let line = cron_line(
            "shop",
            Path::new("/srv/etl/projects/shop/project.rhai"),
            &sched("0 2 * * *"),
            "/srv/etl",
            &args(),
        )
        .unwrap();
        assert_eq!(
            line,
            "# etl: project 'shop' (/srv/etl/projects/shop/project.rhai), schedule \"0 2 * * *\"\n\
             0 2 * * * /srv/etl/launchers/run.sh shop --env prod --load-type I --quiet\n"
        );
        let berlin =
            Schedule::parse("30 1 * * 1-5", Zone::parse("Europe/Berlin").unwrap()).unwrap();
        let line = cron_line("shop", Path::new("/x"), &berlin, "/my etl", &args()).unwrap();
        assert!(
            line.contains("\nCRON_TZ=Europe/Berlin\n30 1 * * 1-5 '/my etl/launchers/run.sh' shop"),
            "{line}"
        );
        let e = cron_line(
            "shop",
            Path::new("/x"),
            &sched("*/5 * * * * *"),
            "/r",
            &args(),
        )
        .unwrap_err();
        assert!(e.contains("seconds field"), "{e}");
        let e = cron_line("shop", Path::new("/x"), &sched("0 2 L * *"), "/r", &args()).unwrap_err();
        assert!(e.contains("L, W, # or ?"), "{e}");
    }

    #[test]
    fn common_schedules_become_task_scheduler_triggers() {
        assert_eq!(sch("0 2 * * *").unwrap(), ["/SC DAILY /ST 02:00"]);
        assert_eq!(sch("@daily").unwrap(), ["/SC DAILY /ST 00:00"]);
        assert_eq!(
            sch("30 6 * * 1-5").unwrap(),
            ["/SC WEEKLY /D MON,TUE,WED,THU,FRI /ST 06:30"]
        );
        assert_eq!(
            sch("0 6,18 * * *").unwrap(),
            ["/SC DAILY /ST 06:00", "/SC DAILY /ST 18:00"]
        );
        assert_eq!(sch("*/15 * * * *").unwrap(), ["/SC MINUTE /MO 15"]);
        assert_eq!(sch("5 * * * *").unwrap(), ["/SC HOURLY /MO 1 /ST 00:05"]);
        assert_eq!(sch("0 */6 * * *").unwrap(), ["/SC HOURLY /MO 6 /ST 00:00"]);
        assert_eq!(sch("0 3 1 * *").unwrap(), ["/SC MONTHLY /D 1 /ST 03:00"]);
        assert_eq!(
            sch("0 3 15 jan,jul *").unwrap(),
            ["/SC MONTHLY /D 15 /M JAN,JUL /ST 03:00"]
        );
        // Day of month OR day of week, as cron means it.
        assert_eq!(
            sch("0 3 1 * sun").unwrap(),
            ["/SC MONTHLY /D 1 /ST 03:00", "/SC WEEKLY /D SUN /ST 03:00"]
        );
        let full = schtasks_commands("shop", &sched("0 2 * * *"), "C:\\etl\\", &args()).unwrap();
        assert!(
            full.ends_with("schtasks /Create /F /TN \"etl\\shop\" /TR \"\\\"C:\\etl\\launchers\\run.bat\\\" shop --env prod --load-type I\" /SC DAILY /ST 02:00\n"),
            "{full}"
        );
    }

    #[test]
    fn schedules_task_scheduler_cannot_express_are_refused() {
        for (s, why) in [
            ("*/7 * * * *", "restarts each hour"),
            ("* * * * 1", "several times an hour"),
            ("0 * * * * *", "seconds field"),
            ("0 0 * 1 *", "every day of some months"),
            ("*/10 8-17 * * *", "several times an hour"),
        ] {
            let e = sch(s).unwrap_err();
            assert!(e.contains(why) && e.contains("etl schedule"), "{s}: {e}");
        }
    }
}
