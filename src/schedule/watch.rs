//! Finding the projects of a folder and noticing edits: polling, not file events, so it
//! works the same on every file system (network mounts and container volumes included).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The script file name of a project folder.
pub const SCRIPT: &str = "project.rhai";

/// The project folders under `dir` (those holding a `project.rhai`), sorted.
pub fn project_dirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(SCRIPT).is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// What changes when a project's scripts are edited: every `.rhai` file of the folder (the
/// project script and its own modules) with its size and modification time.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Fingerprint(Vec<(PathBuf, u64, Option<SystemTime>)>);

impl Fingerprint {
    pub fn of(project_dir: &Path) -> Fingerprint {
        let mut files = Vec::new();
        collect(project_dir, 0, &mut files);
        files.sort();
        Fingerprint(files)
    }
}

fn collect(dir: &Path, depth: usize, out: &mut Vec<(PathBuf, u64, Option<SystemTime>)>) {
    // Data folders can be big; scripts are near the top.
    if depth > 3 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = e.path();
        let Ok(meta) = e.metadata() else { continue };
        if meta.is_dir() {
            if name != "data" {
                collect(&path, depth + 1, out);
            }
        } else if name.ends_with(".rhai") {
            out.push((path, meta.len(), meta.modified().ok()));
        }
    }
}

/// The folder names of the projects under `dir` (for messages).
pub fn project_names(dir: &Path) -> Vec<String> {
    project_dirs(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_and_their_script_edits_are_seen() {
        let dir = tempfile::tempdir().unwrap();
        for p in ["b", "a", ".hidden"] {
            std::fs::create_dir_all(dir.path().join(p)).unwrap();
            std::fs::write(dir.path().join(p).join(SCRIPT), "project(\"x\");").unwrap();
        }
        std::fs::create_dir_all(dir.path().join("no_script")).unwrap();
        let found = project_dirs(dir.path()).unwrap();
        assert_eq!(found, [dir.path().join("a"), dir.path().join("b")]);

        let a = dir.path().join("a");
        let before = Fingerprint::of(&a);
        std::fs::write(a.join("data.csv"), "x").unwrap();
        assert_eq!(Fingerprint::of(&a), before, "data files do not count");
        std::fs::write(a.join("helpers.rhai"), "fn f() { 1 }").unwrap();
        assert_ne!(Fingerprint::of(&a), before, "a new module counts");
    }
}
