//! OpenLineage run events (https://openlineage.io): with `[lineage]` in etl.toml, each task of a
//! run sends START when it begins and COMPLETE or FAIL when it ends, with the datasets its
//! loads read (files) and wrote (tables, with their row counts), so Marquez, DataHub or
//! OpenMetadata show etl's lineage. Sending never fails a run: an endpoint that is down or a
//! file that cannot be written is a warning, as a mail that cannot be sent is.

mod event;
mod send;
mod task;

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

pub use event::{run_event, Dataset, EventType, TaskRun};
pub use send::emit;
pub use task::TaskLineage;

/// `[lineage]` as written in etl.toml.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineageSection {
    /// The OpenLineage HTTP endpoint, e.g. `http://marquez:5000/api/v1/lineage`.
    pub url: Option<String>,
    /// A file each event is appended to as one JSON line (relative to etl.toml).
    pub file: Option<String>,
    /// The jobs' namespace (default `etl`).
    pub namespace: Option<String>,
    /// The variable holding an API key, sent as `Authorization: Bearer KEY`.
    pub api_key_env: Option<String>,
    /// How long one send may take (default 5 s).
    pub timeout_seconds: Option<u64>,
}

/// Where and how events go, resolved against etl.toml's folder.
#[derive(Clone, Debug)]
pub struct LineageConfig {
    pub url: Option<String>,
    pub file: Option<PathBuf>,
    pub namespace: String,
    pub api_key_env: Option<String>,
    pub timeout: Duration,
}

impl LineageSection {
    pub fn resolve(self, base_dir: &std::path::Path) -> Result<LineageConfig, String> {
        if self.url.is_none() && self.file.is_none() {
            return Err("[lineage] needs url (an OpenLineage HTTP endpoint) or file (a JSON-lines file), or both".into());
        }
        if let Some(u) = &self.url {
            if !u.starts_with("http://") {
                return Err(format!(
                    "[lineage] url \"{u}\": only http:// endpoints are supported; reach an https one through a local proxy, or write a file"
                ));
            }
        }
        Ok(LineageConfig {
            url: self.url,
            file: self.file.map(|f| base_dir.join(f)),
            namespace: self.namespace.unwrap_or_else(|| "etl".into()),
            api_key_env: self.api_key_env,
            timeout: Duration::from_secs(self.timeout_seconds.unwrap_or(5).max(1)),
        })
    }
}
