//! What the tasks of a watched run touched: the files each one read (SQL files, CSV files,
//! modules imported while it ran) and the loads it made. `etl watch` uses the first to know
//! which tasks an edited file concerns, the second to show what each load changed.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::context::current_task;

/// One successful load of a task.
#[derive(Clone, Debug)]
pub struct LoadEvent {
    pub task: String,
    pub connection: String,
    /// The table written (the scratch name in a sample run).
    pub table: String,
    pub key: Vec<String>,
    pub rows: u64,
}

#[derive(Default)]
pub struct Recorder {
    inputs: Mutex<HashMap<String, BTreeSet<PathBuf>>>,
    loads: Mutex<Vec<LoadEvent>>,
}

/// What one run recorded.
#[derive(Default)]
pub struct Recorded {
    pub inputs: HashMap<String, BTreeSet<PathBuf>>,
    pub loads: Vec<LoadEvent>,
}

impl Recorder {
    /// Notes that the current task read `path` (ignored outside a task).
    pub fn input(&self, path: &Path) {
        let Some(task) = current_task() else { return };
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        self.inputs
            .lock()
            .expect("recorder lock")
            .entry(task.task.clone())
            .or_default()
            .insert(path);
    }

    pub fn load(&self, event: LoadEvent) {
        self.loads.lock().expect("recorder lock").push(event);
    }

    /// What `task` read and loaded so far, left in place (lineage reads it beside `etl watch`).
    pub fn of_task(&self, task: &str) -> (BTreeSet<PathBuf>, Vec<LoadEvent>) {
        let inputs = self
            .inputs
            .lock()
            .expect("recorder lock")
            .get(task)
            .cloned()
            .unwrap_or_default();
        let loads = self
            .loads
            .lock()
            .expect("recorder lock")
            .iter()
            .filter(|l| l.task == task)
            .cloned()
            .collect();
        (inputs, loads)
    }

    /// Everything recorded since the last call.
    pub fn take(&self) -> Recorded {
        Recorded {
            inputs: std::mem::take(&mut *self.inputs.lock().expect("recorder lock")),
            loads: std::mem::take(&mut *self.loads.lock().expect("recorder lock")),
        }
    }
}
