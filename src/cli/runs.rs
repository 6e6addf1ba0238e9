//! `etl runs`: the audit history of a connection as a table.

use std::path::Path;

use super::args::RunsArgs;
use crate::exec;
use crate::outcome::{CliError, Outcome};
use crate::report::history;

pub(super) async fn runs(config: Option<&Path>, args: RunsArgs) -> Result<Outcome, CliError> {
    let config = exec::load_config(config, None, args.env.as_deref())?;
    let read = history::read(
        config,
        &args.connection,
        args.project.as_deref(),
        args.limit,
    )
    .await?;
    print!("{}", crate::audit::history_table(&read.records));
    Ok(Outcome::Success)
}
