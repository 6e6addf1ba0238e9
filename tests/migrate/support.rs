//! A throwaway project folder whose warehouse is SQLite or a throwaway PostgreSQL database,
//! the `etl` binary run in it, and readers for what migrations left in the database.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

use crate::common::PgTestDb;

pub const BIN: &str = env!("CARGO_BIN_EXE_etl");

pub enum Db {
    Sqlite(PathBuf),
    Postgres(Box<PgTestDb>),
}

/// A sandbox with `projects/demo/` (target `warehouse`) and `stdlib/` for shared sets.
pub struct Target {
    dir: tempfile::TempDir,
    pub db: Db,
    options: RefCell<String>,
    task: RefCell<String>,
}

/// Runs `scenario` on SQLite, then on a throwaway PostgreSQL database.
pub fn each_target(name: &str, scenario: impl Fn(&Target)) {
    let sqlite = Target::new(None);
    scenario(&sqlite);
    let pg = PgTestDb::new(&format!("migrate_{name}"));
    scenario(&Target::new(Some(pg)));
}

pub fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The run id the log names (`run_id=...`).
pub fn run_id(stderr: &str) -> String {
    let at = stderr.find("run_id=").expect("a run id in the log") + "run_id=".len();
    stderr[at..]
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

impl Target {
    pub fn new(pg: Option<PgTestDb>) -> Target {
        let dir = tempfile::Builder::new()
            .prefix("etl-migrate-")
            .tempdir()
            .expect("temp dir");
        let (db, url) = match pg {
            Some(pg) => {
                let url = pg.url().to_string();
                (Db::Postgres(Box::new(pg)), url)
            }
            None => (
                Db::Sqlite(dir.path().join("metadata/warehouse.db")),
                "sqlite://metadata/warehouse.db".to_string(),
            ),
        };
        std::fs::write(
            dir.path().join("etl.toml"),
            format!("[env.dev.connections]\nwarehouse = \"{url}\"\n"),
        )
        .expect("etl.toml");
        let t = Target {
            dir,
            db,
            options: RefCell::new(String::new()),
            task: RefCell::new("log_info(\"nothing to do\");".into()),
        };
        t.write_script();
        t
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.db, Db::Postgres(_))
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("writing {}: {e}", p.display()));
    }

    fn write_script(&self) {
        self.write(
            "projects/demo/project.rhai",
            &project_script("demo", &self.options.borrow(), &self.task.borrow()),
        );
    }

    /// More `project()` options (`migrations: #{ ... }`).
    pub fn project_options(&self, options: &str) {
        *self.options.borrow_mut() = options.to_string();
        self.write_script();
    }

    /// The body of the project's one task (`dw` is the warehouse).
    pub fn task(&self, body: &str) {
        *self.task.borrow_mut() = body.to_string();
        self.write_script();
    }

    /// Another project on the same warehouse, with a task that does nothing.
    pub fn second_project(&self, name: &str, options: &str) {
        self.write(
            &format!("projects/{name}/project.rhai"),
            &project_script(name, options, "log_info(\"nothing to do\");"),
        );
    }

    pub fn migration(&self, file: &str, sql: &str) {
        self.write(&format!("projects/demo/migrations/{file}"), sql);
    }

    /// A file of the shared set `etl/SET`.
    pub fn shared(&self, set: &str, file: &str, sql: &str) {
        self.write(&format!("stdlib/migrations/{set}/{file}"), sql);
    }

    pub fn etl(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .env("NO_COLOR", "1");
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("ETL_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("ETL_STDLIB", self.path("stdlib"));
        Run {
            cmd,
            what: format!("etl {}", args.join(" ")),
            status: 0,
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    /// `etl migrate projects/demo ARGS`
    pub fn migrate(&self, args: &[&str]) -> Run {
        let mut all = vec!["migrate", "projects/demo"];
        all.extend(args);
        self.etl(&all)
    }

    /// `etl exec projects/demo/project.rhai ARGS`
    pub fn exec(&self, args: &[&str]) -> Run {
        let mut all = vec!["exec", "projects/demo/project.rhai"];
        all.extend(args);
        self.etl(&all)
    }

    /// `etl_migrations` as SQL names it.
    pub fn table(&self) -> &'static str {
        if self.is_postgres() {
            "etl.etl_migrations"
        } else {
            "etl_migrations"
        }
    }

    /// Rows of a query, values joined by `|` (NULL as `NULL`).
    pub fn rows(&self, sql: &str) -> Vec<String> {
        match &self.db {
            Db::Postgres(pg) => pg
                .query(sql)
                .into_iter()
                .map(|r| {
                    r.into_iter()
                        .map(|v| v.unwrap_or_else(|| "NULL".into()))
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect(),
            Db::Sqlite(path) => sqlite_rows(path, sql),
        }
    }

    pub fn has_table(&self, name: &str) -> bool {
        let sql = if self.is_postgres() {
            format!(
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = 'public' AND table_name = '{name}'"
            )
        } else {
            match &self.db {
                Db::Sqlite(p) if !p.exists() => return false,
                _ => {}
            }
            format!("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{name}'")
        };
        self.rows(&sql) == ["1"]
    }

    /// The names recorded for project `demo`, in name order.
    pub fn recorded(&self) -> Vec<String> {
        self.rows(&format!(
            "SELECT name FROM {} WHERE project = 'demo' ORDER BY name",
            self.table()
        ))
    }
}

fn project_script(name: &str, options: &str, task: &str) -> String {
    format!(
        "project(\"{name}\", #{{ target: \"warehouse\", {options} }});\n\
         let dw = connect(\"warehouse\");\n\
         task(\"work\", |run| {{\n    {task}\n}});\n"
    )
}

fn sqlite_rows(path: &Path, sql: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).expect("open sqlite");
    let mut stmt = conn
        .prepare(sql)
        .unwrap_or_else(|e| panic!("{e}\nSQL: {sql}"));
    let n = stmt.column_count();
    let mut rows = stmt.query([]).expect("query");
    let mut out = Vec::new();
    while let Some(row) = rows.next().expect("row") {
        let cells: Vec<String> = (0..n)
            .map(|i| match row.get_ref(i).expect("value") {
                rusqlite::types::ValueRef::Null => "NULL".to_string(),
                rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                rusqlite::types::ValueRef::Real(v) => v.to_string(),
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                rusqlite::types::ValueRef::Blob(_) => "<blob>".to_string(),
            })
            .collect();
        out.push(cells.join("|"));
    }
    out
}

/// One invocation of the binary and what the test expects of it (default: exit 0).
pub struct Run {
    pub cmd: Command,
    what: String,
    status: i32,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

pub struct Ran {
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn status(mut self, code: i32) -> Self {
        self.status = code;
        self
    }

    pub fn stdout_contains(mut self, text: &str) -> Self {
        self.stdout.push(text.to_string());
        self
    }

    pub fn stderr_contains(mut self, text: &str) -> Self {
        self.stderr.push(text.to_string());
        self
    }

    pub fn run(mut self) -> Ran {
        let Output {
            status,
            stdout,
            stderr,
        } = self.cmd.output().expect("start etl");
        let ran = Ran {
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        };
        let show = format!(
            "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, ran.stdout, ran.stderr
        );
        assert_eq!(status.code(), Some(self.status), "exit code of {show}");
        for s in &self.stdout {
            assert!(ran.stdout.contains(s), "stdout lacks {s:?}: {show}");
        }
        for s in &self.stderr {
            assert!(ran.stderr.contains(s), "stderr lacks {s:?}: {show}");
        }
        ran
    }
}
