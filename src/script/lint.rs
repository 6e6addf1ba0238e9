//! Static checks on a compiled script, so `etl check` finds what Rhai would only report when
//! the line runs: a call to a function that exists nowhere (a typo inside a task closure
//! would otherwise surface at 2 a.m.).

use std::collections::HashSet;

use rhai::{ASTNode, Engine, Expr, Position, Stmt, AST};

/// Keywords that parse as calls but are not registered functions.
const KEYWORDS: &[&str] = &[
    "Fn",
    "call",
    "curry",
    "is_shared",
    "is_def_fn",
    "is_def_var",
    "type_of",
    "print",
    "debug",
    "eval",
    "this",
];

/// Calls to unqualified functions that neither the engine, the script nor Rhai's keywords
/// define, with their positions, in source order.
pub fn unknown_functions(engine: &Engine, ast: &AST) -> Vec<(String, Position)> {
    let mut known: HashSet<String> = engine
        .gen_fn_signatures(true)
        .iter()
        .filter_map(|sig| sig.split('(').next())
        .map(|name| name.rsplit("::").next().unwrap_or(name).trim().to_string())
        .collect();
    known.extend(ast.iter_functions().map(|f| f.name.to_string()));
    known.extend(KEYWORDS.iter().map(|k| k.to_string()));
    let mut unknown = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        // A call used as a statement (`f(x);`) is a Stmt, not an Expr.
        let call = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(call, pos) | Expr::MethodCall(call, pos))) => {
                Some((call, pos))
            }
            Some(ASTNode::Stmt(Stmt::FnCall(call, pos))) => Some((call, pos)),
            _ => None,
        };
        if let Some((call, pos)) = call {
            let name = call.name.as_str();
            if call.namespace.is_empty()
                && call.op_token.is_none()
                && !name.contains('$')
                && !known.contains(name)
            {
                unknown.push((name.to_string(), *pos));
            }
        }
        true
    });
    unknown.sort_by_key(|(_, p)| (p.line(), p.position()));
    unknown
}
