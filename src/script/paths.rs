//! `[security] allowed_paths`: when set, every file a script reads or writes (`csv_file`,
//! `run_file`, `send_email` attachments, `import`s of the project's modules) must be inside one
//! of the listed folders, the project's own folder, or the project's output folder
//! (docs/operations.md#trust-model). Paths are compared as the file system resolves them, so
//! neither `..` nor a symbolic link leads out.

use std::path::{Component, Path, PathBuf};

use crate::config::Config;

/// The folders a script's files must be in.
#[derive(Clone, Debug)]
pub struct Fence {
    /// From etl.toml, absolute (resolved against the file's folder), as written.
    allowed: Vec<PathBuf>,
    /// Always allowed: the project's own folder (its data, SQL files and modules).
    project_dir: PathBuf,
    /// Where the setting is, for the message.
    setting: String,
}

impl Fence {
    /// None when `[security] allowed_paths` is not set: scripts may use any file.
    pub fn from_config(config: &Config, project_dir: &Path) -> Option<Fence> {
        let allowed = config.allowed_paths.clone()?;
        let file = config
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| crate::config::FILE_NAME.to_string());
        Some(Fence {
            allowed,
            project_dir: project_dir.to_path_buf(),
            setting: format!("[security] allowed_paths in {file}"),
        })
    }

    /// `path` (absolute) as the file system resolves it, when it lies inside an allowed folder
    /// or `also` (the run's output folder, inside a task); the refusal otherwise.
    pub fn check(&self, path: &Path, also: Option<&Path>) -> Result<PathBuf, String> {
        let real = resolve(path).ok_or_else(|| {
            format!(
                "{} cannot be checked against {}: '..' after a folder that does not exist",
                path.display(),
                self.setting
            )
        })?;
        let roots = self
            .allowed
            .iter()
            .chain(std::iter::once(&self.project_dir))
            .map(PathBuf::as_path)
            .chain(also);
        // A folder that does not exist holds no file: it simply allows nothing yet.
        if roots
            .filter_map(|r| std::fs::canonicalize(r).ok())
            .any(|root| real.starts_with(root))
        {
            return Ok(real);
        }
        let listed: Vec<String> = self
            .allowed
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        Err(format!(
            "{} is outside the folders scripts may use ({}: {}; and the project's folder {}); \
             add its folder to allowed_paths to allow it",
            real.display(),
            self.setting,
            if listed.is_empty() {
                "none".to_string()
            } else {
                listed.join(", ")
            },
            self.project_dir.display()
        ))
    }
}

/// The path with every symbolic link and `..` resolved: the longest part that exists is
/// canonicalised, the rest (which does not exist yet, say a file about to be written) is
/// appended. None when `..` follows a part that does not exist.
fn resolve(path: &Path) -> Option<PathBuf> {
    let mut rest = Vec::new();
    let mut base = path;
    loop {
        if let Ok(real) = std::fs::canonicalize(base) {
            let mut out = real;
            for c in rest.iter().rev() {
                match c {
                    Component::Normal(name) => out.push(name),
                    Component::CurDir => {}
                    _ => return None,
                }
            }
            return Some(out);
        }
        rest.push(base.components().next_back()?);
        base = base.parent()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fence(root: &Path, allowed: &[&str]) -> Fence {
        Fence {
            allowed: allowed.iter().map(|a| root.join(a)).collect(),
            project_dir: root.join("projects/p"),
            setting: "[security] allowed_paths in etl.toml".into(),
        }
    }

    #[test]
    fn files_inside_the_listed_folders_and_the_project_are_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["data", "projects/p/sql", "secret"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("data/a.csv"), "x").unwrap();
        let f = fence(root, &["data"]);
        let real = |p: &str| std::fs::canonicalize(root).unwrap().join(p);
        assert_eq!(
            f.check(&root.join("data/a.csv"), None).unwrap(),
            real("data/a.csv")
        );
        // Not there yet (a file to be written) is fine inside an allowed folder.
        assert_eq!(
            f.check(&root.join("data/new.csv"), None).unwrap(),
            real("data/new.csv")
        );
        assert!(f.check(&root.join("projects/p/sql/x.sql"), None).is_ok());
        let err = f.check(&root.join("secret/a.csv"), None).unwrap_err();
        assert!(
            err.contains("secret/a.csv is outside the folders scripts may use")
                && err.contains("[security] allowed_paths in etl.toml"),
            "{err}"
        );
        assert!(f
            .check(&root.join("secret/a.csv"), Some(&root.join("secret")))
            .is_ok());
    }

    #[test]
    fn dot_dot_and_symbolic_links_do_not_lead_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["data", "secret"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("secret/s.csv"), "x").unwrap();
        let f = fence(root, &["data"]);
        assert!(f.check(&root.join("data/../secret/s.csv"), None).is_err());
        assert!(f
            .check(&root.join("data/missing/../../secret/s.csv"), None)
            .is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("secret"), root.join("data/link")).unwrap();
            std::os::unix::fs::symlink(root.join("secret/s.csv"), root.join("data/s.csv")).unwrap();
            assert!(f.check(&root.join("data/link/s.csv"), None).is_err());
            assert!(f.check(&root.join("data/s.csv"), None).is_err());
        }
    }
}
