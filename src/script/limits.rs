//! The engine's limits as scripts meet them: a project's `limits` option over `[limits]` of
//! etl.toml, and the message that names the limit a script ran into and how to raise it
//! (Rhai's own words, "Length of string too large", say neither).

use rhai::{Dynamic, Engine, EvalAltResult, Map, ParseErrorType, Position};

use crate::config::Limits;

/// The keys a project may set for its tasks. The expression depths are not among them: they
/// apply while the script is compiled, before `project()` runs.
const PROJECT_KEYS: &[&str] = &[
    "max_operations",
    "max_call_levels",
    "max_rows_in_script",
    "max_string_size",
    "max_array_size",
    "max_map_size",
    "max_modules",
];

/// `project(name, #{ limits: #{ max_string_size: 200_000_000 } })`: `base` with the project's
/// values, checked like `[limits]` of etl.toml.
pub fn project_option(base: &Limits, map: Map) -> Result<Limits, String> {
    let mut limits = base.clone();
    for (key, value) in map {
        let what = || format!("project() option 'limits': {key}");
        let n = value
            .as_int()
            .map_err(|t| format!("{} must be a whole number (0 or more), not {t}", what()))?;
        let n = u64::try_from(n).map_err(|_| format!("{} must be 0 or more, not {n}", what()))?;
        let size = usize::try_from(n).map_err(|_| format!("{} is too large: {n}", what()))?;
        match key.as_str() {
            "max_operations" => limits.max_operations = n,
            "max_call_levels" => limits.max_call_levels = size,
            "max_rows_in_script" => limits.max_rows_in_script = size,
            "max_string_size" => limits.max_string_size = size,
            "max_array_size" => limits.max_array_size = size,
            "max_map_size" => limits.max_map_size = size,
            "max_modules" => limits.max_modules = size,
            "max_expr_depth" | "max_function_expr_depth" => {
                return Err(format!(
                    "{}: the expression depths apply while the script is compiled, before \
                     project() runs; set them in [limits] of etl.toml",
                    what()
                ))
            }
            _ => {
                return Err(format!(
                    "project() option 'limits': unknown limit '{key}' (valid: {})",
                    PROJECT_KEYS.join(", ")
                ))
            }
        }
    }
    limits
        .check()
        .map_err(|e| format!("project() option 'limits': {e}"))?;
    Ok(limits)
}

/// The size of a collection an API function builds element by element (`.rows()`), measured
/// the way Rhai measures it, so the function stops at the limit instead of building the whole
/// thing first (Rhai checks a native function's result only once it is complete).
#[derive(Default)]
pub struct Growth {
    array: usize,
    map: usize,
    string: usize,
}

impl Growth {
    /// Adds `value` as one more element of an array; Rhai's error when that passes a limit.
    pub fn push(&mut self, engine: &Engine, value: &Dynamic) -> Result<(), Box<EvalAltResult>> {
        self.array += 1;
        self.add(value);
        let over = |n: usize, max: usize| max > 0 && n > max;
        let what = if over(self.string, engine.max_string_size()) {
            "Length of string"
        } else if over(self.array, engine.max_array_size()) {
            "Size of array/BLOB"
        } else if over(self.map, engine.max_map_size()) {
            "Size of object map"
        } else {
            return Ok(());
        };
        Err(EvalAltResult::ErrorDataTooLarge(what.into(), Position::NONE).into())
    }

    fn add(&mut self, value: &Dynamic) {
        if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
            self.string += s.len();
        } else if let Some(a) = value.read_lock::<rhai::Array>() {
            for v in a.iter() {
                self.array += 1;
                self.add(v);
            }
        } else if let Some(m) = value.read_lock::<Map>() {
            for v in m.values() {
                self.map += 1;
                self.add(v);
            }
        } else if let Some(b) = value.read_lock::<rhai::Blob>() {
            self.array += 1 + b.len();
        }
    }
}

