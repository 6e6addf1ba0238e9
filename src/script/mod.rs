//! The control plane: the Rhai engine, the factory that turns a script into a task graph,
//! script error rendering, and the API exposed to scripts (one file per domain in `api/`).

pub mod api;
pub mod engine;
pub mod errors;
pub mod factory;
pub mod host;
pub mod limits;
pub mod lint;
pub mod migration_options;
mod modules;
pub mod paths;
pub mod project_options;
pub mod record;

pub use errors::ScriptError;
pub use factory::{Project, ProjectMeta, TaskDef};
pub use host::{Host, HostOptions, Mode, SharedConnections};
