//! `.env`: variables for connections and secrets, read from the folder of `etl.toml` (or the
//! working directory when there is none) into the configuration, never into the process
//! environment: the scheduler reloads configurations while runs are going on other threads,
//! where changing the environment is undefined behaviour. The real environment wins over the
//! file ([`crate::config::Config::var`]).
//!
//! The syntax is dotenvy's (`KEY=value`, `export KEY=value`, quotes, `#` comments, `${VAR}`).
//! A line that cannot be read is a warning naming the file, line and problem, and the lines
//! after it are read; a file that cannot be read at all (not UTF-8, unreadable, or a quote left
//! open that swallows the rest of the file) is a configuration error.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = ".env";

/// The variables of one `.env` file (empty when there is none).
#[derive(Clone, Default)]
pub struct DotEnv {
    pub path: Option<PathBuf>,
    vars: BTreeMap<String, String>,
}

/// Names only: values are often passwords.
impl fmt::Debug for DotEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DotEnv")
            .field("path", &self.path)
            .field("names", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A value from `.env` that must never be shown (a password).
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// What reading a `.env` found besides its variables: lines skipped, each with its place.
#[derive(Debug, Default)]
pub struct Read {
    pub dotenv: DotEnv,
    pub warnings: Vec<String>,
}

impl DotEnv {
    /// Reads `dir/.env`; no file is no variable.
    pub fn read(dir: &Path) -> Result<Read, String> {
        let path = dir.join(FILE_NAME);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Read::default()),
            Err(e) => return Err(format!("{}: cannot read it: {e}", path.display())),
        };
        let text = String::from_utf8(bytes).map_err(|e| {
            format!(
                "{}: not UTF-8 text (at byte {}): save it as UTF-8",
                path.display(),
                e.utf8_error().valid_up_to()
            )
        })?;
        let (vars, warnings) = parse(&text).map_err(|e| format!("{}:{e}", path.display()))?;
        Ok(Read {
            dotenv: DotEnv {
                path: Some(path.clone()),
                vars,
            },
            warnings: warnings
                .into_iter()
                .map(|w| format!("{}:{w}", path.display()))
                .collect(),
        })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    pub fn secret(&self, name: &str) -> Option<Secret> {
        self.get(name).map(|v| Secret(v.to_string()))
    }
}

/// The variables (the first of a name wins, as before) and the lines skipped as
/// `LINE:COL: problem`; or the error that stops the reading, in the same form.
type Parsed = (BTreeMap<String, String>, Vec<String>);

fn parse(text: &str) -> Result<Parsed, String> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let offset = text.len() - body.len();
    let mut vars = BTreeMap::new();
    let mut warnings = Vec::new();
    // Where the reading is in the text: each item is found after the previous one.
    let mut cursor = offset;
    for item in dotenvy::from_read_iter(body.as_bytes()) {
        match item {
            Ok((key, value)) => {
                if let Some(at) = find_key(text, cursor, &key) {
                    cursor = at + key.len();
                }
                vars.entry(key).or_insert(value);
            }
            Err(dotenvy::Error::LineParse(line, index)) => {
                let at = text[cursor..]
                    .find(line.as_str())
                    .map(|i| cursor + i)
                    .unwrap_or(cursor);
                let shown: String = line
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(60)
                    .collect();
                if line.trim_end().contains('\n') {
                    // Reported at the quote that opened the value.
                    let quote = line
                        .char_indices()
                        .position(|(_, c)| c == '"' || c == '\'')
                        .unwrap_or(0);
                    let (row, col) = position(text, at, &line, quote);
                    return Err(format!(
                        "{row}:{col}: a quote opened here is never closed, so the rest of the file cannot be read (`{shown}`...): close the quote"
                    ));
                }
                let (row, col) = position(text, at, &line, index);
                warnings.push(format!(
                    "{row}:{col}: this line is not KEY=VALUE and is skipped (`{shown}`): quote a value with spaces or special characters (KEY=\"a value\"), or start a comment with #"
                ));
                cursor = at + line.len();
            }
            Err(e) => return Err(format!("1:1: {e}")),
        }
    }
    Ok((vars, warnings))
}

/// Where `key` is defined at or after `from`: at the start of a line, maybe after `export `.
fn find_key(text: &str, from: usize, key: &str) -> Option<usize> {
    let mut start = from;
    while let Some(i) = text[start..].find(key) {
        let at = start + i;
        let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
        let before = text[line_start..at].trim();
        if before.is_empty() || before == "export" {
            return Some(at);
        }
        start = at + key.len();
    }
    None
}

/// Line and column (1-based) of character `index` of `line`, which starts at byte `at`.
fn position(text: &str, at: usize, line: &str, index: usize) -> (usize, usize) {
    let byte = at
        + line
            .char_indices()
            .nth(index)
            .map_or(line.len(), |(b, _)| b);
    let byte = byte.min(text.len());
    let row = text[..byte].matches('\n').count() + 1;
    let line_start = text[..byte].rfind('\n').map_or(0, |n| n + 1);
    (row, text[line_start..byte].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_read_and_bad_lines_are_skipped_with_their_place() {
        let (vars, warnings) = parse(
            "# a comment\nA=1\nexport B='two words'\nthis is not a variable\nC=\"x\"\nA=again\n",
        )
        .unwrap();
        assert_eq!(vars.get("A").map(String::as_str), Some("1"));
        assert_eq!(vars.get("B").map(String::as_str), Some("two words"));
        assert_eq!(vars.get("C").map(String::as_str), Some("x"));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("4:")
                && warnings[0]
                    .contains("is not KEY=VALUE and is skipped (`this is not a variable`)"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_quote_left_open_is_an_error_at_its_line() {
        let e = parse("A=1\nB=\"open\nC=3\nD=4\n").unwrap_err();
        assert!(
            e.starts_with("2:3:") && e.contains("a quote opened here is never closed"),
            "{e}"
        );
    }

    /// The scheduler loads configurations while runs go on other threads: loading one must
    /// leave the process environment as it was.
    #[test]
    fn loading_a_configuration_does_not_change_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("etl.toml"), "[env.dev.connections]\n").unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            "ETL_CONN_DOTENV_ONLY_7F3A=sqlite:///x.db\n",
        )
        .unwrap();
        let config = crate::config::Config::load(None, Some(dir.path()), Some("dev")).unwrap();
        assert_eq!(
            config.connection_url("dotenv_only_7f3a").unwrap(),
            "sqlite:///x.db"
        );
        assert!(std::env::var_os("ETL_CONN_DOTENV_ONLY_7F3A").is_none());
    }

    #[test]
    fn a_missing_or_unreadable_file() {
        let dir = tempfile::tempdir().unwrap();
        let none = DotEnv::read(dir.path()).unwrap();
        assert!(none.dotenv.path.is_none() && none.warnings.is_empty());
        std::fs::write(dir.path().join(FILE_NAME), b"A=\xff\n").unwrap();
        let e = DotEnv::read(dir.path()).unwrap_err();
        assert!(e.contains(".env: not UTF-8"), "{e}");
        std::fs::write(dir.path().join(FILE_NAME), "PASSWORD=hunter2\n").unwrap();
        let read = DotEnv::read(dir.path()).unwrap();
        assert!(!format!("{:?}", read.dotenv).contains("hunter2"));
        assert_eq!(format!("{:?}", read.dotenv.secret("PASSWORD")), "Some(***)");
    }
}
