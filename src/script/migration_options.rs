//! The project option `migrations: #{ pending: "apply" | "refuse", include: ["etl/NAME"] }`.

use std::path::{Path, PathBuf};

use super::factory::ProjectMeta;

/// What a run does with pending migrations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pending {
    /// Applies them before the first task.
    #[default]
    Apply,
    /// Fails the run while any is pending (someone runs `etl migrate` deliberately).
    Refuse,
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    pub pending: Pending,
    /// Shared sets (`etl/NAME`), applied before the project's own.
    pub include: Vec<String>,
}

impl Options {
    pub fn from_meta(meta: &ProjectMeta) -> Result<Options, String> {
        let Some(value) = meta.extra.get("migrations") else {
            return Ok(Options::default());
        };
        let what = "project() option 'migrations'";
        let map = value
            .read_lock::<rhai::Map>()
            .ok_or_else(|| format!("{what} must be a map like #{{ pending: \"refuse\" }}"))?;
        let mut out = Options::default();
        for (key, v) in map.iter() {
            match key.as_str() {
                "pending" => {
                    out.pending = match v.clone().into_string().ok().as_deref() {
                        Some("apply") => Pending::Apply,
                        Some("refuse") => Pending::Refuse,
                        _ => {
                            return Err(format!(
                                "{what}: pending must be \"apply\" or \"refuse\", not {v}"
                            ))
                        }
                    }
                }
                "include" => {
                    let list = v.read_lock::<rhai::Array>().ok_or_else(|| {
                        format!("{what}: include must be a list like [\"etl/NAME\"]")
                    })?;
                    for item in list.iter() {
                        let name = item.clone().into_string().map_err(|_| {
                            format!("{what}: include lists shared sets as strings (\"etl/NAME\")")
                        })?;
                        let ok = name.strip_prefix("etl/").is_some_and(|n| {
                            !n.is_empty()
                                && n.chars()
                                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                        });
                        if !ok {
                            return Err(format!(
                                "{what}: include names shared sets as \"etl/NAME\" (a folder \
                                 under stdlib/migrations/), not \"{name}\""
                            ));
                        }
                        out.include.push(name);
                    }
                }
                other => {
                    return Err(format!(
                        "{what}: unknown key '{other}' (expected pending, include)"
                    ))
                }
            }
        }
        Ok(out)
    }
}

/// The folder of the standard library: `$ETL_STDLIB`, else `stdlib/` beside etl.toml.
pub fn stdlib_dir(base_dir: &Path) -> PathBuf {
    std::env::var_os("ETL_STDLIB")
        .map(Into::into)
        .unwrap_or_else(|| base_dir.join("stdlib"))
}
