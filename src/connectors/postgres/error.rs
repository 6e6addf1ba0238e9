//! PostgreSQL errors as the user should read them: the server's message with its detail and
//! hint, and the SQLSTATE kept; errors during COPY point at the row and column.

use tokio_postgres::error::SqlState;

use super::watch::take_end;
use crate::error::EtlError;

/// The server's full message (`Display` of tokio-postgres drops detail and hint).
pub fn message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut m = format!("{}: {}", db.severity(), db.message());
            if let Some(d) = db.detail() {
                m.push_str(&format!("\nDETAIL: {d}"));
            }
            if let Some(h) = db.hint() {
                m.push_str(&format!("\nHINT: {h}"));
            }
            if db.code() == &SqlState::QUERY_CANCELED && db.message().contains("statement timeout")
            {
                m.push_str(&format!(
                    "\nHINT: the statement ran longer than the connection's statement_timeout; {}",
                    crate::connectors::timeouts::RAISE
                ));
            }
            m
        }
        None if e.is_closed() => match take_end() {
            Some(reason) => format!("connection closed: {reason}"),
            None => e.to_string(),
        },
        None => {
            let mut m = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(s) = src {
                m.push_str(&format!(": {s}"));
                src = s.source();
            }
            m
        }
    }
}

pub fn sqlstate(e: &tokio_postgres::Error) -> Option<String> {
    e.code().map(|c| c.code().to_string())
}

pub fn pg_error(connection: &str, e: &tokio_postgres::Error) -> EtlError {
    EtlError::Database {
        connection: connection.to_string(),
        message: message(e),
        sqlstate: sqlstate(e),
    }
}

/// `pg_error` with what was being done in front ("table staging.orders: ...").
pub fn pg_error_in(connection: &str, what: &str, e: &tokio_postgres::Error) -> EtlError {
    EtlError::Database {
        connection: connection.to_string(),
        message: format!("{what}: {}", message(e)),
        sqlstate: sqlstate(e),
    }
}

/// The line and column of a COPY error from the server's CONTEXT
/// (`COPY orders, line 500000, column amount: "x"`). In binary COPY a line is a row.
pub fn copy_position(e: &tokio_postgres::Error) -> (Option<u64>, Option<String>) {
    let Some(context) = e.as_db_error().and_then(|d| d.where_()) else {
        return (None, None);
    };
    parse_copy_context(context)
}

pub fn parse_copy_context(context: &str) -> (Option<u64>, Option<String>) {
    let Some(copy) = context.lines().find(|l| l.starts_with("COPY ")) else {
        return (None, None);
    };
    let line = copy.split(", line ").nth(1).and_then(|rest| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    });
    let column = copy
        .split(", column ")
        .nth(1)
        .map(|rest| match rest.find(": ") {
            Some(i) => rest[..i].to_string(),
            None => rest.to_string(),
        });
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_line_and_column_from_copy_context() {
        assert_eq!(
            parse_copy_context("COPY orders__etl_new, line 500000, column amount: \"x\""),
            (Some(500000), Some("amount".into()))
        );
        assert_eq!(parse_copy_context("COPY t, line 3"), (Some(3), None));
        assert_eq!(parse_copy_context("SQL function \"f\""), (None, None));
    }
}
