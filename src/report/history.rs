//! The audit history of a connection, as `etl report` and `etl runs` read it.

use tokio_util::sync::CancellationToken;

use crate::audit::AuditRecord;
use crate::config::Config;
use crate::connectors::Io;
use crate::outcome::CliError;

/// The records read and where from.
pub struct History {
    /// The connection as the page names it (URL without secrets).
    pub source: String,
    /// Newest first.
    pub records: Vec<AuditRecord>,
    /// Check results, newest first (when asked for).
    pub checks: Vec<crate::audit_checks::CheckRecord>,
}

/// Reads the latest `limit` records of `connection`'s audit table. An unknown connection or
/// a URL no connector reads is a configuration error; a database that cannot be reached or
/// fails is a connection error (exit 1, like a failed task).
pub async fn read(
    config: Config,
    connection: &str,
    project: Option<&str>,
    limit: usize,
    with_checks: bool,
) -> Result<History, CliError> {
    let url = config
        .connection_url(connection)
        .map_err(CliError::config)?;
    let (name, project) = (connection.to_string(), project.map(str::to_string));
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let db = crate::connectors::open(&name, &url, &config.open_options())?;
        let io = Io {
            handle,
            cancel: CancellationToken::new(),
        };
        let audit = db.audit()?;
        let records = audit.history(&io, project.as_deref(), limit)?;
        let checks = if with_checks {
            audit.check_history(&io, project.as_deref(), limit)?
        } else {
            Vec::new()
        };
        Ok(History {
            source: db.describe.clone(),
            records,
            checks,
        })
    })
    .await
    .map_err(|e| CliError::system(format!("reading the audit table: {e}")))?
    .map_err(CliError::reaching)
}
