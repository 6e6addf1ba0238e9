//! What a task *is*, as a number that changes when an edit can change what the task does.
//!
//! A task's fingerprint hashes:
//! - the tokens of its closure (whitespace and comments do not count, so reformatting or
//!   moving code around does not re-run anything), found from the closure's position in
//!   the compiled AST;
//! - the tokens of every script function it calls, transitively, in the same file;
//! - the text of every module it reaches through `alias::fn(...)` (and what those modules
//!   import), and of modules it imports itself;
//! - the values it captured (a relation by its origin and steps: table, SQL text and
//!   parameters, CSV path and options, `.map`/`.filter` closures by their tokens);
//! - its `after` list and retries.
//!
//! Files a task reads while it runs (`run_file`, CSV sources, modules imported inside the
//! task) are not part of this: the runner records them, and an edit to one re-runs the
//! tasks that read it (see `session.rs`). When a closure cannot be found in the token
//! stream (one inside a literal the optimizer folded into a constant, `[|x| x, 1]`), its
//! fingerprint falls back to Rhai's own name for it, which hashes the body with positions:
//! an edit anywhere above it then re-runs it (never too few re-runs).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::ops::Range;

use rhai::{ASTNode, Dynamic, Engine, Expr, FnPtr, Position, Stmt, Token, AST};

use crate::script::api::{Conn, Relation, Step};
use crate::script::{Project, TaskDef};

/// A token reduced to what the analysis looks at; `text` is what is hashed.
#[derive(Clone, Debug)]
struct Tok {
    text: String,
    kind: Kind,
    pos: Position,
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Ident(String),
    Str(String),
    Open,
    Close,
    LeftParen,
    DoubleColon,
    Import,
    Pipe,
    Or,
    Stop,
    Other,
}

/// One source file: its tokens, where each function's tokens are, its imports.
struct FileIndex {
    text_hash: u64,
    toks: Vec<Tok>,
    /// Function name (closures: `anon$...`) -> token ranges (overloads merge).
    fns: HashMap<String, Vec<Range<usize>>>,
    /// Module alias -> import path, from every `import "path" as alias`.
    aliases: HashMap<String, String>,
}

/// The fingerprints of one compiled project.
pub struct Analysis {
    files: HashMap<String, FileIndex>,
    main: String,
    /// Import path -> source name, as the resolver found them.
    modules: HashMap<String, String>,
}

