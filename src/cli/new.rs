//! `etl new NAME`.

use super::args::NewArgs;
use crate::outcome::{CliError, Outcome};
use crate::scaffold;

pub(super) fn new(args: NewArgs) -> Result<Outcome, CliError> {
    let path = scaffold::new_project(&args.dir, &args.name).map_err(CliError::usage)?;
    crate::stdout::line(format_args!(
        "Created {}. Run it with: etl exec {}",
        path.display(),
        path.display()
    ))?;
    Ok(Outcome::Success)
}
