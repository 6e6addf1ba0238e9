//! What every run path does before its first run: load the configuration, evaluate the
//! script, select its tasks.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::runner;
use crate::script::{factory, Host, Project};

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

/// Loads the configuration for `script`, evaluates the script and selects its tasks: what
/// every run path does before its first run. Errors are printed; the value is the exit code
/// (2: a usage, configuration or script error).
pub async fn prepare(
    config: Option<&Path>,
    script: &Path,
    env: Option<&str>,
    selection: &runner::Selection,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<(Arc<Project>, Vec<String>), u8> {
    let project_dir = std::path::absolute(script)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let config = crate::config::Config::load(config, project_dir.as_deref(), env).map_err(|e| {
        eprintln!("error: {e}");
        2
    })?;
    let io = crate::connectors::Io {
        handle: tokio::runtime::Handle::current(),
        cancel,
    };
    let host = Host::new(crate::script::Mode::Run, config, script, io);
    let project = compile(host).await.map_err(|e| {
        eprintln!("error: {e}");
        2
    })?;
    if let Err(e) = crate::notify::NotifySpec::from_meta(&project.meta.extra) {
        eprintln!("error: {}: {e}", script.display());
        return Err(2);
    }
    let selected = runner::select(&project, selection).map_err(|e| {
        eprintln!("error: {e}");
        2
    })?;
    Ok((Arc::new(project), selected))
}
