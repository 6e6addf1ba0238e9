//! Runaway scripts, with the limits that exist today (`[limits]` in etl.toml): an endless
//! loop stops at `max_operations`, endless recursion at `max_call_levels`, `.rows()` at
//! `max_rows_in_script`. Inside a task the task fails (exit 1) and the others still run; at
//! the top level the script is refused before any task (exit 2); inside a load's `.map` the
//! load rolls back. Memory limits for huge strings and arrays and a per-task timeout are
//! another change's (issue 11 item 2).

use crate::corpus::Corpus;
use crate::warehouse::Warehouse;

const LIMITS: &str =
    "[env.dev.connections]\n[limits]\nmax_operations = 100_000\nmax_rows_in_script = 2\n";

fn corpus() -> Corpus {
    let c = Corpus::new(Warehouse::sqlite());
    c.sandbox.write("etl.toml", LIMITS);
    c
}

/// (case, task body, error): each in a task beside a healthy one.
const IN_A_TASK: &[(&str, &str, &str)] = &[
    ("an endless loop", "let i = 0; loop { i += 1; }", "Too many operations"),
    ("endless recursion", "deep(0)", "Stack overflow"),
    (
        ".rows() past the cap",
        "csv_file(\"data/seed.csv\").rows()",
        ".rows() stops at 2 rows (limits.max_rows_in_script): load the relation instead, or .limit(n) it",
    ),
];

#[test]
fn a_runaway_task_fails_alone() {
    let c = corpus();
    for (case, body, error) in IN_A_TASK {
        c.script(&format!(
            "fn deep(n) {{ deep(n + 1) }}\n\
             task(\"runaway\", |run| {{ {body} }});\n\
             task(\"healthy\", |run| dw.execute(\"CREATE TABLE IF NOT EXISTS healthy (n integer)\"));"
        ));
        let last = c.dw.last_audit_id();
        let ran = c.fails(case, &[], 1, &["projects/corpus/project.rhai:4:", error]);
        let records = c.dw.audit_after(last);
        let status = |task: &str| {
            records
                .iter()
                .filter(|r| r.task == task)
                .map(|r| r.status.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(status("runaway"), ["failed"], "{case}: {records:?}");
        assert_eq!(status("healthy"), ["success"], "{case}:\n{}", ran.output);
    }
}

#[test]
fn a_runaway_top_level_is_refused_before_any_task() {
    let c = corpus();
    // Where the operation limit strikes within the line depends on the count: the line is
    // what is certain.
    let cases = [
        (
            "an endless loop",
            "let i = 0;\nloop { i += 1; }",
            "Too many operations",
        ),
        (
            "endless recursion",
            "fn deep(n) { deep(n + 1) }\ndeep(0);",
            "Stack overflow",
        ),
    ];
    for (case, body, error) in cases {
        c.script(&format!(
            "{body}\ntask(\"t\", |run| dw.execute(\"DROP TABLE items\"));"
        ));
        c.fails(
            case,
            &[],
            2,
            &["error: projects/corpus/project.rhai:4:", error],
        );
    }
}

#[test]
fn a_runaway_map_rolls_its_load_back() {
    let c = corpus();
    c.script(
        r#"task("load", |run| dw.load(#{ from: csv_file("data/seed.csv").map(|row| { row.qty += 1; loop { } }), into: "items", key: ["id"] }));"#,
    );
    c.fails(
        "an endless .map",
        &["--load-type", "I"],
        1,
        &[
            ".map failed at row 1: Too many operations",
            "projects/corpus/project.rhai:3:",
        ],
    );
}

/// At the top level the error points at the loop; inside a task it should too, not at the
/// `task(` call that holds it.
#[test]
#[ignore = "defect: `Too many operations` / `Stack overflow` inside a task closure is reported at the `task(` line, not at the statement that ran away"]
fn a_runaway_in_a_task_points_at_its_line() {
    let c = corpus();
    c.script("task(\"runaway\", |run| {\n    let i = 0;\n    loop {\n        i += 1;\n    }\n});");
    let ran = c.run(&[]).code(1);
    ran.contains("Too many operations");
    assert!(
        ran.output.contains("project.rhai:5:") || ran.output.contains("project.rhai:6:"),
        "the loop is on lines 5-6:\n{}",
        ran.output
    );
}
