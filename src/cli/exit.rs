//! The one place that prints a command's error and turns its result into the exit code:
//! 0 success, 1 a task or a connection failed, 2 a usage, configuration or script error.

use std::process::ExitCode;

use crate::outcome::{CliError, ErrorKind, Outcome};

pub(super) fn exit(result: Result<Outcome, CliError>) -> ExitCode {
    if let Err(e) = &result {
        eprintln!("error: {e}");
    }
    ExitCode::from(code(&result))
}

/// Arguments clap could not read: clap renders them itself (with the usage line). `--help`
/// and `--version` come this way too, and are no error.
pub(super) fn exit_parse(e: clap::Error) -> ExitCode {
    let _ = e.print();
    if e.use_stderr() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn code(result: &Result<Outcome, CliError>) -> u8 {
    match result {
        Ok(Outcome::Success) => 0,
        Ok(Outcome::Failed) => 1,
        Err(e) => match e.kind {
            ErrorKind::Connection => 1,
            ErrorKind::Usage | ErrorKind::Config | ErrorKind::Script | ErrorKind::System => 2,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EtlError;

    #[test]
    fn a_failed_task_or_connection_exits_1_and_what_the_user_must_fix_exits_2() {
        assert_eq!(code(&Ok(Outcome::Success)), 0);
        assert_eq!(code(&Ok(Outcome::Failed)), 1);
        let refused = EtlError::db("warehouse", "cannot connect: Connection refused");
        assert_eq!(code(&Err(CliError::reaching(refused))), 1);
        let unknown = EtlError::Config("no connection named 'nowhere'".into());
        assert_eq!(code(&Err(CliError::reaching(unknown))), 2);
        assert_eq!(code(&Err(CliError::usage("--days must be 1 or more"))), 2);
        assert_eq!(code(&Err(CliError::script("project.rhai:3:1: ..."))), 2);
    }
}
