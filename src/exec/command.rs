//! The `etl exec` command: one run of a project, interrupted cleanly by Ctrl-C.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::args::ExecArgs;
use crate::context::LoadType;
use crate::runner;

pub async fn command(config: Option<&Path>, args: ExecArgs) -> u8 {
    let load_type = match LoadType::parse(&args.load_type) {
        Ok(LoadType::Backfill) => {
            eprintln!("error: --load-type B is set by `etl backfill`, not `etl exec`");
            return 2;
        }
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: --load-type: {e}");
            return 2;
        }
    };
    let params = match super::parse_params(&args.params) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let cancel = CancellationToken::new();
    let selection = runner::Selection {
        tasks: args.tasks.clone(),
        with_deps: args.with_deps,
    };
    let (project, selected) = match super::prepare(
        config,
        &args.script,
        args.env.as_deref(),
        &selection,
        cancel.clone(),
    )
    .await
    {
        Ok(p) => p,
        Err(code) => return code,
    };
    crate::notify::set_cli_switch(args.notify_switch());
    let run = super::new_run(
        &project,
        super::RunRequest {
            load_type,
            window: None,
            params,
            dry_run: args.dry_run,
        },
    );
    let log = super::open_log(
        &project,
        &run.file_stamp(),
        run.dry_run,
        super::LogTo::Process,
    );

    // Ctrl-C: stop launching tasks, cancel running loads (they roll back), record failures.
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("Interrupted: cancelling the run (loads in progress roll back).");
            on_signal.cancel();
        }
    });
    let jobs = args.jobs.unwrap_or_else(super::default_jobs);
    let report = super::run_tasks(&project, &run, selected, jobs).await;
    if let Some(p) = &log.path {
        tracing::info!("Log: {}", p.display());
    }
    super::finish(
        &project,
        &run,
        &report,
        log.path.as_deref(),
        args.notify_switch(),
    )
    .await;
    if report.succeeded() {
        0
    } else {
        1
    }
}
