//! SQL text helpers that keep values out of the text: `quote_ident(name)` for identifiers
//! (`conn.quote_ident(name)` in the connection's own dialect) and `sql_in(list)`, which turns
//! a list into placeholders plus the parameters they bind:
//!
//!     let ids = sql_in([3, 5, 8]);   // #{ sql: "(:in_0, :in_1, :in_2)", params: #{ in_0: 3, ... } }
//!     dw.query(`SELECT * FROM orders WHERE id IN ${ids.sql}`, ids.params)

use rhai::{Array, Dynamic, Engine, Map};

use super::super::connection::Conn;
use super::super::{fail, Res};
use crate::connectors::Dialect;

/// More values than this belong in a table joined to, not in one statement.
const MAX_IN_VALUES: usize = 10_000;

pub fn register(engine: &mut Engine) {
    engine.register_fn("quote_ident", |name: &str| quote(name, '"'));
    engine.register_fn("quote_ident", |c: &mut Conn, name: &str| -> Res<String> {
        let conn = c.open()?;
        match conn.dialect() {
            Some(Dialect::Mysql) => quote(name, '`'),
            _ => quote(name, '"'),
        }
    });
    engine.register_fn("sql_in", |values: Array| sql_in("in", values));
    engine.register_fn("sql_in", |prefix: &str, values: Array| {
        sql_in(prefix, values)
    });
}

/// One identifier, quoted and with its quote character doubled; a dot stays part of the name
/// (quote schema and table apart: `quote_ident("sales") + "." + quote_ident("orders")`).
fn quote(name: &str, q: char) -> Res<String> {
    if name.is_empty() || name.contains('\0') {
        return Err(fail(
            "quote_ident(): an identifier is not empty and has no NUL character",
        ));
    }
    let doubled = name.replace(q, &format!("{q}{q}"));
    Ok(format!("{q}{doubled}{q}"))
}

fn sql_in(prefix: &str, values: Array) -> Res<Map> {
    let valid = !prefix.is_empty()
        && prefix.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(fail(format!(
            "sql_in(\"{prefix}\", ..): the parameter prefix is letters, digits and '_'"
        )));
    }
    if values.is_empty() {
        return Err(fail(
            "sql_in(): the list is empty, and `IN ()` is not SQL: skip the query when there is nothing to look for",
        ));
    }
    if values.len() > MAX_IN_VALUES {
        return Err(fail(format!(
            "sql_in(): {} values is more than {MAX_IN_VALUES}: load the list into a table and join it",
            values.len()
        )));
    }
    let mut names = Vec::with_capacity(values.len());
    let mut params = Map::new();
    for (i, v) in values.into_iter().enumerate() {
        if v.is_map() || v.is_array() {
            return Err(fail(format!(
                "sql_in(): item {i} is {}: the list holds plain values",
                v.type_name()
            )));
        }
        let name = format!("{prefix}_{i}");
        names.push(format!(":{name}"));
        params.insert(name.into(), v);
    }
    let mut out = Map::new();
    out.insert("sql".into(), format!("({})", names.join(", ")).into());
    out.insert("params".into(), Dynamic::from_map(params));
    Ok(out)
}
