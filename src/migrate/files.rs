//! A set of migrations on disk: `migrations/NNN_name.sql` applied in numeric order, with
//! optional per-dialect variants (`NNN_name.postgres.sql`). Bad names stop everything before
//! any database is touched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::connectors::dialect::dialect_suffix;
use crate::connectors::Dialect;

/// The migrations of one folder, recorded under `project` (`demo`, or `etl/NAME` for a
/// shared set).
#[derive(Clone, Debug)]
pub struct MigrationSet {
    pub project: String,
    pub dir: PathBuf,
    /// In the order they apply.
    pub migrations: Vec<Migration>,
}

#[derive(Clone, Debug)]
pub struct Migration {
    pub number: u64,
    /// The file name without dialect and `.sql` (`001_create_summary`): the record's key.
    pub name: String,
    /// The files of this migration: the portable one (None) and per-dialect variants.
    pub files: Vec<(Option<Dialect>, PathBuf)>,
}

/// The chosen file of a migration for one dialect, with its text and checksum.
#[derive(Clone, Debug)]
pub struct Chosen {
    /// As it is recorded and shown: relative to the set's folder's parent
    /// (`migrations/001_x.postgres.sql`).
    pub file: String,
    pub sql: String,
    pub checksum: String,
}

impl Migration {
    /// The file this migration runs on `dialect`, read and checksummed.
    pub fn choose(&self, dialect: Dialect, base_dir: &Path) -> Result<Chosen, String> {
        let path = self
            .files
            .iter()
            .find(|(d, _)| *d == Some(dialect))
            .or_else(|| self.files.iter().find(|(d, _)| d.is_none()))
            .map(|(_, p)| p)
            .ok_or_else(|| {
                let have: Vec<String> = self
                    .files
                    .iter()
                    .map(|(_, p)| p.display().to_string())
                    .collect();
                format!(
                    "migration {} has no file for {dialect}: only {} exists; add {}.{dialect}.sql \
                     or a portable {}.sql",
                    self.name,
                    have.join(", "),
                    self.name,
                    self.name
                )
            })?;
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let sql = String::from_utf8(bytes.clone())
            .map_err(|_| format!("{}: the file is not UTF-8 text", path.display()))?;
        let file = path
            .strip_prefix(base_dir)
            .unwrap_or(path)
            .display()
            .to_string();
        Ok(Chosen {
            file,
            sql,
            checksum: checksum(&bytes),
        })
    }
}

/// The sha256 of a file's bytes, in hex.
pub fn checksum(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads the migrations of `dir` (none when the folder does not exist). Two migrations with
/// one number, or a `.sql` file without a number, is an error naming the files.
pub fn read_set(project: &str, dir: &Path) -> Result<MigrationSet, String> {
    let mut set = MigrationSet {
        project: project.to_string(),
        dir: dir.to_path_buf(),
        migrations: Vec::new(),
    };
    if !dir.is_dir() {
        return Ok(set);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut by_number: BTreeMap<u64, Migration> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    for path in paths {
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let Some(stem) = file_name.strip_suffix(".sql") else {
            continue;
        };
        let (name, dialect) = dialect_suffix(stem);
        let digits: String = name.chars().take_while(|c| c.is_ascii_digit()).collect();
        let number = match (digits.parse::<u64>(), name[digits.len()..].starts_with('_')) {
            (Ok(n), true) if name.len() > digits.len() + 1 => n,
            _ => {
                problems.push(format!(
                    "{}: a migration's name starts with its number and an underscore \
                     (NNN_name.sql, e.g. 001_{})",
                    path.display(),
                    name.trim_start_matches(|c: char| c.is_ascii_digit() || c == '_')
                ));
                continue;
            }
        };
        let entry = by_number.entry(number).or_insert_with(|| Migration {
            number,
            name: name.to_string(),
            files: Vec::new(),
        });
        if entry.name != name {
            problems.push(format!(
                "{} and {}: two migrations are numbered {number}; give one of them a new number",
                entry.files[0].1.display(),
                path.display()
            ));
            continue;
        }
        entry.files.push((dialect, path));
    }
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    set.migrations = by_number.into_values().collect();
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str) {
        std::fs::write(dir.join(name), "SELECT 1;").unwrap();
    }

    #[test]
    fn files_apply_in_numeric_order_with_their_dialect_variants() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["10_b.sql", "9_a.sql", "9_a.postgres.sql", "README.md"] {
            write(dir.path(), f);
        }
        let set = read_set("p", dir.path()).unwrap();
        let names: Vec<&str> = set.migrations.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["9_a", "10_b"]);
        let pg = set.migrations[0]
            .choose(Dialect::Postgres, dir.path())
            .unwrap();
        assert_eq!(pg.file, "9_a.postgres.sql");
        let lite = set.migrations[0]
            .choose(Dialect::Sqlite, dir.path())
            .unwrap();
        assert_eq!(lite.file, "9_a.sql");
        assert_eq!(lite.checksum.len(), 64);
    }

    #[test]
    fn a_number_used_twice_or_missing_names_the_files() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["001_a.sql", "001_b.sql", "fix.sql"] {
            write(dir.path(), f);
        }
        let e = read_set("p", dir.path()).unwrap_err();
        assert!(e.contains("001_a.sql") && e.contains("001_b.sql"), "{e}");
        assert!(e.contains("fix.sql") && e.contains("NNN_name.sql"), "{e}");
    }
}
