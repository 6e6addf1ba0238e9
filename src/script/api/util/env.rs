//! `env("NAME")` / `env("NAME", default)`: settings from the environment. Secrets stay out of
//! scripts: a script that could read a password could also print it to a log, so names that
//! hold secrets are refused (connections get theirs through `connect`).

use rhai::{Dynamic, Engine};

use super::super::{fail, Res};

pub fn register(engine: &mut Engine) {
    engine.register_fn("env", |name: &str| -> Res<String> {
        refuse_secret(name)?;
        std::env::var(name).map_err(|_| {
            fail(format!(
                "env(\"{name}\"): the environment variable {name} is not set: set it, or give a default: env(\"{name}\", \"...\")"
            ))
        })
    });
    engine.register_fn("env", |name: &str, default: Dynamic| -> Res<Dynamic> {
        refuse_secret(name)?;
        Ok(std::env::var(name).map(Dynamic::from).unwrap_or(default))
    });
}

/// Whether `name` looks like it holds a secret: `*PASSWORD*`, `*SECRET*`, `*TOKEN*` (any
/// case) or a connection URL (`ETL_CONN_*`, which may carry a password).
pub fn is_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["PASSWORD", "SECRET", "TOKEN"]
        .iter()
        .any(|s| upper.contains(s))
        || upper.starts_with("ETL_CONN_")
}

fn refuse_secret(name: &str) -> Res<()> {
    if is_secret(name) {
        return Err(fail(format!(
            "env(\"{name}\"): scripts may not read variables that hold secrets (*PASSWORD*, *SECRET*, *TOKEN*, ETL_CONN_*); connections take their passwords from the environment themselves: name the connection in etl.toml and use connect(\"NAME\")"
        )));
    }
    Ok(())
}
