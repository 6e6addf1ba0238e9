//! The project options the scheduler and the launchers read: `schedule`, `timezone`,
//! `missed` and `load_type` (checked when the script's `project(...)` runs, so `etl check`
//! reports a bad one with its line). They live beside the script, not in `schedule`, so that
//! the script layer can check them without importing a command.

use crate::context::LoadType;
use crate::cron::{Schedule, Zone};
use crate::script::factory::ProjectMeta;

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
