//! Script errors rendered as `path:line:col: message`, the source line, a caret under the
//! column, then one line per enclosing call (closure, function, imported module).

use std::fmt;
use std::path::Path;

use rhai::{EvalAltResult, ParseError, Position};

use super::host::Sources;
use super::limits::{explain, explain_parse};
use crate::config::Limits;

#[derive(Clone, Debug)]
pub struct Frame {
    /// The script file (as registered in `Sources`); None when unknown.
    pub source: Option<String>,
    pub line: usize,
    pub column: usize,
    /// What happened at this place ("in closure call", "in call to 'f'", "in import of 'm'").
    pub note: String,
}

#[derive(Clone, Debug)]
pub struct ScriptError {
    pub message: String,
    /// Innermost place first: where the error happened, then where that was called from.
    pub frames: Vec<Frame>,
    rendered: String,
}

impl ScriptError {
    /// `limits` are those the script was compiled under, named when it ran into one.
    pub fn from_parse(
        err: &ParseError,
        source: &str,
        sources: &Sources,
        limits: &Limits,
    ) -> ScriptError {
        let frame = frame(Some(source.to_string()), err.position(), String::new());
        ScriptError::build(syntax_error(err.err_type(), limits), vec![frame], sources)
    }

    /// Walks Rhai's nested call errors down to the innermost one, collecting every place.
    /// `limits` are those the script ran under, named when it ran into one.
    pub fn from_eval(
        err: &EvalAltResult,
        main_source: &str,
        sources: &Sources,
        limits: &Limits,
    ) -> ScriptError {
        let mut outer = Vec::new();
        let mut current = Some(main_source.to_string());
        let mut e = err;
        loop {
            match e {
                EvalAltResult::ErrorInFunctionCall(name, src, inner, pos) => {
                    let note = if name.starts_with("anon$") {
                        "in closure".to_string()
                    } else {
                        format!("in call to '{name}'")
                    };
                    outer.push(frame(current.clone(), *pos, note));
                    if !src.is_empty() {
                        current = Some(src.clone());
                    }
                    e = inner;
                }
                EvalAltResult::ErrorInModule(name, inner, pos) => {
                    outer.push(frame(
                        current.clone(),
                        *pos,
                        format!("in import of module '{name}'"),
                    ));
                    current = sources.resolve_module(name).or(current);
                    e = inner;
                }
                EvalAltResult::ErrorParsing(p, pos) => {
                    let mut frames = vec![frame(current, *pos, String::new())];
                    frames.extend(outer.into_iter().rev());
                    return ScriptError::build(syntax_error(p, limits), frames, sources);
                }
                inner => {
                    let message = match explain(inner, limits) {
                        Some(why) => format!("{} {why}", message_of(inner)),
                        None => message_of(inner),
                    };
                    let mut frames = vec![frame(current, inner.position(), String::new())];
                    frames.extend(outer.into_iter().rev());
                    return ScriptError::build(message, frames, sources);
                }
            }
        }
    }

    /// An error found after evaluation (graph validation) at a recorded script position.
    pub fn at(
        source: &str,
        pos: Position,
        message: impl Into<String>,
        sources: &Sources,
    ) -> ScriptError {
        ScriptError::build(
            message.into(),
            vec![frame(Some(source.to_string()), pos, String::new())],
            sources,
        )
    }

    fn build(message: String, frames: Vec<Frame>, sources: &Sources) -> ScriptError {
        let rendered = render(&message, &frames, sources);
        ScriptError {
            message,
            frames,
            rendered,
        }
    }

    /// `path:line:col` of the innermost frame.
    pub fn location(&self) -> String {
        self.frames.first().map(location).unwrap_or_default()
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rendered)
    }
}

impl std::error::Error for ScriptError {}

fn frame(source: Option<String>, pos: Position, note: String) -> Frame {
    Frame {
        source,
        line: pos.line().unwrap_or(0),
        column: pos.position().unwrap_or(0),
        note,
    }
}

fn location(f: &Frame) -> String {
    let path = f
        .source
        .as_deref()
        .map(display_path)
        .unwrap_or_else(|| "<script>".into());
    if f.line == 0 {
        path
    } else {
        format!("{path}:{}:{}", f.line, f.column.max(1))
    }
}

/// Paths under the working directory are shown relative to it: shorter, and clickable.
fn display_path(p: &str) -> String {
    let path = Path::new(p);
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|r| r.display().to_string()))
        .unwrap_or_else(|| p.to_string())
}

fn syntax_error(err: &rhai::ParseErrorType, limits: &Limits) -> String {
    explain_parse(err, limits).unwrap_or_else(|| format!("syntax error: {err}"))
}

/// Rhai's own text for an error, without its "(line x, position y)" suffix: we print the
/// position ourselves, in the editor-friendly `file:line:col` form.
fn message_of(err: &EvalAltResult) -> String {
    let text = match err {
        EvalAltResult::ErrorRuntime(v, _) => v.to_string(),
        EvalAltResult::ErrorTerminated(v, _) if !v.is_unit() => v.to_string(),
        other => other.to_string(),
    };
    without_position(&text).to_string()
}

/// `text` without Rhai's " (line N)" or " (line N, position M)" at its end. Only that exact
/// suffix: a message that merely ends in ')' and names a line earlier (a database error for
/// "statement 2 (line 2): ... (SQL Server error 102, line 1)") is kept whole.
fn without_position(text: &str) -> &str {
    let Some(i) = text.rfind(" (line ") else {
        return text;
    };
    let Some(inner) = text[i + 7..].strip_suffix(')') else {
        return text;
    };
    let (line, position) = match inner.split_once(", position ") {
        Some((l, p)) => (l, Some(p)),
        None => (inner, None),
    };
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if number(line) && position.is_none_or(number) {
        &text[..i]
    } else {
        text
    }
}

fn render(message: &str, frames: &[Frame], sources: &Sources) -> String {
    let mut out = String::new();
    let Some(first) = frames.first() else {
        return message.to_string();
    };
    out.push_str(&format!("{}: {message}\n", location(first)));
    out.push_str(&snippet(first, sources));
    for f in &frames[1..] {
        out.push_str(&format!("  {} at {}\n", f.note, location(f)));
        out.push_str(&snippet(f, sources));
    }
    out.trim_end().to_string()
}

fn snippet(f: &Frame, sources: &Sources) -> String {
    let Some(text) = f.source.as_deref().and_then(|s| sources.text(s)) else {
        return String::new();
    };
    let Some(line) = text
        .lines()
        .nth(f.line.saturating_sub(1))
        .filter(|_| f.line > 0)
    else {
        return String::new();
    };
    let number = f.line.to_string();
    let pad = " ".repeat(number.len());
    // Tabs keep their width under the caret, so it lines up in any terminal.
    let caret_pad: String = line
        .chars()
        .take(f.column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!("{pad} |\n{number} | {line}\n{pad} | {caret_pad}^\n")
}

#[cfg(test)]
mod position_tests {
    use super::without_position;

    #[test]
    fn only_rhais_own_position_suffix_is_dropped() {
        assert_eq!(without_position("boom (line 3, position 34)"), "boom");
        assert_eq!(without_position("boom (line 3)"), "boom");
        let db = "f.sql: statement 2 (line 2): Incorrect syntax near 'X'. (SQL Server error 102, line 1)";
        assert_eq!(without_position(db), db);
        assert_eq!(without_position("a (line x)"), "a (line x)");
        assert_eq!(without_position("no suffix"), "no suffix");
    }
}
