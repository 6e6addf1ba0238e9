//! Which columns a `.map` or `.filter` closure can see. A closure that uses its row only as
//! `r.name` (read, assigned, or the head of a longer chain such as `r.name.len()`), and, for
//! `.map`, ends with `r`, behaves the same whether its row holds every column or only those
//! it names: a map's `.name` is a key lookup, so nothing else of the row is observable. Such
//! a closure is then called with those columns alone and every other column passes through
//! untouched, which saves building and converting the whole row per call.
//!
//! Anything the walk cannot follow keeps the whole row: the row passed to a function, indexed,
//! iterated, compared or printed as a whole, a `let` or loop variable of the same name, a
//! `return`, `eval`, a call that captures the scope (`f!()`), custom syntax, or a closure
//! made inside (which would capture the row).

use std::collections::BTreeSet;

use rhai::{ASTFlags, ASTNode, Expr, FnPtr, Module, NativeCallContext, Stmt, AST};

/// The columns `f` names when it can be called with those alone; `ends_with_row` asks that
/// its last statement be the row itself (a `.map`, whose result becomes the row).
pub fn columns_used(
    ctx: &NativeCallContext,
    f: &FnPtr,
    ends_with_row: bool,
) -> Option<BTreeSet<String>> {
    // A closure's captured variables come first, the row last.
    let arity = f.curry().len() + 1;
    let mut found = ctx.namespaces().iter().flat_map(|m| {
        m.iter_script_fn_info()
            .filter(|(_, _, name, n, _)| *name == f.fn_name() && *n == arity)
            .map(|(.., def)| def.clone())
    });
    let def = found.next()?;
    // Two functions of that name (a module's and the script's): which one a call reaches is
    // the engine's business, so neither is assumed.
    if found.any(|other| !std::sync::Arc::ptr_eq(&other, &def)) {
        return None;
    }
    let row = def.params.last()?.to_string();
    // The body is reachable only through a walk: an AST holding this one function.
    let mut lib = Module::new();
    lib.set_script_fn(def);
    let ast = AST::new(std::iter::empty(), lib);

    let mut seen = Seen::default();
    let followed = ast.walk(&mut |path: &[ASTNode]| seen.node(path, &row));
    if !followed || (ends_with_row && !seen.ends_with_row) {
        return None;
    }
    Some(seen.columns)
}

#[derive(Default)]
struct Seen {
    columns: BTreeSet<String>,
    /// The last top-level statement so far is the row itself.
    ends_with_row: bool,
}

impl Seen {
    /// Looks at the last node of `path`; false stops the walk (the row cannot be narrowed).
    fn node(&mut self, path: &[ASTNode], row: &str) -> bool {
        let Some(node) = path.last() else {
            return true;
        };
        let top = path.len() == 1;
        if top {
            self.ends_with_row = false;
        }
        match node {
            ASTNode::Stmt(s) => match s {
                Stmt::Var(x, ..) => x.0.name != row,
                Stmt::For(x, ..) => {
                    x.0.name != row && x.1.as_ref().is_none_or(|counter| counter.name != row)
                }
                // `throw` is allowed: it ends the call the same way either way.
                Stmt::Return(_, flags, _) => flags.contains(ASTFlags::BREAK),
                Stmt::Share(..) => false,
                Stmt::FnCall(call, _) => !call.capture_parent_scope && call.name != "eval",
                Stmt::Expr(e) if top => {
                    self.ends_with_row = is_row(e, row);
                    true
                }
                _ => true,
            },
            ASTNode::Expr(e) => match e {
                Expr::FnCall(call, _) | Expr::MethodCall(call, _) => {
                    !call.capture_parent_scope && call.name != "eval"
                }
                Expr::Custom(..) => false,
                Expr::Variable(..) if is_row(e, row) => self.row_use(path),
                _ => true,
            },
            // A kind of node this walk does not know.
            _ => false,
        }
    }

