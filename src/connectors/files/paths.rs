//! Which files a path names: one file, or every file a glob (`data/orders_*.csv.gz`) matches,
//! in a stable order so that two runs over the same files read the same rows in the same order.

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::remote::Object;
use super::Compression;

/// One file to read: where it is, and how messages (and `file_column`) name it.
#[derive(Clone, Debug)]
pub struct FileRef {
    /// The local path (for an object, its URL).
    pub path: PathBuf,
    /// The name as the script wrote it (a glob's match keeps the script's relative prefix).
    pub display: String,
    /// Set when the file is an object in object storage.
    pub object: Option<Arc<Object>>,
}

impl FileRef {
    pub fn local(path: PathBuf, display: String) -> FileRef {
        FileRef {
            path,
            display,
            object: None,
        }
    }

    /// The file's bytes, decompressed as `compression` says or else as its name does.
    pub fn open(&self, compression: Option<Compression>) -> std::io::Result<Box<dyn Read + Send>> {
        let c = compression.unwrap_or_else(|| Compression::from_name(&self.display));
        match &self.object {
            Some(object) => Ok(c.reader(object.reader())),
            None => c.open(&self.path),
        }
    }
}

fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The files `resolved` names: itself when it holds no wildcard (whether it exists is the
/// reader's to say, with the reader's message), every match of the glob otherwise, sorted by
/// path. `display` is the same path as the script wrote it; each match is named by it.
pub fn expand(resolved: &Path, display: &str) -> Result<Vec<FileRef>, String> {
    if !is_pattern(display) {
        return Ok(vec![FileRef::local(
            resolved.to_path_buf(),
            display.to_string(),
        )]);
    }
    let text = resolved
        .to_str()
        .ok_or_else(|| format!("the pattern {} is not valid UTF-8", resolved.display()))?;
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        // `*.csv` does not pick up editor or tool leftovers such as `.orders.csv.swp`.
        require_literal_leading_dot: true,
    };
    let matches = glob::glob_with(text, options).map_err(|e| {
        format!(
            "invalid file pattern '{display}': {} at character {}",
            e.msg, e.pos
        )
    })?;
    let (fixed_resolved, fixed_display) =
        (fixed_prefix(resolved), fixed_prefix(Path::new(display)));
    let mut files = Vec::new();
    for m in matches {
        let path = m.map_err(|e| format!("cannot list files for '{display}': {e}"))?;
        if !path.is_file() {
            continue;
        }
        let tail = path.strip_prefix(&fixed_resolved).unwrap_or(&path);
        let shown = fixed_display.join(tail);
        files.push(FileRef::local(path, shown.to_string_lossy().into_owned()));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    if files.is_empty() {
        return Err(format!(
            "no file matches '{display}' (looked for {text}); check the folder and the pattern"
        ));
    }
    Ok(files)
}

/// The leading folders of a pattern, before the first part with a wildcard.
fn fixed_prefix(pattern: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in pattern.components() {
        if let Component::Normal(part) = c {
            if is_pattern(&part.to_string_lossy()) {
                break;
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_files_in_sorted_order_named_as_the_script_wrote_them() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw");
        std::fs::create_dir_all(raw.join("2024-01-02.csv")).unwrap(); // a folder, not a file
        for name in ["b.csv", "a.csv.gz", "c.txt", ".a.csv", "a10.csv", "a2.csv"] {
            std::fs::write(raw.join(name), "x\n").unwrap();
        }
        let files = expand(&raw.join("*.csv*"), "raw/*.csv*").unwrap();
        let shown: Vec<_> = files.iter().map(|f| f.display.as_str()).collect();
        assert_eq!(
            shown,
            ["raw/a.csv.gz", "raw/a10.csv", "raw/a2.csv", "raw/b.csv"]
        );
        assert_eq!(files[0].path, raw.join("a.csv.gz"));

        let one = expand(&raw.join("b.csv"), "raw/b.csv").unwrap();
        assert_eq!(
            (one.len(), &one[0].path, one[0].display.as_str()),
            (1, &raw.join("b.csv"), "raw/b.csv")
        );

        let err = expand(&raw.join("*.json"), "raw/*.json").unwrap_err();
        assert!(err.starts_with("no file matches 'raw/*.json'"), "{err}");
    }
}