pub fn hash_text(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

impl Analysis {
    /// Indexes every source the project's compilation read (the script and its modules).
    pub fn of(project: &Project) -> Analysis {
        let sources = &project.host.sources;
        let main = project.host.script_name();
        let mut files = HashMap::new();
        let mut modules = HashMap::new();
        for (name, text) in sources.all() {
            if name == main {
                files.insert(name, index_file(&project.engine, &text, &project.ast));
            } else if let Ok(ast) = project.engine.compile(&*text) {
                files.insert(name, index_file(&project.engine, &text, &ast));
            }
        }
        for file in files.values() {
            for path in file.aliases.values() {
                if let Some(src) = sources.resolve_module(path) {
                    modules.insert(path.clone(), src);
                }
            }
        }
        Analysis {
            files,
            main,
            modules,
        }
    }

    /// The fingerprint of a task of this project.
    pub fn task(&self, def: &TaskDef) -> u64 {
        let mut h = DefaultHasher::new();
        def.after.hash(&mut h);
        def.retries.hash(&mut h);
        let mut seen = HashSet::new();
        self.fn_print(&def.source, def.func.fn_name(), &mut seen)
            .hash(&mut h);
        for v in def.func.iter_curry() {
            self.value_print(&v.flatten_clone(), &def.source, &mut h, 0);
        }
        h.finish()
    }

    /// A function by name: its tokens and what it reaches; unknown names hash as names.
    fn fn_print(&self, file: &str, name: &str, seen: &mut HashSet<(String, String)>) -> u64 {
        let mut h = DefaultHasher::new();
        // A closure's name hashes its body *with positions*: only its tokens count, unless
        // it cannot be found (then the name is all there is).
        if !name.starts_with("anon$") {
            name.hash(&mut h);
        }
        if !seen.insert((file.to_string(), name.to_string())) {
            return h.finish();
        }
        // Closures are unique by name across files; look in the task's file first.
        let found = self
            .files
            .get(file)
            .filter(|f| f.fns.contains_key(name))
            .map(|f| (file.to_string(), f))
            .or_else(|| {
                self.files
                    .iter()
                    .find(|(_, f)| f.fns.contains_key(name))
                    .map(|(n, f)| (n.clone(), f))
            });
        let Some((file, index)) = found else {
            name.hash(&mut h);
            return h.finish();
        };
        for range in &index.fns[name] {
            let toks = &index.toks[range.clone()];
            for (i, t) in toks.iter().enumerate() {
                t.text.hash(&mut h);
                let next = toks.get(i + 1).map(|n| &n.kind);
                match (&t.kind, next) {
                    (Kind::Ident(f), Some(Kind::LeftParen))
                        if f != name && index.fns.contains_key(f) =>
                    {
                        self.fn_print(&file, f, seen).hash(&mut h);
                    }
                    (Kind::Ident(ns), Some(Kind::DoubleColon)) => {
                        if ns == "global" {
                            self.file_hash(&self.main).hash(&mut h);
                        } else if let Some(path) = index.aliases.get(ns) {
                            self.module_print(path, &mut HashSet::new()).hash(&mut h);
                        }
                    }
                    (Kind::Import, Some(Kind::Str(path))) => {
                        self.module_print(path, &mut HashSet::new()).hash(&mut h);
                    }
                    _ => {}
                }
            }
        }
        h.finish()
    }

    fn file_hash(&self, file: &str) -> u64 {
        self.files.get(file).map(|f| f.text_hash).unwrap_or(0)
    }

    /// A module's whole text and, transitively, the modules it imports.
    fn module_print(&self, path: &str, seen: &mut HashSet<String>) -> u64 {
        let mut h = DefaultHasher::new();
        path.hash(&mut h);
        let Some(file) = self.modules.get(path) else {
            return h.finish();
        };
        if !seen.insert(file.clone()) {
            return h.finish();
        }
        self.file_hash(file).hash(&mut h);
        if let Some(index) = self.files.get(file) {
            let imports: BTreeMap<&String, &String> = index.aliases.iter().collect();
            for p in imports.values() {
                self.module_print(p, seen).hash(&mut h);
            }
        }
        h.finish()
    }

    /// A captured value by content: relations by origin and steps, closures by tokens.
    fn value_print(&self, v: &Dynamic, file: &str, h: &mut DefaultHasher, depth: usize) {
        v.type_name().hash(h);
        if depth > 16 {
            return;
        }
        if let Some(f) = v.clone().try_cast::<FnPtr>() {
            self.fn_print(file, f.fn_name(), &mut HashSet::new())
                .hash(h);
            for c in f.iter_curry() {
                self.value_print(&c.flatten_clone(), file, h, depth + 1);
            }
        } else if let Some(r) = v.clone().try_cast::<Relation>() {
            format!("{:?}", r.origin).hash(h);
            r.source.describe().hash(h);
            for s in &r.steps {
                match s {
                    Step::Map(f) | Step::Filter(f) => {
                        matches!(s, Step::Map(_)).hash(h);
                        self.fn_print(file, f.fn_name(), &mut HashSet::new())
                            .hash(h);
                        for c in f.iter_curry() {
                            self.value_print(&c.flatten_clone(), file, h, depth + 1);
                        }
                    }
                    Step::Limit(n) => n.hash(h),
                }
            }
        } else if let Some(c) = v.clone().try_cast::<Conn>() {
            c.name.hash(h);
        } else if let Some(m) = v.clone().try_cast::<rhai::Map>() {
            for (k, x) in &m {
                k.as_str().hash(h);
                self.value_print(&x.flatten_clone(), file, h, depth + 1);
            }
        } else if let Some(a) = v.clone().try_cast::<rhai::Array>() {
            a.len().hash(h);
            for x in &a {
                self.value_print(&x.flatten_clone(), file, h, depth + 1);
            }
        } else {
            format!("{v:?}").hash(h);
        }
    }
}

fn index_file(engine: &Engine, text: &str, ast: &AST) -> FileIndex {
    let toks = lex(engine, text);
    let mut fns: HashMap<String, Vec<Range<usize>>> = HashMap::new();
    let mut aliases = HashMap::new();
    // Closures: an anonymous function's constant sits where its `|` is.
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Expr(Expr::DynamicConstant(v, pos))) => {
                if let Some(f) = (**v).clone().try_cast::<FnPtr>() {
                    if f.fn_name().starts_with("anon$") {
                        if let Some(r) = closure_range(&toks, *pos) {
                            fns.entry(f.fn_name().to_string()).or_default().push(r);
                        }
                    }
                }
            }
            Some(ASTNode::Stmt(Stmt::Import(x, _))) => {
                if let Expr::StringConstant(p, _) = &x.0 {
                    aliases.insert(x.1.name.to_string(), p.to_string());
                }
            }
            _ => {}
        }
        true
    });
    // Named functions: their `{ ... }` body, with the parameter names.
    for f in ast.iter_fn_def() {
        if f.name.starts_with("anon$") {
            continue;
        }
        let (start, end) = (f.body.start_position(), f.body.end_position());
        if start.is_none() || end.is_none() {
            continue;
        }
        let from = toks.iter().position(|t| t.pos >= start);
        let to = toks.iter().rposition(|t| t.pos <= end);
        if let (Some(a), Some(b)) = (from, to) {
            if a <= b {
                fns.entry(f.name.to_string()).or_default().push(a..b + 1);
            }
        }
    }
    FileIndex {
        text_hash: hash_text(text),
        toks,
        fns,
        aliases,
    }
}

