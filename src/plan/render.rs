//! The plan as text.

use super::collect::{Item, LoadView};
use crate::backfill::Range;
use crate::runner::{self, TaskStatus};

/// The plan as text: a header, the backfill windows, then each task with its steps.
pub fn render(
    project: &crate::script::Project,
    run: &crate::context::RunInfo,
    range: Option<&Range>,
    selected: &[String],
    report: &runner::RunReport,
    items: Vec<(String, Item)>,
) -> String {
    let mut out = format!(
        "Plan of project '{}' v{} (environment {}, load type {}): nothing is written.\n",
        project.meta.name,
        project.meta.version,
        run.env,
        run.load_type.code()
    );
    if let Some(r) = range {
        let windows = r.windows();
        out.push_str(&format!(
            "\nBackfill {} .. {} in {} window(s) of {} day(s):\n",
            r.text(r.from),
            r.text(r.to),
            windows.len(),
            r.days
        ));
        const SHOWN: usize = 10;
        for w in windows.iter().take(SHOWN) {
            out.push_str(&format!("  [{}, {})\n", r.text(w.since), r.text(w.until)));
        }
        if windows.len() > SHOWN {
            out.push_str(&format!("  ... {} more\n", windows.len() - SHOWN));
        }
        out.push_str(
            "Each task below is shown for the whole range; every window binds its own bounds.\n",
        );
    }
    for name in selected {
        let def = project.task(name).expect("selected tasks exist");
        let after = if def.after.is_empty() {
            String::new()
        } else {
            format!(" (after {})", def.after.join(", "))
        };
        out.push_str(&format!("\ntask {name}{after}\n"));
        let mine: Vec<&Item> = items
            .iter()
            .filter(|(t, _)| t == name)
            .map(|(_, i)| i)
            .collect();
        if mine.is_empty() {
            out.push_str("  no loads or SQL\n");
        }
        for item in mine {
            match item {
                Item::Load(view) => render_load(&mut out, view),
                Item::Sql { connection, what } => {
                    out.push_str(&format!("  sql on {connection}: {what}\n"))
                }
                Item::Error(e) => out.push_str(&format!("  cannot plan: {e}\n")),
            }
        }
        if let Some(o) = report.outcomes.iter().find(|o| &o.name == name) {
            if o.status != TaskStatus::Success {
                let error = o.error.clone().unwrap_or_default();
                out.push_str(&format!("  the task's closure failed: {error}\n"));
            }
        }
    }
    out
}

fn render_load(out: &mut String, v: &LoadView) {
    let mut how = vec![v.mode.as_str().to_string()];
    if !v.key.is_empty() {
        how.push(format!("key {}", v.key.join(", ")));
    }
    if let Some(c) = &v.cursor {
        how.push(format!("cursor {c}"));
    }
    out.push_str(&format!(
        "  load {} -> {}.{} ({})\n",
        v.source,
        v.connection,
        v.table,
        how.join(", ")
    ));
    if let Some(sql) = &v.sql {
        out.push_str("    source sql:\n");
        for line in sql.lines() {
            out.push_str(&format!("      {line}\n"));
        }
    }
    out.push_str(&format!("    window: {}\n", v.window));
    out.push_str(&format!("    rows: {}\n", v.rows));
    out.push_str(&format!(
        "    target: {}\n",
        if v.exists {
            "exists"
        } else {
            "does not exist yet"
        }
    ));
    if v.ddl.is_empty() {
        out.push_str("    ddl: none\n");
    } else {
        out.push_str("    ddl:\n");
        for stmt in &v.ddl {
            for line in stmt.lines() {
                out.push_str(&format!("      {line}\n"));
            }
        }
    }
    out.push_str("    columns:\n");
    let mut rows = vec![[
        "column".to_string(),
        "source".into(),
        "target".into(),
        "note".into(),
    ]];
    for c in &v.columns {
        rows.push([
            c.name.clone(),
            c.source.clone(),
            c.target.clone(),
            c.flag.clone().unwrap_or_default(),
        ]);
    }
    for line in crate::table::render(&rows).lines() {
        out.push_str(&format!("      {line}\n"));
    }
    for n in &v.notes {
        out.push_str(&format!("    note: {n}\n"));
    }
}
