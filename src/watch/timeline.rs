//! `--events FILE`: one JSON object per line for each thing the watcher does, with wall-clock
//! times in microseconds since the Unix epoch. Tools read it: the latency script
//! (scripts/watch_latency.py) and the integration tests, which wait on it instead of timing.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

pub struct Timeline {
    file: Option<File>,
}

pub fn micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

impl Timeline {
    pub fn open(path: Option<&Path>) -> std::io::Result<Timeline> {
        let file = match path {
            Some(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                Some(File::create(p)?)
            }
            None => None,
        };
        Ok(Timeline { file })
    }

    /// Appends `{"event": NAME, "t": now, ...fields}`.
    pub fn emit(&mut self, event: &str, fields: Value) {
        let Some(f) = &mut self.file else { return };
        let mut line = json!({ "event": event, "t": micros(SystemTime::now()) });
        if let (Some(obj), Value::Object(extra)) = (line.as_object_mut(), fields) {
            obj.extend(extra);
        }
        // One write of a whole line: a reader never sees half an event.
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}
