//! Files of the project for scripts that handle inputs themselves: `list_files(glob)`,
//! `file_exists(path)`, `read_text(path[, max_bytes])`, and `move_file(from, to)` /
//! `archive_file(path[, folder])` for inputs that were processed. Paths resolve against the
//! project's folder and stay inside `[security] allowed_paths` like every script path.
//! Moves happen only in runs that write: a dry run, `etl plan`, a sample run and
//! `etl check` log the move they would make.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rhai::{Array, Dynamic, Engine};

use super::super::{fail, Res};
use crate::runmode::RunMode;
use crate::script::host::{Host, Mode};

/// `read_text` is for small files (a query, a list of names); data goes through
/// `csv_file`/`json_file`, which stream.
const READ_TEXT_LIMIT: i64 = 1024 * 1024;

pub fn register(engine: &mut Engine, host: &Arc<Host>) {
    let h = host.clone();
    engine.register_fn("list_files", move |pattern: &str| list_files(&h, pattern));
    let h = host.clone();
    engine.register_fn("file_exists", move |path: &str| -> Res<bool> {
        Ok(file(&h, "file_exists", path)?.exists())
    });
    let h = host.clone();
    engine.register_fn("read_text", move |path: &str| {
        read_text(&h, path, READ_TEXT_LIMIT)
    });
    let h = host.clone();
    engine.register_fn("read_text", move |path: &str, max_bytes: i64| {
        read_text(&h, path, max_bytes)
    });
    let h = host.clone();
    engine.register_fn("move_file", move |from: &str, to: &str| -> Res<String> {
        let target = file(&h, "move_file", to)?;
        move_to(&h, "move_file", from, target.clone())?;
        Ok(shown(&h, &target))
    });
    let h = host.clone();
    engine.register_fn("archive_file", move |path: &str| -> Res<String> {
        let src = file(&h, "archive_file", path)?;
        let folder = src
            .parent()
            .map(|p| p.join("archive"))
            .unwrap_or_else(|| PathBuf::from("archive"));
        archive(&h, path, folder)
    });
    let h = host.clone();
    engine.register_fn(
        "archive_file",
        move |path: &str, folder: &str| -> Res<String> {
            let folder = file(&h, "archive_file", folder)?;
            archive(&h, path, folder)
        },
    );
}

/// A path of the script, resolved and inside the allowed folders.
fn file(host: &Host, what: &str, path: &str) -> Res<PathBuf> {
    host.script_file(path)
        .map_err(|e| fail(format!("{what}(\"{path}\"): {e}")))
}

/// A path as scripts see it: relative to the project's folder when inside it.
fn shown(host: &Host, path: &Path) -> String {
    path.strip_prefix(&host.project_dir)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn list_files(host: &Host, pattern: &str) -> Res<Array> {
    let full = host.resolve_path(pattern);
    let paths = glob::glob(&full.to_string_lossy()).map_err(|e| {
        fail(format!(
            "list_files(\"{pattern}\"): not a valid pattern: {e}"
        ))
    })?;
    let mut out = Vec::new();
    for p in paths {
        let p = p.map_err(|e| fail(format!("list_files(\"{pattern}\"): {e}")))?;
        if !p.is_file() {
            continue;
        }
        let rel = shown(host, &p);
        file(host, "list_files", &rel)?;
        out.push(rel);
    }
    // Stable order: inputs are processed the same way on every machine.
    out.sort();
    Ok(out.into_iter().map(Dynamic::from).collect())
}

fn read_text(host: &Host, path: &str, max_bytes: i64) -> Res<String> {
    let file = file(host, "read_text", path)?;
    let size = std::fs::metadata(&file)
        .map_err(|e| {
            fail(format!(
                "read_text(\"{path}\"): cannot read {}: {e}",
                file.display()
            ))
        })?
        .len();
    if size > max_bytes.max(0) as u64 {
        return Err(fail(format!(
            "read_text(\"{path}\"): the file has {size} bytes, more than the {max_bytes} read_text reads: read data with csv_file()/json_file(), or pass a larger limit: read_text(\"{path}\", {size})"
        )));
    }
    host.record_input(&file);
    std::fs::read_to_string(&file).map_err(|e| {
        fail(format!(
            "read_text(\"{path}\"): cannot read {} as UTF-8 text: {e}",
            file.display()
        ))
    })
}

fn archive(host: &Host, path: &str, folder: PathBuf) -> Res<String> {
    let src = file(host, "archive_file", path)?;
    let name = src
        .file_name()
        .ok_or_else(|| fail(format!("archive_file(\"{path}\"): not a file")))?;
    let mut target = folder.join(name);
    if target.exists() {
        // An input of the same name archived before keeps its copy: this one gets a stamp.
        let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%.3f");
        let stem = Path::new(name)
            .file_stem()
            .unwrap_or(name)
            .to_string_lossy();
        let ext = Path::new(name)
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        target = folder.join(format!("{stem}_{stamp}{ext}"));
    }
    move_to(host, "archive_file", path, target.clone())?;
    Ok(shown(host, &target))
}

fn move_to(host: &Host, what: &str, from: &str, target: PathBuf) -> Res<()> {
    let src = file(host, what, from)?;
    if !src.is_file() {
        return Err(fail(format!(
            "{what}(\"{from}\"): there is no file {}",
            src.display()
        )));
    }
    if target.exists() {
        return Err(fail(format!(
            "{what}(\"{from}\"): {} already exists: a move never replaces a file; archive_file() names its copies apart",
            target.display()
        )));
    }
    if host.phase == Mode::Check || !matches!(host.mode, RunMode::Write) {
        tracing::info!(
            "Would move {} to {} (this run writes nothing).",
            src.display(),
            target.display()
        );
        return Ok(());
    }
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            fail(format!(
                "{what}(\"{from}\"): cannot create {}: {e}",
                dir.display()
            ))
        })?;
    }
    if std::fs::rename(&src, &target).is_err() {
        // Another file system: copy, then remove the original once the copy is complete.
        std::fs::copy(&src, &target)
            .and_then(|_| std::fs::remove_file(&src))
            .map_err(|e| {
                fail(format!(
                    "{what}(\"{from}\"): cannot move {} to {}: {e}",
                    src.display(),
                    target.display()
                ))
            })?;
    }
    tracing::info!("Moved {} to {}.", src.display(), target.display());
    Ok(())
}
