//! What commands print as their result (a plan, a table, a page, definitions): written here
//! instead of with `print!`, which panics when the reader has gone away. A closed pipe
//! (`etl defs --stdout | head -1`) is no error: the rest of the output is dropped and the
//! command ends as it would have, without a message. Any other failure to write (a full
//! disk behind `> file`) is an error that says so.

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::outcome::CliError;

/// Set once a write found the reader gone: later output is dropped without trying.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to standard output as it is.
pub fn print(text: &str) -> Result<(), CliError> {
    if CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(CliError::system(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}

/// Writes `text` and a line break.
pub fn line(text: impl std::fmt::Display) -> Result<(), CliError> {
    print(&format!("{text}\n"))
}

/// A line of an interactive command (`etl watch`), which goes on whether or not anyone reads
/// its standard output.
pub fn note(text: impl std::fmt::Display) {
    if let Err(e) = line(text) {
        tracing::debug!("{e}");
    }
}
