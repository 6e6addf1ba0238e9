//! `etl runs`: the audit history of a connection as a table.

use std::path::Path;

use super::args::RunsArgs;
use crate::exec;
use crate::outcome::{CliError, Outcome};
use crate::report::history;

/// Records `etl runs` shows at most (a larger `--limit` would not fit the databases' LIMIT).
const MAX_LIMIT: usize = 1_000_000;

pub(super) async fn runs(config: Option<&Path>, args: RunsArgs) -> Result<Outcome, CliError> {
    if args.limit > MAX_LIMIT {
        return Err(CliError::usage(format!(
            "--limit {} is more than etl runs shows: give at most {MAX_LIMIT} (or use etl report for the whole history)",
            args.limit
        )));
    }
    let config = exec::load_config(config, None, args.env.as_deref())?;
    let read = history::read(
        config,
        &args.connection,
        args.project.as_deref(),
        args.limit,
        args.checks,
    )
    .await?;
    let table = if args.checks {
        crate::audit_checks::history_table(&read.checks)
    } else {
        crate::audit::history_table(&read.records)
    };
    crate::stdout::print(&table)?;
    Ok(Outcome::Success)
}
