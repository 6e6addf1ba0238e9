//! The order of a run as a pure state machine, apart from threads and scripts: given what
//! has finished, whether the run is cancelled and how many job slots are free, it says which
//! tasks start now and which will never start (and why).

use std::collections::HashMap;

use super::report::TaskStatus;

/// Why a task never started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Why {
    /// This dependency finished without success (or never ran).
    Dependency(String),
    Cancelled,
    /// The remaining tasks wait on each other; the factory rejects cycles, so this only
    /// guards against a run that would otherwise end with tasks lacking an outcome.
    Cycle,
}

impl Why {
    pub fn reason(&self) -> String {
        match self {
            Why::Dependency(dep) => format!("'{dep}' did not succeed"),
            Why::Cancelled => "the run was cancelled".into(),
            Why::Cycle => "it waits on a dependency cycle".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    pub name: String,
    pub status: TaskStatus,
    pub why: Why,
}

/// What to do now.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Tasks to start, in selection order.
    pub launch: Vec<String>,
    /// Tasks that will not run, each with its final status.
    pub settled: Vec<Settled>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Waiting,
    Running,
    Done(TaskStatus),
}

pub struct Graph {
    /// Selection order, which is the order tasks start in when several are ready.
    order: Vec<String>,
    /// Only dependencies that are themselves selected: `--task x` without `--with-deps`
    /// runs `x` whatever the state of what it would otherwise wait for.
    after: HashMap<String, Vec<String>>,
    state: HashMap<String, State>,
}

impl Graph {
    /// The selected tasks with their `after` lists.
    pub fn new<'a>(tasks: impl IntoIterator<Item = (&'a str, &'a [String])>) -> Graph {
        let tasks: Vec<(&str, &[String])> = tasks.into_iter().collect();
        let order: Vec<String> = tasks.iter().map(|(n, _)| n.to_string()).collect();
        let after = tasks
            .iter()
            .map(|(n, deps)| {
                let selected = deps.iter().filter(|d| order.contains(d)).cloned();
                (n.to_string(), selected.collect())
            })
            .collect();
        let state = order.iter().map(|n| (n.clone(), State::Waiting)).collect();
        Graph {
            order,
            after,
            state,
        }
    }

    /// Starts up to `free` ready tasks and settles every task that can no longer run.
    /// Passes repeat until nothing changes, so a failure reaches dependants of dependants in
    /// one step whatever order the tasks were defined in.
    pub fn step(&mut self, cancelled: bool, free: usize) -> Step {
        let mut step = Step::default();
        loop {
            let mut settled_any = false;
            for name in &self.order {
                if self.state[name] != State::Waiting {
                    continue;
                }
                let deps = &self.after[name];
                let failed = deps
                    .iter()
                    .find(|d| matches!(self.state[*d], State::Done(s) if s != TaskStatus::Success));
                let settle = match failed {
                    // During a cancellation a dependency's failure is usually the
                    // cancellation itself, so the dependant counts as cancelled too.
                    Some(dep) => Some((
                        if cancelled {
                            TaskStatus::Cancelled
                        } else {
                            TaskStatus::Skipped
                        },
                        Why::Dependency(dep.clone()),
                    )),
                    None if cancelled => Some((TaskStatus::Cancelled, Why::Cancelled)),
                    None => None,
                };
                if let Some((status, why)) = settle {
                    self.state.insert(name.clone(), State::Done(status));
                    step.settled.push(Settled {
                        name: name.clone(),
                        status,
                        why,
                    });
                    settled_any = true;
                    continue;
                }
                let ready = deps
                    .iter()
                    .all(|d| self.state[d] == State::Done(TaskStatus::Success));
                if ready && step.launch.len() < free {
                    self.state.insert(name.clone(), State::Running);
                    step.launch.push(name.clone());
                }
            }
            if !settled_any {
                break;
            }
        }
        if step.launch.is_empty() && free > 0 && self.running() == 0 {
            for name in &self.order {
                if self.state[name] == State::Waiting {
                    self.state
                        .insert(name.clone(), State::Done(TaskStatus::Skipped));
                    step.settled.push(Settled {
                        name: name.clone(),
                        status: TaskStatus::Skipped,
                        why: Why::Cycle,
                    });
                }
            }
        }
        step
    }

    /// A started task ended.
    pub fn finished(&mut self, name: &str, status: TaskStatus) {
        if let Some(state) = self.state.get_mut(name) {
            *state = State::Done(status);
        }
    }

    pub fn running(&self) -> usize {
        self.state
            .values()
            .filter(|s| **s == State::Running)
            .count()
    }

