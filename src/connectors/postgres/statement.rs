//! The statement a PostgreSQL read runs: the window pushed down, parameters named (what `etl
//! plan` prints) and then bound for the server, `COPY ... TO STDOUT` when nothing is bound.

use super::bind::{self, Bind, BindValue};
use super::source::{PgSource, Query};
use super::types::{quote_ident, PgType, TableName};
use crate::connectors::{query_params, sql_params, Params, ReadOptions};
use crate::error::Result;

/// The SQL of a read with named parameters: `COPY ... TO STDOUT` when nothing is bound.
pub(super) struct Statement {
    pub sql: String,
    pub params: Params,
    /// `:since` / `:until` without a value: bound to the extremes of the cursor's type.
    pub unbounded: Vec<String>,
}

impl PgSource {
    /// The statement for a read: the window pushed down for tables, `:since`/`:until` bound
    /// for SQL (open ends as the extremes of their type), unsupported types cast to text. The
    /// text keeps named parameters; `bind` turns it into what the server gets.
    pub(super) fn statement(
        &self,
        cols: &[(String, PgType)],
        opts: &ReadOptions,
    ) -> Result<Statement> {
        let cast_needed = cols.iter().any(|(_, t)| !t.supported());
        match &self.query {
            Query::Table(t) => {
                let table = TableName::parse(t).map_err(|e| self.err(e))?;
                let list = if cast_needed {
                    cols.iter()
                        .map(|(n, t)| select_item(&quote_ident(n), n, t))
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    "*".to_string()
                };
                let mut sql = format!("SELECT {list} FROM {}", table.quoted());
                let mut params = Params::new();
                if let Some(p) = opts
                    .window
                    .as_ref()
                    .and_then(|w| w.predicate(&quote_ident(&w.column)))
                {
                    sql.push_str(&format!(" WHERE {}", p.sql));
                    params = p.params;
                }
                let plain = self.plain_table.get().copied().unwrap_or(false);
                if plain && !cast_needed && params.is_empty() {
                    // Cheaper for the server than `COPY (SELECT ...)`.
                    sql = format!("COPY {} TO STDOUT (FORMAT binary)", table.quoted());
                }
                Ok(Statement {
                    sql,
                    params,
                    unbounded: Vec::new(),
                })
            }
            Query::Sql(text, given) => {
                let mut sql = single_statement(text).map_err(|e| self.err(e))?;
                let names = sql_params::param_names(&sql).map_err(|e| self.err(e))?;
                let (params, unbounded) = query_params(&names, given, opts.window.as_ref());
                if cast_needed {
                    let aliases: Vec<String> = (1..=cols.len()).map(|i| format!("c{i}")).collect();
                    let list: Vec<String> = cols
                        .iter()
                        .zip(&aliases)
                        .map(|((n, t), a)| select_item(&format!("etl_q.{a}"), n, t))
                        .collect();
                    sql = format!(
                        "SELECT {} FROM (\n{sql}\n) AS etl_q({})",
                        list.join(", "),
                        aliases.join(", ")
                    );
                }
                if params.is_empty() && unbounded.is_empty() {
                    sql = format!("COPY (\n{sql}\n) TO STDOUT (FORMAT binary)");
                }
                Ok(Statement {
                    sql,
                    params,
                    unbounded,
                })
            }
        }
    }
}

impl Statement {
    /// Whether the server streams it with COPY (no parameters to bind).
    pub(super) fn is_copy(&self) -> bool {
        self.sql.starts_with("COPY ")
    }

    /// The text for the server (`$n`) and the values, open window ends as the extremes of
    /// whatever type the server infers.
    pub(super) fn bind(&self) -> std::result::Result<(String, Vec<Bind>), String> {
        let mut params = self.params.clone();
        for name in &self.unbounded {
            params.push((name.clone(), crate::data::Value::Null));
        }
        let (sql, mut binds) = bind::prepare(&self.sql, &params)?;
        for b in binds.iter_mut() {
            if self.unbounded.contains(&b.name) {
                b.value = if b.name == "since" {
                    BindValue::Lowest
                } else {
                    BindValue::Highest
                };
            }
        }
        Ok((sql, binds))
    }
}

/// A column in a select list, read as text when its type has no binary codec here.
fn select_item(expr: &str, name: &str, t: &PgType) -> String {
    if t.supported() {
        format!("{expr} AS {}", quote_ident(name))
    } else {
        format!("{expr}::text AS {}", quote_ident(name))
    }
}

/// The one statement of a `sql(...)` source, without a trailing `;` (it is wrapped in COPY).
pub(super) fn single_statement(sql: &str) -> std::result::Result<String, String> {
    sql_params::one_statement(sql_params::split_statements(sql)?)
}
