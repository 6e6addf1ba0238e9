//! The command line: parses arguments, sets up logging and the runtime, runs the command and
//! turns its result into the exit code (`exit.rs`: 0 success, 1 a task or a connection
//! failed, 2 a usage, configuration or script error). The small commands live here too.

mod args;
mod check;
mod dispatch;
mod exit;
mod new;
mod runs;

pub use args::Cli;
pub use dispatch::main;
