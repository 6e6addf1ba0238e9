//! `etl runs`: the audit history of a connection as a table.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::config::load_config;
use crate::connectors::Io;

pub(super) async fn runs(
    config: Option<&Path>,
    project: Option<&str>,
    limit: usize,
    connection: &str,
    env: Option<&str>,
) -> u8 {
    let config = match load_config(config, None, env) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let conn = connection.to_string();
    let project = project.map(str::to_string);
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::spawn_blocking(move || {
        let url = config.connection_url(&conn)?;
        let options = crate::connectors::open::OpenOptions::from_config(&config);
        let db = crate::connectors::open::open_with(&conn, &url, &options)?;
        db.audit_history(
            &Io {
                handle,
                cancel: CancellationToken::new(),
            },
            project.as_deref(),
            limit,
        )
    })
    .await;
    match result {
        Ok(Ok(records)) => {
            print!("{}", crate::audit::history_table(&records));
            0
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            2
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
