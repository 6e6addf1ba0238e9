//! `etl check`: compile a script and validate its task graph without connecting.

use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::config::{io, load_config};
use crate::exec;
use crate::script::{factory, Host, Mode};

/// Evaluates the script on a blocking thread (scripts never run on async workers).
async fn load_project(host: Arc<Host>) -> Result<factory::Project, u8> {
    exec::compile(host).await.map_err(|e| {
        eprintln!("error: {e}");
        2
    })
}

pub(super) async fn check(config: Option<&Path>, script: &Path, env: Option<&str>) -> u8 {
    let config = match load_config(config, Some(script), env) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let host = Host::new(Mode::Check, config, script, io(CancellationToken::new()));
    match load_project(host).await {
        Ok(p) => {
            if let Err(e) = crate::notify::NotifySpec::from_meta(&p.meta.extra) {
                eprintln!("error: {}: {e}", script.display());
                return 2;
            }
            println!(
                "{}: project '{}' v{} is valid: {} tasks",
                script.display(),
                p.meta.name,
                p.meta.version,
                p.tasks.len()
            );
            for t in &p.tasks {
                let after = if t.after.is_empty() {
                    String::new()
                } else {
                    format!(" (after {})", t.after.join(", "))
                };
                println!("  {}{after}", t.name);
            }
            0
        }
        Err(code) => code,
    }
}
