//! Which tasks an edit concerns.

use std::collections::HashSet;
use std::path::PathBuf;

use super::session::Session;

impl Session {
    /// The tasks an edit concerns: those whose fingerprint changed or that read a changed
    /// file, their dependants, and the dependencies they need that have not succeeded.
    pub(super) fn affected(&self, changed: &[PathBuf]) -> Vec<String> {
        let (Some(project), Some(analysis)) = (&self.project, &self.analysis) else {
            return Vec::new();
        };
        let selected: HashSet<&str> = self.selected.iter().map(String::as_str).collect();
        let mut run: HashSet<String> = HashSet::new();
        for name in &self.selected {
            let def = project.task(name).expect("selected tasks exist");
            let dirty = match self.ran.get(name) {
                None => true,
                Some(r) => {
                    r.print != analysis.task(def) || r.inputs.iter().any(|i| changed.contains(i))
                }
            };
            if dirty {
                run.insert(name.clone());
            }
        }
        // Dependants, transitively.
        loop {
            let before = run.len();
            for t in &project.tasks {
                if selected.contains(t.name.as_str())
                    && !run.contains(&t.name)
                    && t.after.iter().any(|d| run.contains(d))
                {
                    run.insert(t.name.clone());
                }
            }
            if run.len() == before {
                break;
            }
        }
        // Dependencies that never succeeded in this session.
        let mut stack: Vec<String> = run.iter().cloned().collect();
        while let Some(n) = stack.pop() {
            let Some(def) = project.task(&n) else {
                continue;
            };
            for d in &def.after {
                let ok = self.ran.get(d).is_some_and(|r| r.ok);
                if selected.contains(d.as_str()) && !ok && run.insert(d.clone()) {
                    stack.push(d.clone());
                }
            }
        }
        self.selected
            .iter()
            .filter(|n| run.contains(*n))
            .cloned()
            .collect()
    }
}
