//! What a command ends with: an [`Outcome`] when it did its work, whether or not every task
//! succeeded, or a [`CliError`] when it could not start or had to stop. Commands return these
//! and print no error themselves: the command line renders the error and picks the exit code
//! in one place (`cli/exit.rs`), so a new command cannot get either wrong.

use std::fmt;

use crate::error::EtlError;

/// How a command that did its work went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// A task, a window or a connection failed; the log already says which and why.
    Failed,
}

impl Outcome {
    pub fn of(succeeded: bool) -> Outcome {
        if succeeded {
            Outcome::Success
        } else {
            Outcome::Failed
        }
    }
}

/// Why a command could not do its work: what the user has to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Arguments that are malformed, contradict each other or name nothing.
    Usage,
    /// `etl.toml`, the environment, a connection's name or URL.
    Config,
    /// The script does not evaluate, or declares something invalid.
    Script,
    /// A database could not be reached, or failed while answering.
    Connection,
    /// The machine: a file that cannot be written, signals or file events unavailable.
    System,
}

#[derive(Debug)]
pub struct CliError {
    pub kind: ErrorKind,
    pub message: String,
}

impl CliError {
    pub fn new(kind: ErrorKind, message: impl fmt::Display) -> CliError {
        CliError {
            kind,
            message: message.to_string(),
        }
    }

    pub fn usage(message: impl fmt::Display) -> CliError {
        CliError::new(ErrorKind::Usage, message)
    }

    pub fn config(message: impl fmt::Display) -> CliError {
        CliError::new(ErrorKind::Config, message)
    }

    pub fn script(message: impl fmt::Display) -> CliError {
        CliError::new(ErrorKind::Script, message)
    }

    pub fn system(message: impl fmt::Display) -> CliError {
        CliError::new(ErrorKind::System, message)
    }

    /// An error met while opening or reading a database. A configuration error (an unknown
    /// connection name, a URL no connector reads) is the user's to fix; anything else means
    /// the database could not be reached or failed.
    pub fn reaching(error: EtlError) -> CliError {
        match error {
            EtlError::Config(_) => CliError::config(error),
            _ => CliError::new(ErrorKind::Connection, error),
        }
    }

    /// The same error with what it concerns in front (`--resume: ...`, a script's path).
    pub fn context(self, what: impl fmt::Display) -> CliError {
        CliError {
            kind: self.kind,
            message: format!("{what}: {}", self.message),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}
