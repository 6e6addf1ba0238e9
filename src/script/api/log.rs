//! `log_info`, `log_warn`, `log_error`: script messages in the run's log, tagged with the task.

use rhai::Engine;

use crate::context::current_task;

pub fn register(engine: &mut Engine) {
    engine.register_fn(
        "log_info",
        |msg: &str| tracing::info!(target: "script", task = %task(), "{msg}"),
    );
    engine.register_fn(
        "log_warn",
        |msg: &str| tracing::warn!(target: "script", task = %task(), "{msg}"),
    );
    engine.register_fn(
        "log_error",
        |msg: &str| tracing::error!(target: "script", task = %task(), "{msg}"),
    );
}

fn task() -> String {
    current_task()
        .map(|t| t.task.clone())
        .unwrap_or_else(|| "-".into())
}
