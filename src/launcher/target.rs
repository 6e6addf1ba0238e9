//! The project a launcher or an export is for: found from what the user typed, evaluated
//! without connecting, with the options the launchers read.

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use crate::cron::Zone;
use crate::exec;
use crate::outcome::CliError;
use crate::script::project_options::ProjectOptions;
use crate::script::{Host, Mode, Project};

/// A project found from what the user typed, with what the launchers need of it.
pub struct Target {
    /// `projects/NAME/project.rhai`, absolute.
    pub script: PathBuf,
    /// The folder name, which the launchers take (`run.sh NAME`).
    pub folder: String,
    /// The folder holding `projects/` and `launchers/`.
    pub root: PathBuf,
    pub project: Project,
    pub options: ProjectOptions,
    pub default_zone: Zone,
}

/// `NAME`, `projects/NAME` or `projects/NAME/project.rhai`.
pub fn resolve_script(project: &str) -> Result<PathBuf, String> {
    let p = Path::new(project);
    let script = if p.is_file() {
        p.to_path_buf()
    } else if p.join("project.rhai").is_file() {
        p.join("project.rhai")
    } else if !project.contains(['/', '\\'])
        && Path::new("projects")
            .join(project)
            .join("project.rhai")
            .is_file()
    {
        Path::new("projects").join(project).join("project.rhai")
    } else {
        let known: Vec<String> = crate::schedule::project_names(Path::new("projects"));
        return Err(format!(
            "no project '{project}': it is neither a project.rhai, a project folder, nor projects/{project}/project.rhai{}",
            if known.is_empty() {
                String::new()
            } else {
                format!(" (projects here: {})", known.join(", "))
            }
        ));
    };
    Ok(std::path::absolute(&script).unwrap_or(script))
}

/// Evaluates the project's script without connecting to anything (as `etl check` does).
pub(super) async fn load(
    config: Option<&Path>,
    project: &str,
    env: Option<&str>,
) -> Result<Target, CliError> {
    let script = resolve_script(project).map_err(CliError::usage)?;
    let dir = script.parent().expect("a file has a folder").to_path_buf();
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    check_folder(&folder)?;
    let root = dir
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.clone());
    let config = exec::load_config(config, Some(&script), env)?;
    let default_zone = match &config.schedule.timezone {
        Some(z) => Zone::parse(z)
            .map_err(|e| CliError::config(format!("[schedule] timezone in etl.toml: {e}")))?,
        None => Zone::Local,
    };
    let host = Host::new(
        Mode::Check,
        config,
        &script,
        exec::io(CancellationToken::new()),
    );
    let project = exec::compile(host).await.map_err(CliError::script)?;
    let options = ProjectOptions::from_meta(&project.meta).map_err(CliError::script)?;
    Ok(Target {
        script,
        folder,
        root,
        project,
        options,
        default_zone,
    })
}

/// Arguments of the generic launcher for this project's defaults.
pub(super) fn launcher_args(t: &Target, env: Option<&str>) -> Vec<String> {
    let mut args = vec![t.folder.clone()];
    if let Some(e) = env {
        args.extend(["--env".to_string(), e.to_string()]);
    }
    args.extend([
        "--load-type".to_string(),
        t.options.load_type.code().to_string(),
    ]);
    args
}

/// The launchers take a project's folder name and accept letters, digits, `_` and `-` only
/// (launchers/lib/launch.sh): a launcher or a schedule for another folder could never start.
fn check_folder(folder: &str) -> Result<(), CliError> {
    if folder.is_empty()
        || !folder
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        let shown: String = folder.escape_debug().collect();
        return Err(CliError::usage(format!(
            "project folder \"{shown}\": the launchers run folders under projects/ named with letters, digits, '_' and '-' only; rename the folder"
        )));
    }
    Ok(())
}

pub(super) fn check_env_name(env: Option<&str>) -> Result<(), CliError> {
    match env {
        Some(e)
            if e.is_empty()
                || !e
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            Err(CliError::usage(format!(
                "--env '{e}': an environment name is letters, digits, '_' and '-'"
            )))
        }
        _ => Ok(()),
    }
}
