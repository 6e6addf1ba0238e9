//! The entry point: parse the arguments, set up logging and the runtime, run the subcommand.

use std::process::ExitCode;

use clap::Parser;

use super::args::{Cli, Command};
use super::exit::{exit, exit_parse};
use super::{check, new, runs};
use crate::outcome::{CliError, Outcome};
use crate::{backfill, defs, exec, launcher, logging, plan, progress, report, schedule, watch};

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return exit_parse(e),
    };
    let verbosity = if cli.quiet { -1 } else { cli.verbose as i8 };
    logging::init(verbosity);
    progress::set_quiet(cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(crate::script::engine::THREAD_STACK_SIZE)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return exit(Err(CliError::system(format!(
                "cannot start the async runtime: {e}"
            ))))
        }
    };
    let result = runtime.block_on(dispatch(cli));
    logging::detach_file();
    exit(result)
}

async fn dispatch(cli: Cli) -> Result<Outcome, CliError> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Exec(args) => exec::command(config, args).await,
        Command::Backfill(args) => backfill::command(config, args).await,
        Command::Schedule(args) => schedule::command(config, args).await,
        Command::Launcher(args) => launcher::command(config, args).await,
        Command::Export(what) => launcher::export(config, what).await,
        Command::Watch(args) => watch::command(config, args).await,
        Command::Plan(args) => plan::command(config, args).await,
        Command::Defs(args) => defs::command(config, args),
        Command::Check(args) => check::check(config, args).await,
        Command::New(args) => new::new(args),
        Command::Report(args) => report::command(config, args).await,
        Command::Runs(args) => runs::runs(config, args).await,
        Command::Migrate(args) => crate::migrate::command(config, args).await,
    }
}
