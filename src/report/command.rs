//! The `etl report` command: read the audit table, write the page.

use std::path::Path;

use chrono::{Duration, Utc};

use super::args::ReportArgs;
use super::{history, html, model};
use crate::config::Config;
use crate::outcome::{CliError, Outcome};

/// Audit records read at most (newest first).
pub const MAX_RECORDS: usize = 100_000;

/// Days of history a report covers at most.
pub const MAX_DAYS: u32 = 36_500;

pub async fn command(config: Option<&Path>, args: ReportArgs) -> Result<Outcome, CliError> {
    let config = Config::load(config, None, args.env.as_deref()).map_err(CliError::config)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| config.metadata_dir.join("report.html"));
    let history::History {
        source,
        records,
        checks,
    } = history::read(
        config,
        &args.connection,
        args.project.as_deref(),
        MAX_RECORDS,
        true,
    )
    .await?;
    let now = Utc::now();
    let since = Duration::try_days(i64::from(args.days))
        .filter(|_| args.days <= MAX_DAYS)
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| {
            CliError::usage(format!(
                "--days {} is more than a report covers: give at most {MAX_DAYS} (100 years)",
                args.days
            ))
        })?;
    let mut projects = model::build(&records, since);
    model::add_failed_checks(&mut projects, &checks, since);
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
        crate::stdout::print(&page)?;
        return Ok(Outcome::Success);
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::system(format!("{}: {e}", dir.display())))?;
    }
    std::fs::write(&out, page).map_err(|e| CliError::system(format!("{}: {e}", out.display())))?;
    let runs: usize = projects.iter().map(|p| p.runs.len()).sum();
    crate::stdout::line(format_args!(
        "Wrote {} ({} runs of {} projects in the last {} days).",
        out.display(),
        runs,
        projects.len(),
        args.days
    ))?;
    Ok(Outcome::Success)
}
