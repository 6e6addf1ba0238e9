//! The one engine builder, used by the CLI and the tests alike.

use std::sync::Arc;

use rhai::Engine;

use super::host::Host;
use super::modules::ProjectResolver;

pub fn build(host: &Arc<Host>) -> Engine {
    let mut engine = Engine::new();
    let limits = &host.config.limits;
    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_levels);
    engine.set_module_resolver(ProjectResolver {
        project_dir: host.project_dir.clone(),
        stdlib_dir: std::env::var_os("ETL_STDLIB")
            .map(Into::into)
            .unwrap_or_else(|| host.config.base_dir.join("stdlib")),
        sources: host.sources.clone(),
        recorder: host.recorder.clone(),
    });
    engine.on_print(|text| tracing::info!(target: "script", "{text}"));
    engine.on_debug(|text, source, pos| {
        let at = source
            .map(|s| format!("{s}:{}", pos.line().unwrap_or(0)))
            .unwrap_or_default();
        tracing::debug!(target: "script", "{at} {text}");
    });
    // Ctrl-C (or a scheduler's shutdown) stops a script between two operations; connectors
    // check the same token between batches.
    let cancel = host.io.cancel.clone();
    engine.on_progress(move |_| {
        cancel
            .is_cancelled()
            .then(|| "the run was cancelled".into())
    });
    super::api::register(&mut engine, host);
    engine
}