    /// The row variable where `path` ends: fine as the head of a property chain (the property
    /// is a column it uses) or as a statement of its own; anything else is not followed.
    fn row_use(&mut self, path: &[ASTNode]) -> bool {
        let Some(node) = path.last() else {
            return false;
        };
        match path.len().checked_sub(2).map(|i| &path[i]) {
            Some(ASTNode::Expr(Expr::Dot(chain, ..))) if same(&chain.lhs, node) => {
                let property = match &chain.rhs {
                    Expr::Property(p, _) => Some(p),
                    Expr::Dot(next, ..) | Expr::Index(next, ..) => match &next.lhs {
                        Expr::Property(p, _) => Some(p),
                        _ => None,
                    },
                    _ => None,
                };
                match property {
                    Some(p) => {
                        self.columns.insert(p.2.to_string());
                        true
                    }
                    None => false,
                }
            }
            // Only as a statement of the body itself: deeper, a block's value could carry it.
            Some(ASTNode::Stmt(Stmt::Expr(e))) if path.len() == 2 => same(e, node),
            _ => false,
        }
    }
}

/// `e` is the variable `row` (not a module's variable of that name).
fn is_row(e: &Expr, row: &str) -> bool {
    matches!(e, Expr::Variable(x, ..) if x.1 == row && x.2.is_empty())
}

fn same(e: &Expr, node: &ASTNode) -> bool {
    matches!(node, ASTNode::Expr(n) if std::ptr::eq(e, *n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhai::Engine;

    /// What `columns_used` says of the closure in `script`: its columns joined, or "whole row".
    fn used(script: &str, ends_with_row: bool) -> String {
        let mut engine = Engine::new();
        engine.register_fn("probe", move |ctx: NativeCallContext, f: FnPtr| {
            columns_used(&ctx, &f, ends_with_row).map_or("whole row".to_string(), |c| {
                c.into_iter().collect::<Vec<_>>().join(",")
            })
        });
        engine.eval::<String>(script).expect(script)
    }

    #[test]
    fn a_map_naming_its_columns_needs_only_those() {
        assert_eq!(
            used("probe(|r| { r.x2 = r.quantity * 2; r })", true),
            "quantity,x2"
        );
        assert_eq!(
            used(
                r#"probe(|r| { if r.note.len() > 3 { r.note = "long" } r })"#,
                true
            ),
            "note"
        );
        assert_eq!(used("probe(|r| { r.a += 1; r.b?.c; r })", true), "a,b");
        assert_eq!(
            used("let k = 2; probe(|r| { r.y = r.x * k; r })", true),
            "x,y"
        );
        assert_eq!(
            used(
                "fn double(r) { r.y = r.x * 2; r } probe(Fn(\"double\"))",
                true
            ),
            "x,y"
        );
        assert_eq!(used(r#"probe(|r| r.status == "paid")"#, false), "status");
        assert_eq!(used("probe(|r| { throw r.id })", false), "id");
    }

    #[test]
    fn anything_else_keeps_the_whole_row() {
        for script in [
            // the row as a whole: passed on, printed, iterated, indexed, compared, replaced
            "probe(|r| { r.n = r.len(); r })",
            "probe(|r| { print(r); r })",
            "probe(|r| { for k in r.keys() {} r })",
            r#"probe(|r| { r["x"] = 1; r })"#,
            "probe(|r| { r.remove(\"x\"); r })",
            "probe(|r| { r = #{ a: 1 }; r })",
            "probe(|r| { let s = r; s })",
            // a map that does not end with the row
            "probe(|r| { r.x = 1; #{ x: r.x } })",
            "probe(|r| { if r.x > 0 { return r; } r })",
            "probe(|r| { r.x = 1; if r.x > 0 { r } else { r } })",
            "probe(|r| { let s = { r }; s.y = s.len(); r })",
            // the name bound again, the scope reached otherwise
            "probe(|r| { let r = #{}; r })",
            "probe(|r| { for r in [#{}] { r.x = 1 } r })",
            r#"probe(|r| { eval("r.x = 1"); r })"#,
            "probe(|r| { let f = || r.x; r })",
            "fn g(r) { h(r) } fn h(r) { r } probe(Fn(\"g\"))",
        ] {
            assert_eq!(used(script, true), "whole row", "{script}");
        }
    }
}
