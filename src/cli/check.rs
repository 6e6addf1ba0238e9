//! `etl check`: compile a script and validate its task graph without connecting.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::args::CheckArgs;
use crate::exec;
use crate::outcome::{CliError, Outcome};
use crate::script::{Host, HostOptions, Mode};

pub(super) async fn check(config: Option<&Path>, args: CheckArgs) -> Result<Outcome, CliError> {
    let script = args.script.as_path();
    let config = exec::load_config(config, Some(script), args.env.as_deref())?;
    let options = HostOptions {
        offline: args.offline,
        ..HostOptions::default()
    };
    let host = Host::with_options(
        Mode::Check,
        config,
        script,
        exec::io(CancellationToken::new()),
        options,
    );
    let p = exec::compile(host.clone())
        .await
        .map_err(CliError::script)?;
    exec::check_options(&p, script).map_err(CliError::script)?;
    crate::stdout::line(format_args!(
        "{}: project '{}' v{} is valid: {} tasks",
        script.display(),
        p.meta.name,
        p.meta.version,
        p.tasks.len()
    ))?;
    for t in &p.tasks {
        let after = if t.after.is_empty() {
            String::new()
        } else {
            format!(" (after {})", t.after.join(", "))
        };
        crate::stdout::line(format_args!("  {}{after}", t.name))?;
    }
    // A task list read from a source's catalog is only as complete as that read: say so.
    let introspected = host.introspected();
    if !introspected.is_empty() {
        let names = introspected
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ");
        if host.offline() {
            crate::stdout::line(format_args!(
                "The task list depends on the tables of {names}: not listed with --offline, so tasks defined from them are missing above; run etl check without --offline to connect and list them"
            ))?;
        } else {
            crate::stdout::line(format_args!(
                "Connected to {names} to list tables (the script introspects at its top level; the task list above depends on them)"
            ))?;
        }
    }
    Ok(Outcome::Success)
}
