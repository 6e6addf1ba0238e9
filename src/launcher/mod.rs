//! `etl launcher` writes a per-project launcher script (calling the generic
//! `launchers/run.sh` / `run.bat` with the project's defaults); `etl export cron` and
//! `etl export schtasks` print how to run a project on its `schedule` with the system's own
//! scheduler, through those launchers.

mod export;

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::connectors::Io;
use crate::exec;
use crate::schedule::{ProjectOptions, Zone};
use crate::script::{Host, Mode, Project};

pub use export::{cron_line, schtasks_commands};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Os {
    /// A POSIX shell script (.sh)
    Unix,
    /// A batch file (.bat)
    Windows,
}

#[derive(Args)]
pub struct LauncherArgs {
    /// The project: its name (projects/NAME), its folder, or its project.rhai
    pub project: String,
    /// The environment the launcher runs in (default: none, so etl.toml / ETL_ENV decide)
    #[arg(long)]
    pub env: Option<String>,
    /// The kind of script (default: this system's)
    #[arg(long, value_enum)]
    pub os: Option<Os>,
    /// Where to write it (default: launchers/run_NAME.sh or .bat beside the projects folder)
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Replace an existing file
    #[arg(long)]
    pub force: bool,
}

#[derive(Subcommand)]
pub enum ExportCommand {
    /// Print the crontab line that runs a project on its schedule (through launchers/run.sh)
    Cron(ExportArgs),
    /// Print the Windows Task Scheduler commands (schtasks) that run a project on its schedule
    Schtasks(ExportArgs),
}

#[derive(Args)]
pub struct ExportArgs {
    /// The project: its name (projects/NAME), its folder, or its project.rhai
    pub project: String,
    /// The environment the scheduled runs use (default: none, so etl.toml / ETL_ENV decide)
    #[arg(long)]
    pub env: Option<String>,
    /// The folder holding launchers/ and projects/ on the machine that runs it (default: this one)
    #[arg(long, value_name = "DIR")]
    pub root: Option<String>,
}

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
async fn load(config: Option<&Path>, project: &str, env: Option<&str>) -> Result<Target, String> {
    let script = resolve_script(project)?;
    let dir = script.parent().expect("a file has a folder").to_path_buf();
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let root = dir
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.clone());
    let config = Config::load(config, Some(&dir), env).map_err(|e| e.to_string())?;
    let default_zone = match &config.schedule.timezone {
        Some(z) => Zone::parse(z).map_err(|e| format!("[schedule] timezone in etl.toml: {e}"))?,
        None => Zone::Local,
    };
    let io = Io {
        handle: tokio::runtime::Handle::current(),
        cancel: CancellationToken::new(),
    };
    let host = Host::new(Mode::Check, config, &script, io);
    let project = exec::compile(host).await?;
    let options = ProjectOptions::from_meta(&project.meta)?;
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
fn launcher_args(t: &Target, env: Option<&str>) -> Vec<String> {
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

fn check_env_name(env: Option<&str>) -> Result<(), String> {
    match env {
        Some(e)
            if e.is_empty()
                || !e
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            Err(format!(
                "--env '{e}': an environment name is letters, digits, '_' and '-'"
            ))
        }
        _ => Ok(()),
    }
}

