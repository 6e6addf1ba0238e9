//! The `etl plan` command: a dry run whose loads are described instead of run.

use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::args::PlanArgs;
use super::collect::Collector;
use super::render::render;
use crate::backfill::Range;
use crate::context::LoadType;
use crate::exec::{self, RunRequest};
use crate::runner::{self, TaskStatus};
use crate::script::{Host, HostOptions, Mode};

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
        plan: Some(collector.clone()),
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
