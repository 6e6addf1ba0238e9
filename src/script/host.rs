//! What the script API reaches: configuration, the project's folder, the async runtime, the
//! definitions collected while the script's top level runs, and the run's open connections.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use crate::config::{mask_url, Config};
use crate::connectors::{open::open_with, open::OpenOptions, Database, Io};
use crate::error::{EtlError, Result};

use super::factory::Definitions;

/// `Check` evaluates the script without touching any database; `Run` executes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Check,
    Run,
}

/// Script texts by source name, for rendering error snippets, and which file each
/// `import` resolved to.
#[derive(Default)]
pub struct Sources {
    texts: RwLock<HashMap<String, Arc<str>>>,
    modules: RwLock<HashMap<String, String>>,
}

impl Sources {
    pub fn add(&self, name: &str, text: &str) {
        self.texts
            .write()
            .expect("sources lock")
            .insert(name.to_string(), Arc::from(text));
    }

    pub fn text(&self, name: &str) -> Option<Arc<str>> {
        self.texts.read().expect("sources lock").get(name).cloned()
    }

    pub fn register_module(&self, import: &str, source: &str) {
        self.modules
            .write()
            .expect("sources lock")
            .insert(import.to_string(), source.to_string());
    }

    pub fn resolve_module(&self, import: &str) -> Option<String> {
        self.modules
            .read()
            .expect("sources lock")
            .get(import)
            .cloned()
    }
}

pub struct Host {
    pub mode: Mode,
    pub config: Config,
    /// The project script, absolute.
    pub script: PathBuf,
    pub project_dir: PathBuf,
    pub io: Io,
    pub sources: Arc<Sources>,
    pub(crate) defs: Mutex<Definitions>,
    connections: Mutex<HashMap<String, Arc<dyn Database>>>,
}

impl Host {
    pub fn new(mode: Mode, config: Config, script: &Path, io: Io) -> Arc<Host> {
        let script = std::path::absolute(script).unwrap_or_else(|_| script.to_path_buf());
        let project_dir = script
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Arc::new(Host {
            mode,
            config,
            script,
            project_dir,
            io,
            sources: Arc::new(Sources::default()),
            defs: Mutex::new(Definitions::default()),
            connections: Mutex::new(HashMap::new()),
        })
    }

    /// The source name of the main script (its path as given on the command line resolves to
    /// this absolute path; errors print it relative to the working directory).
    pub fn script_name(&self) -> String {
        self.script.display().to_string()
    }

    /// A path written in the script, resolved against the project's folder.
    pub fn resolve_path(&self, p: &str) -> PathBuf {
        let path = Path::new(p);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.project_dir.join(path)
        }
    }

    /// Checks that the connection is configured (without connecting).
    pub fn check_connection(&self, name: &str) -> Result<()> {
        self.config.connection_url(name).map(|_| ())
    }

    /// The run's connection by name, opened on first use and shared by every task.
    pub fn connection(&self, name: &str) -> Result<Arc<dyn Database>> {
        if self.mode == Mode::Check {
            return Err(EtlError::Other(format!(
                "connection '{name}' is not opened during `etl check`: database work belongs inside a task"
            )));
        }
        let mut conns = self.connections.lock().expect("connections lock");
        if let Some(db) = conns.get(name) {
            return Ok(db.clone());
        }
        let url = self.config.connection_url(name)?;
        let db = open_with(name, &url, &OpenOptions::from_config(&self.config))?;
        tracing::debug!(connection = name, url = %mask_url(&url), "Opened connection.");
        conns.insert(name.to_string(), db.clone());
        Ok(db)
    }
}
