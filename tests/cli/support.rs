//! The test harness: a throwaway folder with its own `etl.toml`, a builder that runs the real
//! `etl` binary in it (in the style of casey/just's `Test`), and readers for what a run leaves
//! behind: the SQLite warehouse, the audit table, logs and output files.
//!
//! ```ignore
//! let s = Sandbox::with_project("load_full");
//! s.exec("load_full").stderr_contains("Run succeeded").run();
//! assert_eq!(s.warehouse().count("items"), 3);
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use rusqlite::types::ValueRef;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_etl");

/// The configuration every sandbox starts with: the embedded SQLite warehouse in metadata/.
pub const ETL_TOML: &str =
    "[env.dev.connections]\nwarehouse = \"sqlite://metadata/warehouse.db\"\n";

/// The repository root (fixtures and the shipped demo live under it).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temporary working directory holding `etl.toml` and `projects/NAME/` copies, so tests run
/// in parallel without sharing any file.
pub struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("etl-cli-")
            .tempdir()
            .expect("temp dir");
        let s = Sandbox { dir };
        s.write("etl.toml", ETL_TOML);
        s
    }

    /// A sandbox with `tests/projects/CASE` copied to `projects/CASE`.
    pub fn with_project(case: &str) -> Sandbox {
        let s = Sandbox::new();
        s.add_project(&repo().join("tests/projects").join(case), case);
        s
    }

    /// A sandbox with the shipped demo (`projects/demo`) copied in.
    pub fn with_demo() -> Sandbox {
        let s = Sandbox::new();
        s.add_project(&repo().join("projects/demo"), "demo");
        s
    }

    pub fn add_project(&self, from: &Path, name: &str) {
        copy_dir(from, &self.path(&format!("projects/{name}")));
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: impl AsRef<[u8]>) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("writing {}: {e}", p.display()));
    }

    pub fn read(&self, rel: &str) -> String {
        let p = self.path(rel);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    /// File names in a folder of the sandbox, sorted (empty when it does not exist).
    pub fn files_in(&self, rel: &str) -> Vec<String> {
        let mut names: Vec<String> = match std::fs::read_dir(self.path(rel)) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }

    /// `etl ARGS...` run in the sandbox.
    pub fn etl(&self, args: &[&str]) -> Run<'_> {
        Run::new(self).args(args)
    }

    /// `etl exec projects/NAME/project.rhai`
    pub fn exec(&self, project: &str) -> Run<'_> {
        self.etl(&["exec", &script(project)])
    }

    /// `etl check projects/NAME/project.rhai`
    pub fn check(&self, project: &str) -> Run<'_> {
        self.etl(&["check", &script(project)])
    }

    /// Every log file of a project, concatenated in name (= time) order.
    pub fn logs(&self, project: &str) -> String {
        let dir = format!("metadata/logs/{project}");
        let files = self.files_in(&dir);
        assert!(!files.is_empty(), "no log file in {dir}");
        files
            .iter()
            .map(|f| self.read(&format!("{dir}/{f}")))
            .collect::<Vec<_>>()
            .join("")
    }

    /// The default warehouse, `metadata/warehouse.db`.
    pub fn warehouse(&self) -> Warehouse {
        self.sqlite("metadata/warehouse.db")
    }

    pub fn sqlite(&self, rel: &str) -> Warehouse {
        let path = self.path(rel);
        assert!(path.exists(), "{} does not exist", path.display());
        Warehouse {
            conn: rusqlite::Connection::open(&path).expect("open sqlite"),
        }
    }
}

/// The project script path as a user types it, relative to the working directory.
pub fn script(project: &str) -> String {
    format!("projects/{project}/project.rhai")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// One invocation of the binary: arguments, environment, and what the test expects of it.
/// `run()` checks the expectations and returns the output; the default expectation is exit 0.
pub struct Run<'a> {
    sandbox: &'a Sandbox,
    args: Vec<String>,
    env: Vec<(String, String)>,
    status: i32,
    stdout_contains: Vec<String>,
    stderr_contains: Vec<String>,
    stderr_lacks: Vec<String>,
}

