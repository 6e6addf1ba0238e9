//! The files a session watches: those the project is made of or reads, the configuration,
//! and new scripts beside them; an event counts only when a file's content changed.

use std::path::{Path, PathBuf};

use notify::RecursiveMode;

use super::files::FileWatcher;
use super::fingerprint::hash_text;
use super::session::Session;

impl Session {
    /// The files a compiled version was made of: their hashes now, and folders to watch.
    pub(super) fn remember_sources(&mut self) {
        let Some(p) = &self.project else { return };
        let names: Vec<String> = p.host.sources.all().into_iter().map(|(n, _)| n).collect();
        for name in names {
            let path = PathBuf::from(&name);
            if path.is_file() {
                self.known
                    .entry(path.clone())
                    .or_insert_with(|| content_hash(&path));
            }
        }
        if let Some(c) = &self.config.path {
            let c = absolute(c);
            self.known
                .entry(c.clone())
                .or_insert_with(|| content_hash(&c));
        }
    }

    pub(super) fn watch_dirs(&self, watcher: &mut FileWatcher) {
        let project_dir = self.project_dir();
        watcher.watch(&project_dir, RecursiveMode::Recursive);
        watcher.watch(&self.stdlib_dir(), RecursiveMode::Recursive);
        if let Some(dir) = self
            .config
            .path
            .as_ref()
            .and_then(|p| absolute(p).parent().map(Path::to_path_buf))
        {
            watcher.watch(&dir, RecursiveMode::NonRecursive);
        }
        for path in self.known.keys() {
            if let Some(dir) = path.parent() {
                watcher.watch(dir, RecursiveMode::NonRecursive);
            }
        }
    }

    /// Whether an event on `path` can matter: a file the project is made of or reads, the
    /// configuration, or a new script or SQL file beside them.
    pub(super) fn relevant(&self, path: &Path) -> bool {
        if path.starts_with(&self.config.metadata_dir) {
            return false;
        }
        if self.known.contains_key(path) {
            return true;
        }
        let script_like = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("rhai" | "sql")
        );
        script_like && (path.starts_with(self.project_dir()) || path.starts_with(self.stdlib_dir()))
    }

    pub(super) fn is_config(&self, path: &Path) -> bool {
        self.config
            .path
            .as_ref()
            .is_some_and(|c| absolute(c) == path)
    }

    /// Keeps the paths whose content differs from what was last seen.
    pub(super) fn changed_files(&mut self, paths: Vec<PathBuf>) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for p in paths {
            let p = absolute(&p);
            if !self.relevant(&p) {
                continue;
            }
            let now = content_hash(&p);
            let before = self.known.insert(p.clone(), now);
            if before != Some(now) {
                out.push(p);
            }
        }
        out
    }
}

pub(super) fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

pub(super) fn content_hash(p: &Path) -> Option<u64> {
    std::fs::read(p)
        .ok()
        .map(|b| hash_text(&String::from_utf8_lossy(&b)))
}

/// A path relative to the working directory when it is under it.
pub(super) fn shorten(p: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(cwd).ok().map(|r| r.display().to_string()))
        .unwrap_or_else(|| p.display().to_string())
}
