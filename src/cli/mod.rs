//! The command line: parses arguments, sets up logging and the runtime, and turns results
//! into exit codes (0 success, 1 a task failed, 2 usage or script error).

mod args;
mod check;
mod config;
mod dispatch;
mod new;
mod runs;

pub use args::Cli;
pub use dispatch::main;