/// The tokens of a closure from its `|`: parameters, then a `{ block }` or an expression
/// that ends at a `,`, `;` or closing bracket outside any bracket of its own.
fn closure_range(toks: &[Tok], at: Position) -> Option<Range<usize>> {
    let start = toks.iter().position(|t| t.pos == at)?;
    let mut i = start;
    match toks[i].kind {
        Kind::Or => i += 1,
        Kind::Pipe => {
            i += 1;
            while toks.get(i)?.kind != Kind::Pipe {
                i += 1;
            }
            i += 1;
        }
        _ => return None,
    }
    let mut depth = 0usize;
    let block = toks.get(i)?.kind == Kind::Open && toks[i].text == "LeftBrace";
    while let Some(t) = toks.get(i) {
        match t.kind {
            Kind::Open | Kind::LeftParen => depth += 1,
            Kind::Close if depth == 0 => return Some(start..i),
            Kind::Close => {
                depth -= 1;
                if depth == 0 && block {
                    return Some(start..i + 1);
                }
            }
            Kind::Stop if depth == 0 => return Some(start..i),
            _ => {}
        }
        i += 1;
    }
    Some(start..toks.len())
}

/// Rhai's tokens of a text (comments dropped), following back-tick strings through their
/// `${...}` interpolations the way the parser does.
fn lex(engine: &Engine, text: &str) -> Vec<Tok> {
    let inputs = [text];
    let (iter, control) = engine.lex(&inputs);
    let mut out = Vec::new();
    // Per open brace: true when it opens an interpolation.
    let mut braces: Vec<bool> = Vec::new();
    let mut interpolation_next = false;
    for (tok, pos) in iter {
        let kind = match &tok {
            Token::EOF => break,
            Token::Comment(_) => continue,
            Token::Identifier(s) => Kind::Ident(s.to_string()),
            Token::StringConstant(s) => Kind::Str(s.to_string()),
            Token::InterpolatedString(_) => {
                interpolation_next = true;
                Kind::Other
            }
            Token::LeftBrace => {
                braces.push(std::mem::take(&mut interpolation_next));
                Kind::Open
            }
            Token::MapStart => {
                braces.push(false);
                Kind::Open
            }
            Token::RightBrace => {
                if braces.pop() == Some(true) {
                    control.borrow_mut().is_within_text = true;
                }
                Kind::Close
            }
            Token::LeftParen => Kind::LeftParen,
            Token::LeftBracket => Kind::Open,
            Token::RightParen | Token::RightBracket => Kind::Close,
            Token::DoubleColon => Kind::DoubleColon,
            Token::Import => Kind::Import,
            Token::Pipe => Kind::Pipe,
            Token::Or => Kind::Or,
            Token::Comma | Token::SemiColon => Kind::Stop,
            _ => Kind::Other,
        };
        let text = match &tok {
            Token::LeftBrace => "LeftBrace".to_string(),
            other => format!("{other:?}"),
        };
        out.push(Tok { text, kind, pos });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(text: &str) -> FileIndex {
        let engine = Engine::new();
        let ast = engine.compile(text).unwrap();
        index_file(&engine, text, &ast)
    }

    fn closure_texts(f: &FileIndex) -> Vec<String> {
        let mut out: Vec<String> = f
            .fns
            .iter()
            .filter(|(n, _)| n.starts_with("anon$"))
            .flat_map(|(_, rs)| rs.iter())
            .map(|r| {
                f.toks[r.clone()]
                    .iter()
                    .map(|t| t.text.clone())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn closures_end_where_their_expression_or_block_ends() {
        let f = index(
            "let a = 1;\nlet f = |x| x + a;\nlet g = || { let s = `v ${a} w`; s };\nlet h = [|y| y.len() + a, a];\n",
        );
        let texts = closure_texts(&f);
        assert_eq!(texts.len(), 3, "{texts:?}");
        assert!(
            texts.iter().any(|t| t.ends_with("Identifier(\"a\")")),
            "{texts:?}"
        );
        assert!(
            texts
                .iter()
                .any(|t| t.starts_with("Or LeftBrace") && t.ends_with("RightBrace")),
            "{texts:?}"
        );
        assert!(
            texts
                .iter()
                .any(|t| t.contains("\"len\"") && t.ends_with("Identifier(\"a\")")),
            "{texts:?}"
        );
    }

    #[test]
    fn moving_code_keeps_tokens_and_edits_change_them() {
        let a = index("fn helper(x) { x + 1 }\nlet f = |r| helper(r);\n");
        let b = index("// a comment\n\n\nfn helper(x) {\n  x + 1\n}\nlet f = |r|   helper(r);\n");
        let c = index("fn helper(x) { x + 2 }\nlet f = |r| helper(r);\n");
        assert_eq!(closure_texts(&a), closure_texts(&b));
        let helper = |f: &FileIndex| {
            f.fns["helper"]
                .iter()
                .flat_map(|r| f.toks[r.clone()].iter().map(|t| t.text.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(helper(&a), helper(&b));
        assert_ne!(helper(&a), helper(&c));
    }
}
