//! `[limits]` of etl.toml: the engine's guards against runaway scripts.

use serde::Deserialize;

/// Guards against runaway scripts (docs/scripting.md#limits). Loops in ETL scripts are
/// legitimately long, so the operation limit is high; it exists to stop an endless loop, not a
/// big job (a task's `timeout` is the sharper tool). The size limits stop a value that grows
/// without end before the process runs out of memory, which would abort every project of an
/// `etl schedule` at once. A project may change any of them for its tasks (`limits` option of
/// `project()`), except the two depths, which apply while the script is compiled.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Rhai operations in one evaluation (0: no limit).
    pub max_operations: u64,
    /// Nested function calls.
    pub max_call_levels: usize,
    /// `.rows()` refuses to materialise more rows than this into the interpreter.
    pub max_rows_in_script: usize,
    /// Bytes of one string, or of all the strings inside one array or map together (0: no
    /// limit). Rhai measures a collection as a whole, so this also bounds the text `.rows()`
    /// brings in.
    pub max_string_size: usize,
    /// Elements of one array, those of arrays nested in it included (0: no limit).
    pub max_array_size: usize,
    /// Entries of one map, those of maps nested in it included (0: no limit). Lower than the
    /// others because a small map costs Rhai some 400 bytes: a million entries of maps nested
    /// in a loop already take about 800 MB. `.rows()` counts one entry per column and row.
    pub max_map_size: usize,
    /// How deeply expressions nest at the top level / inside functions, checked when a script
    /// or module is compiled (Rhai's own defaults are lower in debug builds; these are its
    /// release values, so every build accepts the same scripts).
    pub max_expr_depth: usize,
    pub max_function_expr_depth: usize,
    /// `import` statements one evaluation runs (0: no limit): a loop that imports is a bug.
    pub max_modules: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 1_000_000_000,
            max_call_levels: 64,
            max_rows_in_script: 100_000,
            max_string_size: 64 * 1024 * 1024,
            max_array_size: 1_000_000,
            max_map_size: 1_000_000,
            max_expr_depth: 64,
            max_function_expr_depth: 32,
            max_modules: 10_000,
        }
    }
}

impl Limits {
    /// Deeper nesting than this could overflow a script thread's stack (a crash, not an
    /// error): Rhai recurses once per call level and per nested expression.
    pub const MAX_DEPTH: usize = 256;

    /// The values Rhai cannot take: 0 would switch a depth check off (0 means "no limit" for
    /// the other limits).
    pub fn check(&self) -> std::result::Result<(), String> {
        for (key, v) in [
            ("max_call_levels", self.max_call_levels),
            ("max_expr_depth", self.max_expr_depth),
            ("max_function_expr_depth", self.max_function_expr_depth),
        ] {
            if !(1..=Self::MAX_DEPTH).contains(&v) {
                return Err(format!(
                    "{key} must be from 1 to {}, not {v}",
                    Self::MAX_DEPTH
                ));
            }
        }
        Ok(())
    }
}