pub async fn command(config: Option<&Path>, args: LauncherArgs) -> u8 {
    match write_launcher(config, &args).await {
        Ok(path) => {
            println!("Wrote {}", path.display());
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

async fn write_launcher(config: Option<&Path>, args: &LauncherArgs) -> Result<PathBuf, String> {
    check_env_name(args.env.as_deref())?;
    let t = load(config, &args.project, args.env.as_deref()).await?;
    let os = args
        .os
        .unwrap_or(if cfg!(windows) { Os::Windows } else { Os::Unix });
    let launchers = t.root.join("launchers");
    let ext = match os {
        Os::Unix => "sh",
        Os::Windows => "bat",
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| launchers.join(format!("run_{}.{ext}", t.folder)));
    let out = std::path::absolute(&out).unwrap_or(out);
    if out.exists() && !args.force {
        return Err(format!(
            "{} exists: pass --force to replace it",
            out.display()
        ));
    }
    let beside = out.parent() == Some(launchers.as_path());
    let generic = launchers.join(format!("run.{ext}"));
    if !generic.is_file() {
        eprintln!(
            "warning: {} does not exist: copy the launchers/ folder of etl there, or the launcher cannot start",
            generic.display()
        );
    }
    let text = launcher_text(&t, os, args.env.as_deref(), beside, &generic);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    #[cfg(unix)]
    if os == Os::Unix {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755));
    }
    Ok(out)
}

fn launcher_text(t: &Target, os: Os, env: Option<&str>, beside: bool, generic: &Path) -> String {
    let meta = &t.project.meta;
    let schedule = match &t.options.schedule {
        Some(s) => format!(
            "schedule \"{s}\" ({})",
            t.options
                .timezone
                .as_ref()
                .unwrap_or(&t.default_zone)
                .name()
        ),
        None => "no schedule".into(),
    };
    let args = launcher_args(t, env);
    match os {
        Os::Unix => {
            let target = if beside {
                "\"$(dirname \"$0\")/run.sh\"".to_string()
            } else {
                export::sh_quote(&generic.display().to_string())
            };
            let args: Vec<String> = args.iter().map(|a| export::sh_quote(a)).collect();
            format!(
                "#!/bin/sh\n\
                 # Runs project '{name}' ({folder}/project.rhai, v{version}; {schedule}) with its defaults.\n\
                 # Written by `etl launcher`. Arguments given to this script follow the defaults, so a\n\
                 # later --env or --load-type wins; see launchers/run.sh --help.\n\
                 exec {target} {args} \"$@\"\n",
                name = meta.name,
                folder = t.folder,
                version = meta.version,
                args = args.join(" ")
            )
        }
        Os::Windows => {
            let target = if beside {
                "\"%~dp0run.bat\"".to_string()
            } else {
                format!("\"{}\"", generic.display())
            };
            format!(
                "@echo off\r\n\
                 rem Runs project '{name}' ({folder}\\project.rhai, v{version}; {schedule}) with its defaults.\r\n\
                 rem Written by `etl launcher`. Arguments given to this file follow the defaults, so a\r\n\
                 rem later --env or --load-type wins; see launchers\\run.bat --help.\r\n\
                 call {target} {args} %*\r\n\
                 exit /b %ERRORLEVEL%\r\n",
                name = meta.name,
                folder = t.folder,
                version = meta.version,
                args = args.join(" ")
            )
        }
    }
}

pub async fn export(config: Option<&Path>, what: ExportCommand) -> u8 {
    let (args, cron) = match &what {
        ExportCommand::Cron(a) => (a, true),
        ExportCommand::Schtasks(a) => (a, false),
    };
    let result = async {
        check_env_name(args.env.as_deref())?;
        let t = load(config, &args.project, args.env.as_deref()).await?;
        let Some(text) = &t.options.schedule else {
            return Err(format!(
                "project '{}' has no schedule: add `schedule: \"0 2 * * *\"` (cron syntax) to its project(...) options",
                t.project.meta.name
            ));
        };
        let zone = t.options.timezone.clone().unwrap_or_else(|| t.default_zone.clone());
        let schedule = crate::schedule::Schedule::parse(text, zone)?;
        let launcher_args = launcher_args(&t, args.env.as_deref());
        if cron {
            let root = args
                .root
                .clone()
                .unwrap_or_else(|| t.root.display().to_string());
            cron_line(&t.project.meta.name, &t.script, &schedule, &root, &launcher_args)
        } else {
            let root = args
                .root
                .clone()
                .unwrap_or_else(|| t.root.display().to_string());
            schtasks_commands(&t.project.meta.name, &schedule, &root, &launcher_args)
        }
    }
    .await;
    match result {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
