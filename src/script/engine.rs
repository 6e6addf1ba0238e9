//! The one engine builder, used by the CLI and the tests alike.

use std::sync::Arc;

use rhai::Engine;

use super::host::Host;
use super::modules::ProjectResolver;
use crate::config::Limits;

/// The stack of the threads scripts run on. Rhai recurses once per call level and per nested
/// expression, and a debug build spends some 40 KiB per call level: the default 2 MiB
/// overflows (and the process aborts) before `max_call_levels` = 64 is reached. This holds
/// `Limits::MAX_DEPTH` levels with room to spare; untouched pages cost nothing.
pub const THREAD_STACK_SIZE: usize = 64 * 1024 * 1024;

pub fn build(host: &Arc<Host>) -> Engine {
    let mut engine = Engine::new();
    // The top level runs under etl.toml's limits; the project's own apply to its tasks
    // (`factory::load` sets them once `project()` has declared them).
    set_limits(&mut engine, &host.config.limits);
    engine.set_module_resolver(ProjectResolver {
        project_dir: host.project_dir.clone(),
        stdlib_dir: std::env::var_os("ETL_STDLIB")
            .map(Into::into)
            .unwrap_or_else(|| host.config.base_dir.join("stdlib")),
        sources: host.sources.clone(),
        recorder: host.recorder.clone(),
        fence: host.fence.clone(),
    });
    engine.on_print(|text| tracing::info!(target: "script", "{text}"));
    engine.on_debug(|text, source, pos| {
        let at = source
            .map(|s| format!("{s}:{}", pos.line().unwrap_or(0)))
            .unwrap_or_default();
        tracing::debug!(target: "script", "{at} {text}");
    });
    // Ctrl-C (or a scheduler's shutdown) stops a script between two operations, and so does
    // the end of its task's `timeout`; connectors stop on the same tokens (`Host::task_io`).
    let cancel = host.io.cancel.clone();
    // Checked every 64 operations: a row transform runs a few operations per row, and the
    // check itself (a clock for the task's timeout) would cost as much as they do.
    engine.on_progress(move |ops| {
        if ops % 64 != 0 {
            return None;
        }
        crate::context::interruption(&cancel).map(Into::into)
    });
    super::api::register(&mut engine, host);
    engine
}

/// Every limit of `[limits]` Rhai enforces itself (`max_rows_in_script` is the API's). Without
/// the size limits a value that doubles in a loop exhausts memory, and the allocation failure
/// aborts the whole process: no audit record, and every project of `etl schedule` gone with it.
pub fn set_limits(engine: &mut Engine, limits: &Limits) {
    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_levels);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);
    engine.set_max_expr_depths(limits.max_expr_depth, limits.max_function_expr_depth);
    engine.set_max_modules(match limits.max_modules {
        0 => usize::MAX,
        n => n,
    });
}