/// What a finished run printed.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl<'a> Run<'a> {
    fn new(sandbox: &'a Sandbox) -> Run<'a> {
        Run {
            sandbox,
            args: Vec::new(),
            env: Vec::new(),
            status: 0,
            stdout_contains: Vec::new(),
            stderr_contains: Vec::new(),
            stderr_lacks: Vec::new(),
        }
    }

    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_string());
        self
    }

    pub fn args(mut self, a: &[&str]) -> Self {
        self.args.extend(a.iter().map(|s| s.to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The expected exit code (default 0).
    pub fn status(mut self, code: i32) -> Self {
        self.status = code;
        self
    }

    pub fn stdout_contains(mut self, text: &str) -> Self {
        self.stdout_contains.push(text.to_string());
        self
    }

    pub fn stderr_contains(mut self, text: &str) -> Self {
        self.stderr_contains.push(text.to_string());
        self
    }

    pub fn stderr_lacks(mut self, text: &str) -> Self {
        self.stderr_lacks.push(text.to_string());
        self
    }

    /// The command as it will be started: the sandbox is the working directory and no
    /// `ETL_*` variable of the outer environment leaks in.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(&self.args)
            .current_dir(self.sandbox.root())
            .stdin(Stdio::null());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("ETL_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("NO_COLOR", "1");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(self) -> Ran {
        let Output {
            status,
            stdout,
            stderr,
        } = self.command().output().expect("start etl");
        let ran = Ran {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        };
        let what = format!("etl {}", self.args.join(" "));
        let show = || {
            format!(
                "--- stdout ---\n{}\n--- stderr ---\n{}",
                ran.stdout, ran.stderr
            )
        };
        assert_eq!(
            ran.code,
            Some(self.status),
            "{what}: unexpected exit code\n{}",
            show()
        );
        for t in &self.stdout_contains {
            assert!(
                ran.stdout.contains(t.as_str()),
                "{what}: stdout lacks {t:?}\n{}",
                show()
            );
        }
        for t in &self.stderr_contains {
            assert!(
                ran.stderr.contains(t.as_str()),
                "{what}: stderr lacks {t:?}\n{}",
                show()
            );
        }
        for t in &self.stderr_lacks {
            assert!(
                !ran.stderr.contains(t.as_str()),
                "{what}: stderr has {t:?}\n{}",
                show()
            );
        }
        ran
    }
}

/// A SQLite database a run wrote, read back with rusqlite.
pub struct Warehouse {
    pub conn: rusqlite::Connection,
}

/// A record of `etl_runs`.
#[derive(Clone, Debug)]
pub struct AuditRow {
    pub run_id: String,
    pub project: String,
    pub task: String,
    pub status: String,
    pub load_type: String,
    pub environment: String,
    pub target_table: Option<String>,
    pub previous_max_date: Option<String>,
    pub data_max_date: Option<String>,
    pub number_of_records: Option<i64>,
    pub error_message: Option<String>,
}

impl Warehouse {
    /// Every value of a query as text (NULL stays None): integers and reals in their decimal
    /// form, text as stored.
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let mut stmt = self
            .conn
            .prepare(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let width = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..width)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            ValueRef::Null => None,
                            ValueRef::Integer(n) => Some(n.to_string()),
                            ValueRef::Real(f) => Some(f.to_string()),
                            ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                            ValueRef::Blob(b) => Some(format!("{b:?}")),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.collect::<rusqlite::Result<_>>()
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    pub fn scalar_i64(&self, sql: &str) -> i64 {
        self.conn
            .query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    pub fn count(&self, table: &str) -> i64 {
        self.scalar_i64(&format!("SELECT count(*) FROM \"{table}\""))
    }

    pub fn table_exists(&self, table: &str) -> bool {
        self.scalar_i64(&format!(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
        )) == 1
    }

    /// Column names of a table, in order.
    pub fn columns(&self, table: &str) -> Vec<String> {
        self.rows(&format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        ))
        .into_iter()
        .map(|r| r[0].clone().expect("name"))
        .collect()
    }

    /// The audit table in insertion order.
    pub fn audit(&self) -> Vec<AuditRow> {
        self.audit_table("etl_runs")
    }

    /// An audit table by name (a sample run keeps its own, `SCRATCH__etl_runs`), or nothing
    /// when it does not exist.
    pub fn audit_table(&self, name: &str) -> Vec<AuditRow> {
        if !self.table_exists(name) {
            return Vec::new();
        }
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT run_id, project, task, status, load_type, environment, target_table, previous_max_date, \
                 data_max_date, number_of_records, error_message FROM \"{name}\" ORDER BY id",
            ))
            .expect("audit table exists");
        let rows = stmt
            .query_map([], |r| {
                Ok(AuditRow {
                    run_id: r.get(0)?,
                    project: r.get(1)?,
                    task: r.get(2)?,
                    status: r.get(3)?,
                    load_type: r.get(4)?,
                    environment: r.get(5)?,
                    target_table: r.get(6)?,
                    previous_max_date: r.get(7)?,
                    data_max_date: r.get(8)?,
                    number_of_records: r.get(9)?,
                    error_message: r.get(10)?,
                })
            })
            .expect("query etl_runs");
        rows.collect::<rusqlite::Result<_>>()
            .expect("read etl_runs")
    }

    /// Audit records of loads into `table`.
    pub fn audit_of(&self, table: &str) -> Vec<AuditRow> {
        self.audit()
            .into_iter()
            .filter(|r| r.target_table.as_deref() == Some(table))
            .collect()
    }
}

