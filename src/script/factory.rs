//! The factory: evaluates a project script's top level, which declares `project(...)` and
//! `task(...)`s, and turns them into a validated task graph.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rhai::{Engine, FnPtr, Position, AST};

use super::engine;
use super::errors::ScriptError;
use super::host::Host;

#[derive(Clone, Debug, Default)]
pub struct ProjectMeta {
    pub name: String,
    pub version: String,
    pub description: String,
    /// Default connection for loads and the audit table.
    pub target: String,
    pub schedule: Option<String>,
    pub keep_output: bool,
    pub log_keep_days: u32,
    pub log_keep_runs: u32,
    /// Options later subsystems read (notify); kept as given.
    pub extra: rhai::Map,
}

#[derive(Clone)]
pub struct TaskDef {
    pub name: String,
    pub after: Vec<String>,
    pub retries: u32,
    pub retry_delay: Duration,
    /// The wall-clock limit of each attempt (the `timeout` option); None: no limit.
    pub timeout: Option<Duration>,
    pub func: FnPtr,
    /// The script state where `task(...)` was called (its functions and imports), so a
    /// closure defined inside an imported module still finds its module when it runs.
    pub(crate) defined_in: Arc<CallSite>,
    pub pos: Position,
    pub source: String,
}

/// Rhai's persisted call context (its API is marked volatile, hence the allow).
#[allow(deprecated)]
pub(crate) struct CallSite(pub rhai::NativeCallContextStore);

impl TaskDef {
    /// Calls the task's closure with the run map, in the state where it was defined.
    #[allow(deprecated)]
    pub fn call(
        &self,
        engine: &Engine,
        run: rhai::Map,
    ) -> Result<rhai::Dynamic, Box<rhai::EvalAltResult>> {
        let ctx = self.defined_in.0.create_context(engine);
        // Each call gets its own copy of the captured values: Rhai shares a captured variable
        // between the closures that capture it and write-locks it for the whole of a method
        // call, so two tasks calling `dw.load(...)` on one top-level `dw` at once would fail
        // with "Data race detected".
        let mut func = self.func.clone();
        let captured: Vec<rhai::Dynamic> = func
            .iter_curry()
            .map(rhai::Dynamic::flatten_clone)
            .collect();
        func.set_curry(captured);
        func.call_within_context(&ctx, (run,))
    }
}

#[derive(Default)]
pub(crate) struct Definitions {
    pub project: Option<(ProjectMeta, Position, String)>,
    pub tasks: Vec<TaskDef>,
}

pub struct Project {
    pub meta: ProjectMeta,
    /// In definition order.
    pub tasks: Vec<TaskDef>,
    pub engine: Arc<Engine>,
    pub ast: Arc<AST>,
    pub host: Arc<Host>,
}

impl Project {
    pub fn task(&self, name: &str) -> Option<&TaskDef> {
        self.tasks.iter().find(|t| t.name == name)
    }

    /// Renders a runtime error raised inside this project's script.
    pub fn script_error(&self, err: &rhai::EvalAltResult) -> ScriptError {
        let host = &self.host;
        ScriptError::from_eval(err, &host.script_name(), &host.sources, host.limits())
    }
}

/// Compiles and evaluates the script, then validates the graph.
pub fn load(host: Arc<Host>) -> Result<Project, ScriptError> {
    let name = host.script_name();
    let text = std::fs::read_to_string(&host.script).map_err(|e| {
        ScriptError::at(
            &name,
            Position::NONE,
            format!("cannot read the project script: {e}"),
            &host.sources,
        )
    })?;
    host.sources.add(&name, &text);
    let mut engine = engine::build(&host);
    let mut ast = engine
        .compile(&text)
        .map_err(|e| ScriptError::from_parse(&e, &name, &host.sources, &host.config.limits))?;
    ast.set_source(name.as_str());
    if let Some((func, pos)) = super::lint::unknown_functions(&engine, &ast)
        .into_iter()
        .next()
    {
        return Err(ScriptError::at(
            &name,
            pos,
            format!("unknown function '{func}': it is not part of the etl API, Rhai or this script (see docs/scripting.md)"),
            &host.sources,
        ));
    }
    engine
        .run_ast(&ast)
        .map_err(|e| ScriptError::from_eval(&e, &name, &host.sources, &host.config.limits))?;

    let defs = std::mem::take(&mut *host.defs.lock().expect("defs lock"));
    let Some((meta, _, _)) = defs.project else {
        return Err(ScriptError::at(
            &name,
            Position::new(1, 1),
            "the script never calls project(...): start it with `project(\"name\", #{ version: \"1.0.0\" });`",
            &host.sources,
        ));
    };
    validate(&defs.tasks, &host)?;
    engine::set_limits(&mut engine, host.limits());
    Ok(Project {
        meta,
        tasks: defs.tasks,
        engine: Arc::new(engine),
        ast: Arc::new(ast),
        host,
    })
}

fn validate(tasks: &[TaskDef], host: &Host) -> Result<(), ScriptError> {
    let names: HashSet<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    for t in tasks {
        for dep in &t.after {
            if !names.contains(dep.as_str()) {
                let mut known: Vec<&str> = names.iter().copied().collect();
                known.sort();
                return Err(ScriptError::at(
                    &t.source,
                    t.pos,
                    format!(
                        "task '{}' runs after '{dep}', which is not a task (tasks: {})",
                        t.name,
                        known.join(", ")
                    ),
                    &host.sources,
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(tasks) {
        let first = tasks
            .iter()
            .find(|t| t.name == cycle[0])
            .expect("cycle members are tasks");
        return Err(ScriptError::at(
            &first.source,
            first.pos,
            format!(
                "the tasks depend on each other in a cycle: {}",
                cycle.join(" -> ")
            ),
            &host.sources,
        ));
    }
    Ok(())
}

/// A dependency cycle as a path that returns to its start, if there is one.
pub fn find_cycle(tasks: &[TaskDef]) -> Option<Vec<String>> {
    let deps: HashMap<&str, &[String]> = tasks
        .iter()
        .map(|t| (t.name.as_str(), t.after.as_slice()))
        .collect();
    // 0 = unseen, 1 = on the current path, 2 = done.
    let mut state: HashMap<&str, u8> = HashMap::new();
    fn visit<'a>(
        n: &'a str,
        deps: &HashMap<&'a str, &'a [String]>,
        state: &mut HashMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|p| *p == n).expect("on path");
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n, 1);
        path.push(n);
        for d in deps.get(n).copied().unwrap_or_default() {
            if let Some(c) = visit(d.as_str(), deps, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n, 2);
        None
    }
    for t in tasks {
        if let Some(c) = visit(&t.name, &deps, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}
