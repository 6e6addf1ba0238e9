//! Which tasks a run executes: all of them, or those named with `--task` (plus what they
//! depend on with `--with-deps`).

use std::collections::HashSet;

use crate::script::Project;

pub struct Selection {
    /// Empty: every task.
    pub tasks: Vec<String>,
    /// Also run what the selected tasks depend on.
    pub with_deps: bool,
}

/// Which tasks run: all, or the selected ones (plus their dependencies with `with_deps`),
/// in definition order.
pub fn select(project: &Project, sel: &Selection) -> Result<Vec<String>, String> {
    let tasks: Vec<(&str, &[String])> = project
        .tasks
        .iter()
        .map(|t| (t.name.as_str(), t.after.as_slice()))
        .collect();
    select_from(&tasks, sel)
}

/// `select` over names and `after` lists alone, so it can be tested without a script.
fn select_from(tasks: &[(&str, &[String])], sel: &Selection) -> Result<Vec<String>, String> {
    if sel.tasks.is_empty() {
        return Ok(tasks.iter().map(|(n, _)| n.to_string()).collect());
    }
    let after = |name: &str| tasks.iter().find(|(n, _)| *n == name).map(|(_, a)| *a);
    let mut stack: Vec<&str> = Vec::new();
    for name in &sel.tasks {
        if after(name).is_none() {
            let known: Vec<&str> = tasks.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "--task {name}: no such task (tasks: {})",
                known.join(", ")
            ));
        }
        stack.push(name);
    }
    let mut chosen: HashSet<&str> = HashSet::new();
    while let Some(n) = stack.pop() {
        if chosen.insert(n) && sel.with_deps {
            stack.extend(after(n).unwrap_or_default().iter().map(String::as_str));
        }
    }
    Ok(tasks
        .iter()
        .filter(|(n, _)| chosen.contains(n))
        .map(|(n, _)| n.to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// extract <- load <- report, and an unrelated `other` that `report` also needs.
    fn tasks() -> Vec<(&'static str, Vec<String>)> {
        vec![
            ("extract", vec![]),
            ("load", vec!["extract".into()]),
            ("other", vec![]),
            ("report", vec!["load".into(), "other".into()]),
            ("unrelated", vec![]),
        ]
    }

    fn pick(names: &[&str], with_deps: bool) -> Result<Vec<String>, String> {
        let owned = tasks();
        let tasks: Vec<(&str, &[String])> = owned.iter().map(|(n, a)| (*n, a.as_slice())).collect();
        let sel = Selection {
            tasks: names.iter().map(|s| s.to_string()).collect(),
            with_deps,
        };
        select_from(&tasks, &sel)
    }

    #[test]
    fn no_task_named_selects_every_task_in_definition_order() {
        assert_eq!(
            pick(&[], false).unwrap(),
            ["extract", "load", "other", "report", "unrelated"]
        );
    }

    #[test]
    fn a_named_task_alone_runs_without_its_dependencies() {
        assert_eq!(pick(&["report"], false).unwrap(), ["report"]);
        assert_eq!(
            pick(&["unrelated", "load"], false).unwrap(),
            ["load", "unrelated"],
            "definition order, not the order named"
        );
    }

    #[test]
    fn with_deps_adds_every_transitive_dependency_and_nothing_else() {
        assert_eq!(
            pick(&["report"], true).unwrap(),
            ["extract", "load", "other", "report"]
        );
        assert_eq!(pick(&["load"], true).unwrap(), ["extract", "load"]);
    }

    #[test]
    fn an_unknown_task_is_an_error_listing_the_known_ones() {
        let err = pick(&["load", "nope"], true).unwrap_err();
        assert_eq!(
            err,
            "--task nope: no such task (tasks: extract, load, other, report, unrelated)"
        );
    }
}