    /// Every task has its final status.
    pub fn is_done(&self) -> bool {
        self.state.values().all(|s| matches!(s, State::Done(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus::*;

    fn graph(tasks: &[(&str, &[&str])]) -> Graph {
        let owned: Vec<(&str, Vec<String>)> = tasks
            .iter()
            .map(|(n, a)| (*n, a.iter().map(|s| s.to_string()).collect()))
            .collect();
        Graph::new(owned.iter().map(|(n, a)| (*n, a.as_slice())))
    }

    fn names(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    fn settled(step: &Step) -> Vec<(&str, TaskStatus, String)> {
        step.settled
            .iter()
            .map(|s| (s.name.as_str(), s.status, s.why.reason()))
            .collect()
    }

    #[test]
    fn tasks_start_only_after_their_dependencies_succeed() {
        let mut g = graph(&[
            ("load", &["extract"]),
            ("extract", &[]),
            ("report", &["load"]),
        ]);
        let step = g.step(false, 8);
        assert_eq!(names(&step.launch), ["extract"]);
        assert!(step.settled.is_empty());
        assert_eq!(
            g.step(false, 7),
            Step::default(),
            "nothing new while it runs"
        );

        g.finished("extract", Success);
        assert_eq!(names(&g.step(false, 8).launch), ["load"]);
        g.finished("load", Success);
        assert_eq!(names(&g.step(false, 8).launch), ["report"]);
        assert!(!g.is_done());
        g.finished("report", Success);
        assert_eq!(g.step(false, 8), Step::default());
        assert!(g.is_done());
    }

    #[test]
    fn no_more_tasks_start_than_there_are_free_slots() {
        let mut g = graph(&[("a", &[]), ("b", &[]), ("c", &[]), ("d", &[])]);
        assert_eq!(names(&g.step(false, 2).launch), ["a", "b"]);
        assert_eq!(g.running(), 2);
        assert!(g.step(false, 0).launch.is_empty(), "no free slot");
        g.finished("b", Success);
        assert_eq!(names(&g.step(false, 1).launch), ["c"]);
        g.finished("a", Failed);
        g.finished("c", Success);
        assert_eq!(names(&g.step(false, 2).launch), ["d"]);
    }

    #[test]
    fn a_failure_skips_its_dependants_transitively_and_nothing_else() {
        // Defined out of order, so one pass in definition order would not reach `c`.
        let mut g = graph(&[
            ("c", &["b"]),
            ("b", &["a"]),
            ("a", &[]),
            ("other", &[]),
            ("d", &["a", "other"]),
        ]);
        assert_eq!(names(&g.step(false, 8).launch), ["a", "other"]);
        g.finished("a", Failed);
        let step = g.step(false, 8);
        assert!(step.launch.is_empty());
        let mut got = settled(&step);
        got.sort_by_key(|(name, _, _)| *name);
        assert_eq!(
            got,
            [
                ("b", Skipped, "'a' did not succeed".to_string()),
                ("c", Skipped, "'b' did not succeed".to_string()),
                ("d", Skipped, "'a' did not succeed".to_string()),
            ]
        );
        assert!(!g.is_done(), "`other` still runs");
        g.finished("other", Success);
        assert!(g.is_done());
    }

    #[test]
    fn a_dependency_outside_the_selection_is_not_waited_for() {
        // `--task report` without `--with-deps`: `load` is not part of the run.
        let mut g = graph(&[("report", &["load", "extract"]), ("extract", &[])]);
        assert_eq!(names(&g.step(false, 8).launch), ["extract"]);
        g.finished("extract", Success);
        assert_eq!(names(&g.step(false, 8).launch), ["report"]);
    }

    #[test]
    fn cancellation_settles_every_task_not_started_as_cancelled() {
        let mut g = graph(&[("a", &[]), ("b", &["a"]), ("c", &[]), ("d", &[])]);
        assert_eq!(names(&g.step(false, 1).launch), ["a"]);
        let step = g.step(true, 0);
        assert!(step.launch.is_empty());
        assert_eq!(
            settled(&step),
            [
                ("b", Cancelled, "the run was cancelled".to_string()),
                ("c", Cancelled, "the run was cancelled".to_string()),
                ("d", Cancelled, "the run was cancelled".to_string()),
            ]
        );
        assert!(!g.is_done(), "the running task still ends by itself");
        g.finished("a", Cancelled);
        assert_eq!(g.step(true, 1), Step::default());
        assert!(g.is_done());
    }

    #[test]
    fn a_dependant_of_a_failure_during_cancellation_counts_as_cancelled() {
        let mut g = graph(&[("a", &[]), ("b", &["a"])]);
        g.step(false, 1);
        g.finished("a", Failed);
        assert_eq!(
            settled(&g.step(true, 1)),
            [("b", Cancelled, "'a' did not succeed".to_string())]
        );
    }

    #[test]
    fn a_diamond_joins_after_both_branches() {
        let mut g = graph(&[
            ("top", &[]),
            ("left", &["top"]),
            ("right", &["top"]),
            ("bottom", &["left", "right"]),
        ]);
        assert_eq!(names(&g.step(false, 4).launch), ["top"]);
        g.finished("top", Success);
        assert_eq!(names(&g.step(false, 4).launch), ["left", "right"]);
        g.finished("right", Success);
        assert!(g.step(false, 3).launch.is_empty(), "`left` still runs");
        g.finished("left", Success);
        assert_eq!(names(&g.step(false, 4).launch), ["bottom"]);
    }

    #[test]
    fn a_diamond_with_one_failed_branch_skips_the_join_once() {
        let mut g = graph(&[
            ("top", &[]),
            ("left", &["top"]),
            ("right", &["top"]),
            ("bottom", &["left", "right"]),
        ]);
        g.step(false, 4);
        g.finished("top", Success);
        g.step(false, 4);
        g.finished("left", Failed);
        assert_eq!(
            settled(&g.step(false, 3)),
            [("bottom", Skipped, "'left' did not succeed".to_string())]
        );
        g.finished("right", Success);
        assert_eq!(g.step(false, 4), Step::default());
        assert!(g.is_done());
    }

    #[test]
    fn a_cycle_is_settled_rather_than_left_without_an_outcome() {
        let mut g = graph(&[("a", &["b"]), ("b", &["a"]), ("c", &[])]);
        assert_eq!(names(&g.step(false, 4).launch), ["c"]);
        g.finished("c", Success);
        let step = g.step(false, 4);
        assert_eq!(
            settled(&step),
            [
                ("a", Skipped, "it waits on a dependency cycle".to_string()),
                ("b", Skipped, "it waits on a dependency cycle".to_string()),
            ]
        );
        assert!(g.is_done());
    }
}
