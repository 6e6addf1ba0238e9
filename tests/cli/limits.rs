//! Runaway scripts meet the engine's limits: a value that grows without end, endless recursion
//! and an import cycle each end as a clean error naming the limit (a failed task, exit 1, or a
//! script error, exit 2), never as an aborted process.

use crate::support::{Sandbox, ETL_TOML};

fn error_of(s: &Sandbox, task: &str) -> String {
    let audit = s.warehouse().audit();
    let record = audit
        .iter()
        .find(|r| r.task == task)
        .unwrap_or_else(|| panic!("no audit record of '{task}': {audit:#?}"));
    assert_eq!(record.status, "failed", "{record:#?}");
    record.error_message.clone().unwrap_or_default()
}

#[test]
fn values_that_grow_without_end_fail_their_task_and_the_run_goes_on() {
    let s = Sandbox::with_project("limits_runaway");
    // 1000 rows of 11 columns: 11,000 map entries, past the project's max_map_size of 10,000,
    // while far below max_rows_in_script.
    let header: Vec<String> = (0..11).map(|c| format!("c{c}")).collect();
    let mut csv = header.join(",") + "\n";
    for r in 0..1000 {
        let row: Vec<String> = (0..11).map(|c| (r * 11 + c).to_string()).collect();
        csv += &(row.join(",") + "\n");
    }
    s.write("projects/limits_runaway/data/wide.csv", csv);

    let ran = s
        .exec("limits_runaway")
        .status(1)
        .stderr_lacks("memory allocation")
        .stderr_contains("Skipped: it runs after 'string'")
        .run();
    for (task, limit) in [
        ("string", "limits.max_string_size is 67108864 bytes"),
        ("array", "limits.max_array_size is 1000000 elements"),
        // The project's own value, not etl.toml's default.
        ("maps", "limits.max_map_size is 10000 entries"),
        ("rows", "limits.max_map_size is 10000 entries"),
    ] {
        let error = error_of(&s, task);
        assert!(
            error.contains(limit) && error.contains("[limits] of etl.toml"),
            "{task}: {error}"
        );
        assert!(ran.stderr.contains(limit), "{task}: {}", ran.stderr);
    }
    let audit = s.warehouse().audit();
    let steady: Vec<&str> = audit
        .iter()
        .filter(|r| r.task == "steady")
        .map(|r| r.status.as_str())
        .collect();
    assert_eq!(steady, ["success"]);
    assert!(
        !audit.iter().any(|r| r.task == "after_string"),
        "{audit:#?}"
    );
}

#[test]
fn a_runaway_top_level_is_a_script_error() {
    let s = Sandbox::with_project("limits_top_level");
    for run in [s.check("limits_top_level"), s.exec("limits_top_level")] {
        run.status(2)
            .stderr_contains("projects/limits_top_level/project.rhai")
            .stderr_contains("limits.max_string_size is 67108864 bytes")
            .run();
    }
}

#[test]
fn endless_recursion_fails_its_task_cleanly() {
    let s = Sandbox::with_project("limits_recursion");
    s.exec("limits_recursion")
        .status(1)
        .stderr_contains("limits.max_call_levels is 64")
        .run();
    assert!(error_of(&s, "dig").contains("max_call_levels"));
    let statuses: Vec<(String, String)> = s
        .warehouse()
        .audit()
        .into_iter()
        .map(|r| (r.task, r.status))
        .filter(|(t, _)| t == "steady")
        .collect();
    assert_eq!(statuses, [("steady".to_string(), "success".to_string())]);
}

#[test]
fn an_import_cycle_is_a_script_error() {
    let s = Sandbox::with_project("limits_import_cycle");
    let ran = s.check("limits_import_cycle").status(2).run();
    assert!(
        ran.stderr
            .contains("the modules import each other in a cycle")
            && ran.stderr.contains("lib/a.rhai -> ")
            && ran.stderr.contains("lib/b.rhai -> "),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_project_raises_or_keeps_the_limits_of_etl_toml_for_its_tasks() {
    let s = Sandbox::with_project("limits_override");
    s.write(
        "etl.toml",
        format!("{ETL_TOML}\n[limits]\nmax_string_size = 1000\n"),
    );
    s.exec("limits_override")
        .stderr_contains("built 5000 bytes")
        .run();

    let script = s.read("projects/limits_override/project.rhai");
    let without = script.replace(", #{ limits: #{ max_string_size: 100000 } }", "");
    assert_ne!(script, without, "the fixture sets the limit");
    s.write("projects/limits_override/project.rhai", without);
    s.exec("limits_override")
        .status(1)
        .stderr_contains("limits.max_string_size is 1000 bytes")
        .stderr_lacks("built 5000 bytes")
        .run();
}

#[test]
fn bad_limits_are_refused_before_anything_runs() {
    let s = Sandbox::with_project("limits_override");
    let script = s.read("projects/limits_override/project.rhai");
    for (bad, says) in [
        ("max_strings: 1", "unknown limit 'max_strings'"),
        ("max_string_size: -1", "max_string_size must be 0 or more"),
        (
            "max_call_levels: 0",
            "max_call_levels must be from 1 to 256",
        ),
        ("max_expr_depth: 100", "set them in [limits] of etl.toml"),
    ] {
        s.write(
            "projects/limits_override/project.rhai",
            script.replace("max_string_size: 100000", bad),
        );
        s.check("limits_override")
            .status(2)
            .stderr_contains("project() option 'limits'")
            .stderr_contains(says)
            .run();
    }
    s.write(
        "etl.toml",
        format!("{ETL_TOML}\n[limits]\nmax_call_levels = 0\n"),
    );
    s.check("limits_override")
        .status(2)
        .stderr_contains("[limits] max_call_levels must be from 1 to 256, not 0")
        .run();
}
