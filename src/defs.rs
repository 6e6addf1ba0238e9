//! `etl defs`: Rhai definition files (`*.d.rhai`, Rhai's `metadata` feature) for every
//! function the engine registers, so editors with Rhai support complete and check scripts.
//! The engine is the one `etl exec` builds (the same builder), without connecting anything.

use std::path::{Path, PathBuf};

use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::exec;
use crate::outcome::{CliError, Outcome};
use crate::script::{engine, Host, Mode};

#[derive(Args, Debug)]
pub struct DefsArgs {
    /// The folder to write the definition files into (created; files in it are replaced)
    #[arg(long, value_name = "DIR", default_value = "rhai-defs")]
    pub out: PathBuf,
    /// Print one combined file to standard output instead
    #[arg(long, conflicts_with = "out")]
    pub stdout: bool,
    /// Leave out Rhai's own standard library (only etl's functions)
    #[arg(long)]
    pub no_std: bool,
}

pub fn command(config: Option<&Path>, args: DefsArgs) -> Result<Outcome, CliError> {
    let config = exec::load_config(config, None, None)?;
    // The script path only anchors relative paths; nothing is read or run.
    let io = exec::io(CancellationToken::new());
    let host = Host::new(Mode::Check, config, Path::new("defs.rhai"), io);
    let engine = engine::build(&host);
    let defs = engine.definitions().include_standard_packages(!args.no_std);
    if args.stdout {
        crate::stdout::print(&tidy(&defs.single_file()))?;
        return Ok(Outcome::Success);
    }
    let written = std::fs::create_dir_all(&args.out).and_then(|()| {
        let mut files = Vec::new();
        for (name, text) in defs.iter_files() {
            std::fs::write(args.out.join(&name), tidy(&text))?;
            files.push(name);
        }
        Ok(files)
    });
    let mut files = written
        .map_err(|e| CliError::system(format!("cannot write {}: {e}", args.out.display())))?;
    files.sort();
    crate::stdout::line(format_args!(
        "Wrote {} definition files to {}: {}",
        files.len(),
        args.out.display(),
        files.join(", ")
    ))?;
    Ok(Outcome::Success)
}

/// Rhai writes the return type of a fallible native function (`Result<T, Box<EvalAltResult>>`)
/// as `EvalAltResult>>`; `?` (any value) is what the definition syntax means there.
fn tidy(text: &str) -> String {
    text.replace("-> EvalAltResult>>;", "-> ?;")
}
