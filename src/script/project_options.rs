//! The project options the scheduler and the launchers read: `schedule`, `timezone`,
//! `missed` and `load_type` (checked when the script's `project(...)` runs, so `etl check`
//! reports a bad one with its line). They live beside the script, not in `schedule`, so that
//! the script layer can check them without importing a command.

use crate::context::LoadType;
use crate::cron::{Schedule, Zone};
use crate::script::factory::ProjectMeta;

/// A project's name: letters, digits, `_`, `-` and `.`, not `.` or `..`. It names log and
/// output folders and files, launchers and Task Scheduler tasks, and is written into shell,
/// batch and crontab text, so nothing in it may be a path, a quote or a line break.
pub fn check_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
    if name.is_empty() || name == "." || name == ".." || !name.chars().all(allowed) {
        let shown: String = name.escape_debug().collect();
        return Err(format!(
            "project name \"{shown}\" is not allowed: a project name is letters, digits, '_', '-' and '.' (not \".\" or \"..\"), e.g. \"shop\" or \"sales-eu.v2\""
        ));
    }
    Ok(())
}

/// What to do about runs that fell while the scheduler was not running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Missed {
    /// Wait for the next occurrence (the default).
    #[default]
    Skip,
    /// Run once right away, however many were missed.
    RunOnce,
}

impl Missed {
    pub fn parse(s: &str) -> Result<Missed, String> {
        match s {
            "skip" => Ok(Missed::Skip),
            "run_once" => Ok(Missed::RunOnce),
            _ => Err(format!(
                "project() option 'missed' is \"skip\" or \"run_once\", not \"{s}\""
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Missed::Skip => "skip",
            Missed::RunOnce => "run_once",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ProjectOptions {
    /// The cron text as written.
    pub schedule: Option<String>,
    /// The project's own zone; None: the scheduler's default.
    pub timezone: Option<Zone>,
    pub missed: Missed,
    /// The load type of scheduled and launched runs (default F).
    pub load_type: LoadType,
}

impl ProjectOptions {
    pub fn from_meta(meta: &ProjectMeta) -> Result<ProjectOptions, String> {
        let text = |key: &str, example: &str| -> Result<Option<String>, String> {
            match meta.extra.get(key) {
                None => Ok(None),
                Some(v) => v.clone().into_string().map(Some).map_err(|t| {
                    format!("project() option '{key}' must be a string such as {example}, not {t}")
                }),
            }
        };
        let timezone = text("timezone", "\"Europe/Berlin\"")?
            .map(|z| Zone::parse(&z).map_err(|e| format!("project() option 'timezone': {e}")))
            .transpose()?;
        let missed = text("missed", "\"run_once\"")?
            .map(|m| Missed::parse(&m))
            .transpose()?
            .unwrap_or_default();
        let load_type = match text("load_type", "\"I\"")? {
            None => LoadType::Full,
            Some(t) => match LoadType::parse(&t) {
                Ok(LoadType::Backfill) | Err(_) => {
                    return Err(format!(
                        "project() option 'load_type' is \"F\" (full) or \"I\" (incremental), not \"{t}\""
                    ))
                }
                Ok(lt) => lt,
            },
        };
        let options = ProjectOptions {
            schedule: meta.schedule.clone(),
            timezone,
            missed,
            load_type,
        };
        if let Some(s) = &options.schedule {
            Schedule::parse(s, Zone::Local)
                .map_err(|e| format!("project() option 'schedule': {e}"))?;
        }
        Ok(options)
    }

    /// The schedule in the project's zone, else `default_zone`.
    pub fn schedule(&self, default_zone: &Zone) -> Option<Result<Schedule, String>> {
        let zone = self
            .timezone
            .clone()
            .unwrap_or_else(|| default_zone.clone());
        self.schedule.as_deref().map(|s| Schedule::parse(s, zone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_letters_digits_and_underscore_dash_dot() {
        for ok in ["shop", "sales-eu.v2", "A_1", "..x", "x.."] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a\\b",
            "x\nid > /tmp/pwned #",
            "a b",
            "$(id)",
            "é",
            "a'b",
        ] {
            let e = check_name(bad).unwrap_err();
            assert!(
                e.contains("letters, digits, '_', '-' and '.'") && !e.contains('\n'),
                "{bad:?}: {e}"
            );
        }
        assert!(check_name("x\nid").unwrap_err().contains("\"x\\nid\""));
    }
}
