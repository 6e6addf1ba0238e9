//! What `etl backfill` prints: the windows it would run (`--dry-run`) and the table of what
//! each window did.

use super::range::Range;
use super::slots::{Slot, State};
use crate::script::Project;

pub(super) fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

pub(super) fn dry_run_listing(
    project: &Project,
    tasks: &[String],
    range: &Range,
    slots: &[Slot],
) -> String {
    let mut rows = vec![["window", "since", "until", "action"].map(String::from)];
    for s in slots {
        rows.push([
            format!("{}/{}", s.window.index + 1, slots.len()),
            range.text(s.window.since),
            range.text(s.window.until),
            match &s.state {
                State::Done(runs) => format!("skip: done by run {}", runs.join(", ")),
                _ => "run".into(),
            },
        ]);
    }
    let to_run = slots
        .iter()
        .filter(|s| !matches!(s.state, State::Done(_)))
        .count();
    format!(
        "Backfill of project '{}' (tasks: {}): {}, {to_run} to run.\n{}",
        project.meta.name,
        tasks.join(", "),
        plural(slots.len(), "window"),
        crate::table::render(&rows)
    )
}

pub(super) fn summary(range: &Range, slots: &[Slot]) -> String {
    let mut rows = vec![[
        "window", "since", "until", "status", "rows", "duration", "run_id",
    ]
    .map(String::from)];
    for s in slots {
        let ran = matches!(
            s.state,
            State::Succeeded | State::Failed(_) | State::Cancelled
        );
        rows.push([
            format!("{}/{}", s.window.index + 1, slots.len()),
            range.text(s.window.since),
            range.text(s.window.until),
            s.state.label().to_string(),
            if ran {
                s.rows.to_string()
            } else {
                String::new()
            },
            if ran {
                format!("{:.2}s", s.duration.as_secs_f64())
            } else {
                String::new()
            },
            match &s.state {
                State::Done(runs) => runs.join(", "),
                _ => s.run_id.clone(),
            },
        ]);
    }
    crate::table::render(&rows)
}
