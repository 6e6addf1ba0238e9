//! The library's error type. Each variant carries where it happened (file and line, connection,
//! table and row) so the message a user reads says what to fix without a debugger.

use std::path::PathBuf;

pub type Result<T, E = EtlError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum EtlError {
    #[error("configuration: {0}")]
    Config(String),

    #[error("{path}:{line}: {message}")]
    File {
        path: PathBuf,
        line: u64,
        message: String,
    },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("connection '{connection}': {message}{}", sqlstate.as_ref().map(|s| format!(" (SQLSTATE {s})")).unwrap_or_default())]
    Database {
        connection: String,
        message: String,
        sqlstate: Option<String>,
    },

    #[error("load into {table}{}{}: {message}", row.map(|r| format!(", row {r}")).unwrap_or_default(), column.as_ref().map(|c| format!(", column '{c}'")).unwrap_or_default())]
    Load {
        table: String,
        row: Option<u64>,
        column: Option<String>,
        message: String,
    },

    #[error("cancelled")]
    Cancelled,

    #[error("{0}")]
    Other(String),
}

/// The text of a panic: `panic!` carries a `&str` (a literal) or a `String` (formatted);
/// anything else came from `panic_any` and has no text to show.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(a panic without a message)"
    }
}

impl EtlError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> EtlError {
        EtlError::Io {
            path: path.into(),
            source,
        }
    }

    pub fn db(connection: &str, message: impl std::fmt::Display) -> EtlError {
        EtlError::Database {
            connection: connection.to_string(),
            message: message.to_string(),
            sqlstate: None,
        }
    }

    pub fn load(table: &str, message: impl Into<String>) -> EtlError {
        EtlError::Load {
            table: table.to_string(),
            row: None,
            column: None,
            message: message.into(),
        }
    }
}