/// Parses CSV text with PostgreSQL's convention: an unquoted empty field is NULL (None), a
/// quoted one (`""`) is the empty string; quotes escape by doubling, quoted fields may hold
/// delimiters and line breaks. Returns the header and the records.
fn end_field(record: &mut Vec<Option<String>>, field: &mut String, quoted: &mut bool) {
    let f = std::mem::take(field);
    record.push(if f.is_empty() && !*quoted {
        None
    } else {
        Some(f)
    });
    *quoted = false;
}

pub fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let mut records: Vec<Vec<Option<String>>> = Vec::new();
    let mut record: Vec<Option<String>> = Vec::new();
    let mut field = String::new();
    let mut quoted = false; // the current field was quoted
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                in_quotes = true;
                quoted = true;
            }
            ',' => end_field(&mut record, &mut field, &mut quoted),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                end_field(&mut record, &mut field, &mut quoted);
                records.push(std::mem::take(&mut record));
            }
            c => field.push(c),
        }
    }
    assert!(!in_quotes, "unterminated quote in the test's own CSV");
    if !field.is_empty() || quoted || !record.is_empty() {
        end_field(&mut record, &mut field, &mut quoted);
        records.push(record);
    }
    let mut it = records.into_iter();
    let header = it
        .next()
        .unwrap_or_default()
        .into_iter()
        .map(|h| h.unwrap_or_default())
        .collect();
    (header, it.collect())
}

/// Waits until `path` exists and contains `needle` (the child process's log), or panics after
/// a generous bound (a hang guard, not a timing assertion).
pub fn wait_for_text(
    path_in: impl Fn() -> Option<PathBuf>,
    needle: &str,
    child: &mut std::process::Child,
) -> PathBuf {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        if let Some(p) = path_in() {
            if std::fs::read_to_string(&p).is_ok_and(|t| t.contains(needle)) {
                return p;
            }
        }
        if let Some(status) = child.try_wait().expect("poll child") {
            panic!("etl exited ({status}) before logging {needle:?}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{needle:?} never appeared in the log"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
