//! `import` resolution: `import "etl/NAME"` loads the standard library (`stdlib/NAME.rhai` on
//! disk beside the config, else the copy built into the binary); any other path is a file
//! relative to the importing script's folder. Each module's source is registered so errors
//! inside it show its lines.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope};

type SharedModule = Arc<Module>;

use super::host::Sources;
use super::paths::Fence;
use super::record::Recorder;

/// Modules importing modules deeper than this are refused: each level is a nested evaluation
/// on the script thread's stack.
const MAX_IMPORT_DEPTH: usize = 32;

thread_local! {
    /// The modules being evaluated on this thread, outermost first: an import of one of them
    /// is a cycle, which would otherwise recurse until the stack overflows and the process
    /// aborts.
    static IMPORTING: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The standard library compiled into the binary, so an installed `etl` works anywhere.
const BUILT_IN: &[(&str, &str)] = &[("copy", include_str!("../../stdlib/copy.rhai"))];

pub struct ProjectResolver {
    pub project_dir: PathBuf,
    pub stdlib_dir: PathBuf,
    pub sources: Arc<Sources>,
    /// Notes modules imported while a task runs (`etl watch`).
    pub recorder: Option<Arc<Recorder>>,
    /// `[security] allowed_paths`: the project's own modules must be inside it (the standard
    /// library is the operator's, not the script's, choice).
    pub fence: Option<Fence>,
}

impl ProjectResolver {
    /// The module's source name and text; None when there is no such file; the refusal of
    /// `[security] allowed_paths`.
    fn locate(
        &self,
        importer: Option<&str>,
        path: &str,
    ) -> Result<Option<(String, String)>, String> {
        if let Some(name) = path.strip_prefix("etl/") {
            let file = self.stdlib_dir.join(format!("{name}.rhai"));
            if let Ok(text) = std::fs::read_to_string(&file) {
                return Ok(Some((file.display().to_string(), text)));
            }
            return Ok(BUILT_IN
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, text)| (format!("<built-in>/stdlib/{name}.rhai"), text.to_string())));
        }
        let base = importer
            .map(Path::new)
            .filter(|p| p.is_file())
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.project_dir.clone());
        let mut file = base.join(path);
        if file.extension().is_none() {
            file.set_extension("rhai");
        }
        if let Some(fence) = &self.fence {
            file = fence.check(&file, None)?;
        }
        Ok(std::fs::read_to_string(&file)
            .ok()
            .map(|text| (file.display().to_string(), text)))
    }
}

impl ModuleResolver for ProjectResolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        let found = self.locate(source, path).map_err(|refused| {
            EvalAltResult::ErrorRuntime(format!("import \"{path}\": {refused}").into(), pos)
        })?;
        let Some((name, text)) = found else {
            return Err(EvalAltResult::ErrorModuleNotFound(path.to_string(), pos).into());
        };
        self.sources.add(&name, &text);
        self.sources.register_module(path, &name);
        if let Some(r) = &self.recorder {
            if !name.starts_with("<built-in>") {
                r.input(Path::new(&name));
            }
        }
        let in_module = |e: Box<EvalAltResult>| -> Box<EvalAltResult> {
            EvalAltResult::ErrorInModule(path.to_string(), e, pos).into()
        };
        let _importing = Importing::enter(&name).map_err(|message| {
            EvalAltResult::ErrorRuntime(format!("import \"{path}\": {message}").into(), pos)
        })?;
        let mut ast = engine
            .compile(&text)
            .map_err(|e| in_module(EvalAltResult::ErrorParsing(*e.0, e.1).into()))?;
        ast.set_source(name.as_str());
        let module = Module::eval_ast_as_new(Scope::new(), &ast, engine).map_err(in_module)?;
        Ok(module.into())
    }
}

/// `name` on this thread's stack of modules being evaluated, for as long as it lives.
struct Importing;

impl Importing {
    fn enter(name: &str) -> Result<Importing, String> {
        IMPORTING.with(|stack| {
            let mut stack = stack.borrow_mut();
            if let Some(i) = stack.iter().position(|m| m == name) {
                let mut cycle: Vec<&str> = stack[i..].iter().map(String::as_str).collect();
                cycle.push(name);
                return Err(format!(
                    "the modules import each other in a cycle: {}",
                    cycle.join(" -> ")
                ));
            }
            if stack.len() >= MAX_IMPORT_DEPTH {
                return Err(format!(
                    "modules import modules more than {MAX_IMPORT_DEPTH} deep"
                ));
            }
            stack.push(name.to_string());
            Ok(Importing)
        })
    }
}

impl Drop for Importing {
    fn drop(&mut self) {
        // try_with: during thread teardown the slot may already be gone.
        let _ = IMPORTING.try_with(|stack| stack.borrow_mut().pop());
    }
}
