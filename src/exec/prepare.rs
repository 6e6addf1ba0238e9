//! What every run path does before its first run: load the configuration, evaluate the
//! script, select its tasks.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::connectors::Io;
use crate::notify::NotifySpec;
use crate::outcome::CliError;
use crate::runmode::RunMode;
use crate::runner;
use crate::script::{factory, Host, HostOptions, Mode, Project};

/// Evaluates the script on a blocking thread (scripts never run on async workers). The error
/// is the rendered script error (`path:line:col`, the line, a caret).
pub async fn compile(host: Arc<Host>) -> Result<Project, String> {
    match tokio::task::spawn_blocking(move || factory::load(host)).await {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("evaluating the script panicked: {e}")),
    }
}

/// `--param KEY=VALUE` arguments as `run.params`.
pub fn parse_params(raw: &[String]) -> Result<BTreeMap<String, String>, String> {
    raw.iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(format!("--param '{p}' must look like KEY=VALUE")),
        })
        .collect()
}

/// Tasks at once when `--jobs` is not given: the number of cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// The configuration for a command: `--config`, else `etl.toml` found from the project's
/// folder (or the working directory) upwards, in the environment asked for.
pub fn load_config(
    explicit: Option<&Path>,
    script: Option<&Path>,
    env: Option<&str>,
) -> Result<Config, CliError> {
    let project_dir = script
        .and_then(|s| std::path::absolute(s).ok())
        .and_then(|p| p.parent().map(Path::to_path_buf));
    Config::load(explicit, project_dir.as_deref(), env).map_err(CliError::config)
}

/// The handle through which scripts reach the async core, stopped by `cancel`.
pub fn io(cancel: CancellationToken) -> Io {
    Io {
        handle: tokio::runtime::Handle::current(),
        cancel,
    }
}

/// Checks what the factory leaves to the commands: the `notify` option, whose shape only
/// the notifier knows. The error names the script as the user gave it.
pub fn check_options(project: &Project, script: &Path) -> Result<(), String> {
    NotifySpec::from_meta(&project.meta.extra)
        .map(drop)
        .map_err(|e| format!("{}: {e}", script.display()))
}

/// Loads the configuration for `script`, evaluates the script and selects its tasks: what
/// every run path does before its first run.
pub async fn prepare(
    config: Option<&Path>,
    script: &Path,
    env: Option<&str>,
    selection: &runner::Selection,
    cancel: CancellationToken,
    mode: RunMode,
) -> Result<(Arc<Project>, Vec<String>), CliError> {
    let config = load_config(config, Some(script), env)?;
    let options = HostOptions {
        mode,
        ..HostOptions::default()
    };
    let host = Host::with_options(Mode::Run, config, script, io(cancel), options);
    let project = compile(host).await.map_err(CliError::script)?;
    check_options(&project, script).map_err(CliError::script)?;
    let selected = runner::select(&project, selection).map_err(CliError::usage)?;
    Ok((Arc::new(project), selected))
}
