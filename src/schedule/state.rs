//! `METADATA/schedule/state.json`: per project, the last occurrence the scheduler handled and
//! how its last run went, so that after a restart it knows which runs it missed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ProjectState {
    /// The occurrence last run or deliberately skipped (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_due: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_started: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_finished: Option<String>,
    /// `success` or `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_id: Option<String>,
}

impl ProjectState {
    pub fn last_due(&self) -> Option<DateTime<Utc>> {
        self.last_due
            .as_deref()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&Utc))
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    #[serde(default)]
    projects: BTreeMap<String, ProjectState>,
}

pub struct State {
    path: PathBuf,
    file: File,
}

pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl State {
    /// Reads the state file; a missing one is empty, an unreadable one is reported and
    /// replaced (the scheduler then knows of no missed run, which is the safe side).
    pub fn load(dir: &Path) -> State {
        let path = dir.join("state.json");
        let file = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
                tracing::warn!(
                    "{} is not valid ({e}); starting without it: runs missed while stopped are not known.",
                    path.display()
                );
                File::default()
            }),
            Err(_) => File::default(),
        };
        State { path, file }
    }

    pub fn get(&self, project: &str) -> ProjectState {
        self.file.projects.get(project).cloned().unwrap_or_default()
    }

    pub fn update(&mut self, project: &str, f: impl FnOnce(&mut ProjectState)) {
        f(self.file.projects.entry(project.to_string()).or_default());
        if let Err(e) = self.save() {
            tracing::warn!("Cannot write {}: {e}", self.path.display());
        }
    }

    /// Written to a temporary file and renamed, so a crash never leaves half a file.
    fn save(&self) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&self.file).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text + "\n")?;
        std::fs::rename(&tmp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State::load(dir.path());
        assert_eq!(s.get("shop"), ProjectState::default());
        let due = DateTime::parse_from_rfc3339("2025-01-02T02:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        s.update("shop", |p| {
            p.last_due = Some(stamp(due));
            p.last_status = Some("success".into());
        });
        let again = State::load(dir.path());
        assert_eq!(again.get("shop").last_due(), Some(due));
        assert_eq!(again.get("shop").last_status.as_deref(), Some("success"));
        std::fs::write(dir.path().join("state.json"), "{ not json").unwrap();
        assert_eq!(State::load(dir.path()).get("shop"), ProjectState::default());
    }
}
