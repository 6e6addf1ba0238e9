//! `etl new NAME`.

use std::path::Path;

use crate::scaffold;

pub(super) fn new(dir: &Path, name: &str) -> u8 {
    match scaffold::new_project(dir, name) {
        Ok(path) => {
            println!(
                "Created {}. Run it with: etl exec {}",
                path.display(),
                path.display()
            );
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
