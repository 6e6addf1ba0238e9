//! One run of a project, the way `etl exec`, each window of `etl backfill` and each run of
//! `etl schedule` do it: evaluate the script, build the run context, open the run's log, run
//! the selected tasks, log the summary, notify, clean up output files. `etl exec` itself is
//! `args.rs` + `command.rs`.

mod args;
mod command;
mod log;
mod prepare;
mod run;
mod window;

pub use args::ExecArgs;
pub use command::command;
pub use log::{log_dir, open_log, LogTo, RunLog};
pub use prepare::{check_options, compile, default_jobs, io, load_config, parse_params, prepare};
pub use run::{failed_tasks, finish, new_run, remove_outputs, run_tasks, RunRequest};
pub use window::{parse as parse_window, ExecWindow};
