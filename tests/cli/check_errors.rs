//! `etl check`: script errors exit with 2 and show `path:line:col`, the source line and a
//! caret; a valid project lists its tasks without touching any database.

use crate::support::{script, Ran, Sandbox};

/// The snippet under an error: the numbered source line and a caret under `col`.
fn snippet(line: usize, source: &str, col: usize) -> String {
    let pad = " ".repeat(line.to_string().len());
    format!(
        "{pad} |\n{line} | {source}\n{pad} | {}^\n",
        " ".repeat(col - 1)
    )
}

/// Runs `etl check` on the fixture `case` and expects exit 2 with `error: FILE:LINE:COL: ...`
/// and the snippet of that place.
fn check_fails(case: &str, file: &str, line: usize, col: usize, source: &str) -> Ran {
    let s = Sandbox::with_project(case);
    let at = format!("error: projects/{case}/{file}:{line}:{col}: ");
    let ran = s
        .check(case)
        .status(2)
        .stderr_contains(&at)
        .stderr_contains(&snippet(line, source, col))
        .run();
    assert!(ran.stdout.is_empty(), "nothing on stdout: {}", ran.stdout);
    assert!(!s.exists("metadata/warehouse.db"), "check must not connect");
    ran
}

#[test]
fn syntax_error() {
    let ran = check_fails(
        "check_syntax_error",
        "project.rhai",
        4,
        16,
        "let total = 1 +;",
    );
    assert!(ran.stderr.contains("syntax error"), "{}", ran.stderr);
}

#[test]
fn unknown_function_at_the_top_level() {
    let ran = check_fails(
        "check_unknown_fn",
        "project.rhai",
        5,
        1,
        "summarize_rows(rows);",
    );
    assert!(ran.stderr.contains("summarize_rows"), "{}", ran.stderr);
}

/// The static check of task closures: the closure never runs during `check`.
#[test]
fn unknown_function_inside_a_task_closure() {
    let ran = check_fails(
        "check_unknown_fn_in_task",
        "project.rhai",
        6,
        5,
        "    summarize_rows(n);",
    );
    assert!(
        ran.stderr.contains("unknown function 'summarize_rows'"),
        "{}",
        ran.stderr
    );
}

#[test]
fn unknown_function_in_an_expression_inside_a_task_closure() {
    let ran = check_fails(
        "check_unknown_fn_in_task_expr",
        "project.rhai",
        5,
        17,
        "    let total = summarize_rows(1) + 1;",
    );
    assert!(
        ran.stderr.contains("unknown function 'summarize_rows'"),
        "{}",
        ran.stderr
    );
}

#[test]
fn dependency_cycle() {
    let ran = check_fails(
        "check_cycle",
        "project.rhai",
        4,
        1,
        "task(\"a\", #{ after: [\"b\"] }, |run| 1);",
    );
    assert!(ran.stderr.contains("cycle: a -> b -> a"), "{}", ran.stderr);
}

#[test]
fn runtime_error_inside_an_imported_module() {
    let ran = check_fails(
        "check_module_error",
        "helpers.rhai",
        4,
        21,
        "let per_batch = 100 / 0;",
    );
    let stderr = &ran.stderr;
    assert!(stderr.contains("Division by zero"), "{stderr}");
    // Then the import site, with its own snippet.
    let import = format!(
        "in import of module 'helpers' at projects/check_module_error/project.rhai:2:8\n{}",
        snippet(2, "import \"helpers\" as helpers;", 8)
    );
    assert!(stderr.contains(&import), "{stderr}");
    let module_at = stderr.find("helpers.rhai:4:21").unwrap();
    assert!(
        module_at < stderr.find("project.rhai:2:8").unwrap(),
        "module frame first: {stderr}"
    );
}

#[test]
fn missing_project_call() {
    let ran = check_fails(
        "check_no_project",
        "project.rhai",
        1,
        1,
        "// Tasks but no project(...) declaration.",
    );
    assert!(
        ran.stderr.contains("never calls project(...)"),
        "{}",
        ran.stderr
    );
}

#[test]
fn unknown_dependency() {
    let ran = check_fails(
        "check_unknown_dependency",
        "project.rhai",
        4,
        1,
        "task(\"report\", #{ after: [\"laod\"] }, |run| 2);",
    );
    assert!(
        ran.stderr
            .contains("task 'report' runs after 'laod', which is not a task (tasks: load, report)"),
        "{}",
        ran.stderr
    );
}

#[test]
fn duplicate_task_name() {
    let ran = check_fails(
        "check_duplicate_task",
        "project.rhai",
        4,
        1,
        "task(\"load\", |run| 2);",
    );
    assert!(
        ran.stderr
            .contains("a task named 'load' is already defined"),
        "{}",
        ran.stderr
    );
}

#[test]
fn wrong_option_type() {
    let ran = check_fails(
        "check_wrong_option_type",
        "project.rhai",
        3,
        1,
        "task(\"load\", #{ retries: \"two\" }, |run| 1);",
    );
    assert!(
        ran.stderr
            .contains("task 'load': option 'retries' must be an integer, not string"),
        "{}",
        ran.stderr
    );
}

#[test]
fn valid_project_lists_its_tasks_without_connecting() {
    let s = Sandbox::with_demo();
    s.check("demo")
        .stdout_contains(&format!(
            "{}: project 'demo' v2.0.0 is valid: 6 tasks",
            script("demo")
        ))
        .stdout_contains(
            "\n  stg_customers\n  stg_orders\n  dim_customer (after stg_customers)\n  \
             fact_orders (after dim_customer, stg_orders)\n  \
             sales_by_country_month (after fact_orders)\n  export (after sales_by_country_month)\n",
        )
        .run();
    assert!(!s.exists("metadata/warehouse.db"));
    assert!(
        s.files_in("metadata/logs/demo").is_empty(),
        "check writes no run log"
    );
}