/// What to add to Rhai's text when `err` (the innermost error) is a limit: what it measures,
/// its value and how to raise it.
pub fn explain(err: &EvalAltResult, limits: &Limits) -> Option<String> {
    let (what, key) = match err {
        EvalAltResult::ErrorDataTooLarge(typ, _) if typ.starts_with("Length of string") => (
            "a string, or the strings in one array or map counted together",
            "max_string_size",
        ),
        EvalAltResult::ErrorDataTooLarge(typ, _) if typ.starts_with("Size of array") => (
            "counting the elements of the arrays inside it",
            "max_array_size",
        ),
        EvalAltResult::ErrorDataTooLarge(typ, _) if typ.starts_with("Size of object map") => {
            ("counting the entries of the maps inside it", "max_map_size")
        }
        EvalAltResult::ErrorTooManyOperations(_) => (
            "an endless loop? A task's timeout option stops one sooner",
            "max_operations",
        ),
        EvalAltResult::ErrorStackOverflow(_) => ("endless recursion?", "max_call_levels"),
        EvalAltResult::ErrorTooManyModules(_) => ("an import in a loop?", "max_modules"),
        _ => return None,
    };
    Some(format!("({what}): {}", raise(key, limits)))
}

/// The same for a compile error.
pub fn explain_parse(err: &ParseErrorType, limits: &Limits) -> Option<String> {
    match err {
        ParseErrorType::ExprTooDeep => Some(format!(
            "an expression nests too deeply: limits.max_expr_depth is {} (inside functions, \
             limits.max_function_expr_depth is {}); raise them in [limits] of etl.toml",
            limits.max_expr_depth, limits.max_function_expr_depth
        )),
        ParseErrorType::LiteralTooLarge(typ, _) => {
            let key = if typ.contains("string") {
                "max_string_size"
            } else if typ.contains("array") {
                "max_array_size"
            } else {
                "max_map_size"
            };
            Some(format!("a literal is too large: {}", raise(key, limits)))
        }
        _ => None,
    }
}

fn raise(key: &str, limits: &Limits) -> String {
    let (value, unit) = match key {
        "max_string_size" => (limits.max_string_size as u64, " bytes"),
        "max_array_size" => (limits.max_array_size as u64, " elements"),
        "max_map_size" => (limits.max_map_size as u64, " entries"),
        "max_operations" => (limits.max_operations, ""),
        "max_call_levels" => (limits.max_call_levels as u64, ""),
        _ => (limits.max_modules as u64, ""),
    };
    let off = if key == "max_call_levels" {
        ""
    } else {
        ", 0 for no limit"
    };
    format!(
        "limits.{key} is {value}{unit}; raise it in [limits] of etl.toml, or for this project's \
         tasks with the project() option limits: #{{ {key}: N }}{off}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhai::Dynamic;

    fn map(pairs: &[(&str, Dynamic)]) -> Map {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), v.clone()))
            .collect()
    }

    #[test]
    fn a_project_changes_the_limits_of_its_tasks() {
        let base = Limits::default();
        let l = project_option(
            &base,
            map(&[
                ("max_string_size", Dynamic::from(1_000_i64)),
                ("max_operations", Dynamic::from(0_i64)),
            ]),
        )
        .unwrap();
        assert_eq!(l.max_string_size, 1_000);
        assert_eq!(l.max_operations, 0);
        assert_eq!(l.max_array_size, base.max_array_size);
    }

    #[test]
    fn a_bad_project_limit_is_refused_with_its_name() {
        let base = Limits::default();
        let err = |pairs: &[(&str, Dynamic)]| project_option(&base, map(pairs)).unwrap_err();
        let e = err(&[("max_strings", Dynamic::from(1_i64))]);
        assert!(
            e.contains("unknown limit 'max_strings'") && e.contains("max_string_size"),
            "{e}"
        );
        let e = err(&[("max_array_size", Dynamic::from(-1_i64))]);
        assert!(e.contains("max_array_size must be 0 or more"), "{e}");
        let e = err(&[("max_map_size", Dynamic::from("big"))]);
        assert!(e.contains("max_map_size must be a whole number"), "{e}");
        let e = err(&[("max_expr_depth", Dynamic::from(100_i64))]);
        assert!(e.contains("[limits] of etl.toml"), "{e}");
        let e = err(&[("max_call_levels", Dynamic::from(0_i64))]);
        assert!(e.contains("max_call_levels"), "{e}");
    }

    #[test]
    fn a_limit_error_names_the_setting_and_its_value() {
        let limits = Limits::default();
        let err = EvalAltResult::ErrorDataTooLarge("Length of string".into(), Default::default());
        let text = explain(&err, &limits).unwrap();
        assert!(
            text.starts_with("(a string, or the strings in one array or map counted together): ")
                && text.contains("limits.max_string_size is 67108864 bytes")
                && text.contains("[limits] of etl.toml")
                && text.contains("limits: #{ max_string_size: N }"),
            "{text}"
        );
        assert!(explain(
            &EvalAltResult::ErrorRuntime("x".into(), Default::default()),
            &limits
        )
        .is_none());
    }
}
