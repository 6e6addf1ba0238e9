//! `etl plan`: what a run would do, per task, without moving data. The task closures run
//! as in a dry run, except that each `load` is described instead: the source statement with
//! `:since`/`:until` from the audit table, the DDL it would run on the target, the source ->
//! target type of each column with lossy or narrowing casts flagged, the backfill windows,
//! and a row estimate. It only reads: catalogs, the audit table (when it exists), counts.

mod collect;
mod columns;
mod literal;

pub use collect::{Collector, ColumnMap, Item, LoadView};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::backfill::Range;
use crate::context::LoadType;
use crate::exec::{self, RunRequest};
use crate::runner::{self, TaskStatus};
use crate::script::{Host, HostOptions, Mode};

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// The project script (projects/NAME/project.rhai)
    pub script: PathBuf,
    /// Environment from etl.toml (default: ETL_ENV, then the file's default_env, then dev)
    #[arg(long, env = "ETL_ENV")]
    pub env: Option<String>,
    /// F = full reload, I = incremental from the audit watermark
    #[arg(long, default_value = "F", value_name = "F|I")]
    pub load_type: String,
    /// A backfill range's start (with --to): plans load type B over [--from, --to)
    #[arg(long, value_name = "DATE", requires = "to")]
    pub from: Option<String>,
    /// A backfill range's end, excluded
    #[arg(long, value_name = "DATE", requires = "from")]
    pub to: Option<String>,
    /// Days per backfill window
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub days: u32,
    /// Plan only this task (repeatable)
    #[arg(long = "task", value_name = "NAME")]
    pub tasks: Vec<String>,
    /// A value for run.params (repeatable)
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
}

pub async fn command(config: Option<&Path>, args: PlanArgs) -> u8 {
    let range = match (&args.from, &args.to) {
        (Some(f), Some(t)) => match Range::parse(f, t, args.days) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        },
        _ => None,
    };
    let load_type = match (&range, LoadType::parse(&args.load_type)) {
        (Some(_), _) => LoadType::Backfill,
        (None, Ok(LoadType::Backfill)) => {
            eprintln!("error: --load-type B needs --from and --to");
            return 2;
        }
        (None, Ok(t)) => t,
        (None, Err(e)) => {
            eprintln!("error: --load-type: {e}");
            return 2;
        }
    };
    let params = match exec::parse_params(&args.params) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let project_dir = std::path::absolute(&args.script)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let config =
        match crate::config::Config::load(config, project_dir.as_deref(), args.env.as_deref()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        };
    let collector = Arc::new(Collector::default());
    let io = crate::connectors::Io {
        handle: tokio::runtime::Handle::current(),
        cancel: CancellationToken::new(),
    };
    let options = HostOptions {
        mode: crate::runmode::RunMode::Plan(collector.clone()),
        ..HostOptions::default()
    };
    let host = Host::with_options(Mode::Run, config, &args.script, io, options);
    let project = match exec::compile(host).await {
        Ok(p) => Arc::new(p),
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let selection = runner::Selection {
        tasks: args.tasks.clone(),
        with_deps: false,
    };
    let selected = match runner::select(&project, &selection) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let window = range.as_ref().map(|r| (r.text(r.from), r.text(r.to)));
    let run = exec::new_run(
        &project,
        RunRequest {
            load_type,
            window,
            params,
            dry_run: true,
        },
    );
    // One task at a time, so the plan reads in the order of the graph.
    let report = runner::run(project.clone(), run.clone(), selected.clone(), 1).await;
    let items = collector.take();
    print!(
        "{}",
        render(&project, &run, range.as_ref(), &selected, &report, items)
    );
    if report
        .outcomes
        .iter()
        .all(|o| o.status == TaskStatus::Success)
    {
        0
    } else {
        1
    }
}

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
