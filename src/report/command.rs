//! The `etl report` command: read the audit table, write the page.

use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use tokio_util::sync::CancellationToken;

use super::{html, model};
use crate::config::Config;
use crate::connectors::Io;

/// Audit records read at most (newest first).
pub const MAX_RECORDS: usize = 100_000;

pub struct ReportArgs {
    pub project: Option<String>,
    pub days: u32,
    /// The file to write; `-` = standard output; None = `METADATA/report.html`.
    pub out: Option<PathBuf>,
    pub connection: String,
    pub env: Option<String>,
}

/// Reads the audit table and writes the page; returns the exit code (0, or 2 on an error).
pub async fn command(config: Option<&Path>, args: ReportArgs) -> u8 {
    let config = match Config::load(config, None, args.env.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| config.metadata_dir.join("report.html"));
    let handle = tokio::runtime::Handle::current();
    let (conn, project) = (args.connection.clone(), args.project.clone());
    let read = tokio::task::spawn_blocking(move || {
        let url = config.connection_url(&conn)?;
        let options = crate::connectors::open::OpenOptions::from_config(&config);
        let db = crate::connectors::open::open_with(&conn, &url, &options)?;
        let io = Io {
            handle,
            cancel: CancellationToken::new(),
        };
        let records = db.audit_history(&io, project.as_deref(), MAX_RECORDS)?;
        Ok::<_, crate::error::EtlError>((db.describe(), records))
    })
    .await;
    let (source, records) = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            return 2;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let now = Utc::now();
    let since = now - Duration::days(i64::from(args.days));
    let projects = model::build(&records, since);
    let info = html::PageInfo {
        generated: now,
        since,
        days: args.days,
        source,
        project: args.project.clone(),
        records: records.len(),
        truncated: records.len() >= MAX_RECORDS,
    };
    let page = html::page(&projects, &info);
    if out.as_os_str() == "-" {
        print!("{page}");
        return 0;
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("error: {}: {e}", dir.display());
            return 2;
        }
    }
    if let Err(e) = std::fs::write(&out, page) {
        eprintln!("error: {}: {e}", out.display());
        return 2;
    }
    let runs: usize = projects.iter().map(|p| p.runs.len()).sum();
    println!(
        "Wrote {} ({} runs of {} projects in the last {} days).",
        out.display(),
        runs,
        projects.len(),
        args.days
    );
    0
}
