//! `etl launcher`: writes a per-project launcher script that calls the generic one.

use std::path::{Path, PathBuf};

use super::args::{LauncherArgs, Os};
use super::quote::{bat_arg, bat_comment, bat_word, sh_comment, sh_word};
use super::target::{check_env_name, launcher_args, load, Target};
use crate::outcome::{CliError, Outcome};

pub async fn command(config: Option<&Path>, args: LauncherArgs) -> Result<Outcome, CliError> {
    let path = write_launcher(config, &args).await?;
    crate::stdout::line(format_args!("Wrote {}", path.display()))?;
    Ok(Outcome::Success)
}

async fn write_launcher(config: Option<&Path>, args: &LauncherArgs) -> Result<PathBuf, CliError> {
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
        return Err(CliError::usage(format!(
            "{} exists: pass --force to replace it",
            out.display()
        )));
    }
    let beside = out.parent() == Some(launchers.as_path());
    let generic = launchers.join(format!("run.{ext}"));
    if !generic.is_file() {
        tracing::warn!(
            "{} does not exist: copy the launchers/ folder of etl there, or the launcher cannot start",
            generic.display()
        );
    }
    let text =
        launcher_text(&t, os, args.env.as_deref(), beside, &generic).map_err(CliError::usage)?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::system(format!("{}: {e}", dir.display())))?;
    }
    std::fs::write(&out, text).map_err(|e| CliError::system(format!("{}: {e}", out.display())))?;
    #[cfg(unix)]
    if os == Os::Unix {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755));
    }
    Ok(out)
}

/// The launcher's text. Every value in it is quoted or cleaned for the language (a comment
/// cannot be ended by a version or a folder name, a word cannot leave its quotes); a value
/// that cannot be written into a batch file safely is refused.
fn launcher_text(
    t: &Target,
    os: Os,
    env: Option<&str>,
    beside: bool,
    generic: &Path,
) -> Result<String, String> {
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
    Ok(match os {
        Os::Unix => {
            let target = if beside {
                "\"$(dirname \"$0\")/run.sh\"".to_string()
            } else {
                sh_word(&generic.display().to_string())
            };
            let args: Vec<String> = args.iter().map(|a| sh_word(a)).collect();
            format!(
                "#!/bin/sh\n\
                 {about}\n\
                 # Written by `etl launcher`. Arguments given to this script follow the defaults, so a\n\
                 # later --env or --load-type wins; see launchers/run.sh --help.\n\
                 exec {target} {args} \"$@\"\n",
                about = sh_comment(&format!(
                    "# Runs project '{}' ({}/project.rhai, v{}; {schedule}) with its defaults.",
                    meta.name, t.folder, meta.version
                )),
                args = args.join(" ")
            )
        }
        Os::Windows => {
            let target = if beside {
                "\"%~dp0run.bat\"".to_string()
            } else {
                bat_word(&generic.display().to_string(), "the launcher's path")?
            };
            let args = args
                .iter()
                .map(|a| bat_arg(a, "an argument"))
                .collect::<Result<Vec<String>, String>>()?;
            format!(
                "@echo off\r\n\
                 {about}\r\n\
                 rem Written by `etl launcher`. Arguments given to this file follow the defaults, so a\r\n\
                 rem later --env or --load-type wins; see launchers\\run.bat --help.\r\n\
                 call {target} {args} %*\r\n\
                 exit /b %ERRORLEVEL%\r\n",
                about = bat_comment(&format!(
                    "rem Runs project '{}' ({}\\project.rhai, v{}; {}) with its defaults.",
                    meta.name, t.folder, meta.version, schedule.replace('"', "'")
                )),
                args = args.join(" ")
            )
        }
    })
}
