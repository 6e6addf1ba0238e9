//! The bad-input corpus's fixture: a project `corpus` whose script a test writes, a warehouse
//! (SQLite or PostgreSQL) seeded with a table `items` by a good load, and the checks every
//! case ends with: the exit code, the error with its location on the console and in the audit
//! record, and the target exactly as it was.

use crate::rig::{Ran, Sandbox};
use crate::warehouse::Warehouse;

pub struct Corpus {
    pub sandbox: Sandbox,
    pub dw: Warehouse,
}

/// The seed: three good rows, the table every failing case must leave as it is.
pub const SEED: &str = "id,name,qty\n1,pen,10\n2,ink,20\n3,pad,30\n";

impl Corpus {
    /// A sandbox whose `items` holds [`SEED`], loaded with key `id`.
    pub fn new(dw: Warehouse) -> Corpus {
        Corpus::with_connections(dw, &[])
    }

    /// Like [`Corpus::new`], with more connections (name, URL).
    pub fn with_connections(dw: Warehouse, more: &[(&str, &str)]) -> Corpus {
        let mut sandbox = Sandbox::new().connection("warehouse", &dw.url());
        for (name, url) in more {
            sandbox = sandbox.connection(name, url);
        }
        let c = Corpus { sandbox, dw };
        c.file("seed.csv", SEED);
        c.script(
            r#"task("seed", |run| dw.load(#{ from: csv_file("data/seed.csv"), into: "items", key: ["id"] }));"#,
        );
        c.run(&[]).ok();
        c
    }

    /// Writes `projects/corpus/project.rhai`: the project, `dw` for the warehouse, then `body`.
    pub fn script(&self, body: &str) {
        self.sandbox.write(
            "projects/corpus/project.rhai",
            format!("project(\"corpus\");\nlet dw = connect(\"warehouse\");\n{body}\n"),
        );
    }

    pub fn file(&self, name: &str, content: impl AsRef<[u8]>) {
        self.sandbox
            .write(&format!("projects/corpus/data/{name}"), content);
    }

    pub fn run(&self, args: &[&str]) -> Ran {
        self.sandbox.exec("corpus", args)
    }

    pub fn fingerprint(&self) -> String {
        self.dw.fingerprint("items")
    }

    /// Runs `args`, expecting exit code `code` and every fragment of `error` on the console;
    /// then the audit's last record of the load into `items` is `failed` with the first fragment (the
    /// location), `items` is unchanged and no load table is left.
    pub fn fails(&self, case: &str, args: &[&str], code: i32, error: &[&str]) -> Ran {
        self.fails_on(case, "items", args, code, error)
    }

    /// [`Corpus::fails`] for a load into `table` (`items` is still checked unchanged).
    pub fn fails_on(
        &self,
        case: &str,
        table: &str,
        args: &[&str],
        code: i32,
        error: &[&str],
    ) -> Ran {
        let before = self.fingerprint();
        let last = self.dw.last_audit_id();
        let ran = self.run(args);
        assert_eq!(ran.code, Some(code), "{case}: exit code\n{}", ran.output);
        for fragment in error {
            assert!(
                ran.output.contains(fragment),
                "{case}: expected {fragment:?} in:\n{}",
                ran.output
            );
        }
        assert_eq!(self.fingerprint(), before, "{case}: items changed");
        assert_eq!(self.dw.leftovers(), Vec::<String>::new(), "{case}");
        let records = self.dw.audit_after(last);
        if code == 1 {
            // A source failing while its columns are read (a CSV header or type-sample error)
            // fails before the load's record exists: the task's record holds the error then
            // (see `a_source_failing_before_the_load_has_no_record_of_its_table`).
            let recorded = records.iter().any(|r| {
                r.target_table.as_deref().is_none_or(|t| t == table)
                    && r.status == "failed"
                    && r.error_message
                        .as_deref()
                        .unwrap_or_default()
                        .contains(error[0])
            });
            assert!(
                recorded,
                "{case}: no failed audit record saying {:?}: {records:#?}",
                error[0]
            );
        } else {
            assert_eq!(
                records.len(),
                0,
                "{case}: a run refused before any task left records"
            );
        }
        ran
    }
}
