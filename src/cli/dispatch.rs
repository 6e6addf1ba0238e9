//! The entry point: parse the arguments, set up logging and the runtime, run the subcommand.

use std::process::ExitCode;

use clap::Parser;

use super::args::{Cli, Command};
use super::{check, new, runs};
use crate::{backfill, exec, launcher, logging, progress, schedule};

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let verbosity = if cli.quiet { -1 } else { cli.verbose as i8 };
    logging::init(verbosity);
    progress::set_quiet(cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(dispatch(cli));
    logging::detach_file();
    ExitCode::from(code)
}

async fn dispatch(cli: Cli) -> u8 {
    match cli.command {
        Command::Exec(args) => exec::command(cli.config.as_deref(), args).await,
        Command::Backfill(args) => backfill::command(cli.config.as_deref(), args).await,
        Command::Schedule(args) => schedule::command(cli.config.as_deref(), args).await,
        Command::Launcher(args) => launcher::command(cli.config.as_deref(), args).await,
        Command::Export(what) => launcher::export(cli.config.as_deref(), what).await,
        Command::Watch(args) => crate::watch::command(cli.config.as_deref(), args).await,
        Command::Plan(args) => crate::plan::command(cli.config.as_deref(), args).await,
        Command::Defs(args) => crate::defs::command(cli.config.as_deref(), args),
        Command::Check { script, env } => {
            check::check(cli.config.as_deref(), &script, env.as_deref()).await
        }
        Command::New { name, dir } => new::new(&dir, &name),
        Command::Report {
            project,
            days,
            out,
            connection,
            env,
        } => {
            let args = crate::report::ReportArgs {
                project,
                days,
                out,
                connection,
                env,
            };
            crate::report::command(cli.config.as_deref(), args).await
        }
        Command::Runs {
            project,
            limit,
            connection,
            env,
        } => {
            runs::runs(
                cli.config.as_deref(),
                project.as_deref(),
                limit,
                &connection,
                env.as_deref(),
            )
            .await
        }
    }
}
