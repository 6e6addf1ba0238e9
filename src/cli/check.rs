//! `etl check`: compile a script and validate its task graph without connecting.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::args::CheckArgs;
use crate::exec;
use crate::outcome::{CliError, Outcome};
use crate::script::{Host, Mode};

pub(super) async fn check(config: Option<&Path>, args: CheckArgs) -> Result<Outcome, CliError> {
    let script = args.script.as_path();
    let config = exec::load_config(config, Some(script), args.env.as_deref())?;
    let host = Host::new(
        Mode::Check,
        config,
        script,
        exec::io(CancellationToken::new()),
    );
    let p = exec::compile(host).await.map_err(CliError::script)?;
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
    Ok(Outcome::Success)
}
