//! `project(name, opts)` and `task(name, opts, closure)`: the declarations the factory collects.

use std::sync::Arc;
use std::time::Duration;

use rhai::{Engine, FnPtr, Map, NativeCallContext};

use super::options::Options;
use super::{fail, Res};
use crate::script::factory::{ProjectMeta, TaskDef};
use crate::script::host::Host;

const PROJECT_OPTIONS: &[&str] = &[
    "version",
    "description",
    "target",
    "schedule",
    "timezone",
    "notify",
    "output",
    "logs",
    "missed",
    "load_type",
    "limits",
    "migrations",
];
const TASK_OPTIONS: &[&str] = &["after", "retries", "retry_delay", "timeout", "description"];
/// The longest `timeout`: a bound Duration can hold, far above any real task.
const MAX_TIMEOUT_SECONDS: f64 = 30.0 * 24.0 * 3600.0;

pub fn register(engine: &mut Engine, host: &Arc<Host>) {
    let h = host.clone();
    engine.register_fn(
        "project",
        move |ctx: NativeCallContext, name: &str, opts: Map| project(&h, &ctx, name, opts),
    );
    let h = host.clone();
    engine.register_fn("project", move |ctx: NativeCallContext, name: &str| {
        project(&h, &ctx, name, Map::new())
    });
    let h = host.clone();
    engine.register_fn(
        "task",
        move |ctx: NativeCallContext, name: &str, opts: Map, f: FnPtr| {
            task(&h, &ctx, name, opts, f)
        },
    );
    let h = host.clone();
    engine.register_fn(
        "task",
        move |ctx: NativeCallContext, name: &str, f: FnPtr| task(&h, &ctx, name, Map::new(), f),
    );
}

fn project(host: &Host, ctx: &NativeCallContext, name: &str, opts: Map) -> Res<()> {
    crate::script::project_options::check_name(name).map_err(fail)?;
    let mut o = Options::new("project()", opts, PROJECT_OPTIONS)?;
    let mut meta = ProjectMeta {
        name: name.to_string(),
        version: o.string("version")?.unwrap_or_else(|| "0.0.0".into()),
        description: o.string("description")?.unwrap_or_default(),
        target: o.string("target")?.unwrap_or_else(|| "warehouse".into()),
        schedule: o.string("schedule")?,
        keep_output: true,
        log_keep_days: 7,
        log_keep_runs: 30,
        extra: Map::new(),
    };
    if let Some(mut output) = o
        .map("output")?
        .map(|m| Options::new("project() option 'output'", m, &["keep"]))
        .transpose()?
    {
        meta.keep_output = output.bool("keep")?.unwrap_or(true);
    }
    if let Some(mut logs) = o
        .map("logs")?
        .map(|m| Options::new("project() option 'logs'", m, &["keep_days", "keep_runs"]))
        .transpose()?
    {
        meta.log_keep_days = non_negative("logs.keep_days", logs.int("keep_days")?.unwrap_or(7))?;
        meta.log_keep_runs = non_negative("logs.keep_runs", logs.int("keep_runs")?.unwrap_or(30))?;
    }
    for key in ["timezone", "notify", "missed", "load_type", "migrations"] {
        if let Some(v) = o.take(key) {
            meta.extra.insert(key.into(), v);
        }
    }
    let limits = o
        .map("limits")?
        .map(|m| crate::script::limits::project_option(host.limits(), m))
        .transpose()
        .map_err(fail)?;
    // schedule, timezone, missed, load_type: what the scheduler and launchers read.
    crate::script::project_options::ProjectOptions::from_meta(&meta).map_err(fail)?;
    crate::script::migration_options::Options::from_meta(&meta).map_err(fail)?;
    host.check_connection(&meta.target).map_err(fail)?;
    let mut defs = host.defs.lock().expect("defs lock");
    if defs.project.is_some() {
        return Err(fail(
            "project(...) is called twice: a script declares one project",
        ));
    }
    if let Some(limits) = limits {
        host.set_project_limits(limits);
    }
    defs.project = Some((
        meta,
        ctx.call_position(),
        ctx.call_source().unwrap_or_default().to_string(),
    ));
    Ok(())
}

#[allow(deprecated)]
fn call_site(ctx: &NativeCallContext) -> crate::script::factory::CallSite {
    crate::script::factory::CallSite(ctx.store_data())
}

fn non_negative(what: &str, v: i64) -> Res<u32> {
    u32::try_from(v).map_err(|_| fail(format!("{what} must be a whole number from 0, not {v}")))
}

fn task(host: &Host, ctx: &NativeCallContext, name: &str, opts: Map, func: FnPtr) -> Res<()> {
    if name.trim().is_empty() {
        return Err(fail("a task needs a name"));
    }
    let what = format!("task '{name}'");
    let mut o = Options::new(&what, opts, TASK_OPTIONS)?;
    let after = o.strings("after")?.unwrap_or_default();
    let retries = o.int("retries")?.unwrap_or(0);
    let retries = u32::try_from(retries)
        .map_err(|_| fail(format!("{what}: retries must be 0 or more, not {retries}")))?;
    let delay = o.number("retry_delay")?.unwrap_or(1.0);
    if !(0.0..=3600.0).contains(&delay) {
        return Err(fail(format!(
            "{what}: retry_delay must be between 0 and 3600 seconds, not {delay}"
        )));
    }
    let timeout = match o.number("timeout")? {
        None => None,
        Some(t) if t > 0.0 && t <= MAX_TIMEOUT_SECONDS => Some(Duration::from_secs_f64(t)),
        Some(t) => {
            return Err(fail(format!(
                "{what}: timeout must be a number of seconds above 0 and at most \
                 {MAX_TIMEOUT_SECONDS} (30 days), not {t}"
            )))
        }
    };
    let _ = o.string("description")?;
    let mut defs = host.defs.lock().expect("defs lock");
    if defs.tasks.iter().any(|t| t.name == name) {
        return Err(fail(format!(
            "a task named '{name}' is already defined: task names must be unique"
        )));
    }
    defs.tasks.push(TaskDef {
        name: name.to_string(),
        after,
        retries,
        retry_delay: Duration::from_secs_f64(delay),
        timeout,
        func,
        defined_in: Arc::new(call_site(ctx)),
        pos: ctx.call_position(),
        source: ctx
            .call_source()
            .map(str::to_string)
            .unwrap_or_else(|| host.script_name()),
    });
    Ok(())
}
