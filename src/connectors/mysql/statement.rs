//! The statement a MySQL/MariaDB read runs: with named parameters as `etl plan` shows it, then
//! with `?` placeholders and values (open window ends as the extremes of the cursor's type).

use mysql_async::Value as My;

use super::decode;
use super::parallel;
use super::source::{MySource, Query};
use super::types::{quote_ident, quote_table, MyType};
use super::CONNECTOR;
use crate::connectors::{query_params, sql_params, ReadOptions, SourceStatement};
use crate::error::Result;

/// One statement to stream: SQL with `?` placeholders and their values.
#[derive(Clone)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<My>,
}

impl MySource {
    /// The statement of a read with named parameters, as `etl plan` shows it: window
    /// conditions and an optional primary-key range for tables, `:since`/`:until` for SQL
    /// (left open when the window has no value for them).
    pub(super) fn named(
        &self,
        opts: &ReadOptions,
        range: Option<&parallel::Range>,
    ) -> Result<SourceStatement> {
        let mut out = SourceStatement {
            dialect: CONNECTOR.name,
            ..SourceStatement::default()
        };
        match &self.query {
            Query::Table { name, .. } => {
                out.sql = format!(
                    "SELECT * FROM {}",
                    quote_table(name).map_err(|e| self.err(e))?
                );
                let mut conds = Vec::new();
                if let Some(p) = opts
                    .window
                    .as_ref()
                    .and_then(|w| w.predicate(&quote_ident(&w.column)))
                {
                    conds.push(p.sql);
                    out.params = p.params;
                }
                if let Some(r) = range {
                    conds.push(r.condition(&mut out.params));
                }
                if !conds.is_empty() {
                    out.sql.push_str(" WHERE ");
                    out.sql.push_str(&conds.join(" AND "));
                }
                if let Some(l) = opts.limit {
                    out.sql.push_str(&format!(" LIMIT {l}"));
                }
            }
            Query::Sql(text, given) => {
                out.sql = single_statement(text).map_err(|e| self.err(e))?;
                let (_, names) = sql_params::rewrite_mysql(&out.sql).map_err(|e| self.err(e))?;
                (out.params, out.unbounded) = query_params(&names, given, opts.window.as_ref());
                if let Some(l) = opts.limit {
                    out.sql = format!("SELECT * FROM (\n{}\n) AS etl_q LIMIT {l}", out.sql);
                }
            }
        }
        Ok(out)
    }

    /// The statement as the server gets it: `?` placeholders and their values, open window
    /// ends as the extremes of the cursor's type.
    pub fn statement(
        &self,
        cols: &[(String, MyType)],
        opts: &ReadOptions,
        range: Option<&parallel::Range>,
    ) -> Result<Statement> {
        let named = self.named(opts, range)?;
        let (sql, names) = sql_params::rewrite_mysql(&named.sql).map_err(|e| self.err(e))?;
        let cursor_type = opts.window.as_ref().and_then(|w| {
            cols.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(&w.column))
                .map(|(_, t)| &t.data_type)
        });
        let mut params = Vec::with_capacity(names.len());
        for name in &names {
            if let Some((_, v)) = named.params.iter().find(|(k, _)| k == name) {
                params.push(decode::param(v).map_err(|e| self.err(format!(":{name}: {e}")))?);
            } else if named.unbounded.contains(name) {
                params.push(decode::extreme(cursor_type, name == "until"));
            } else {
                return Err(self.err(sql_params::missing(&format!(":{name}"), &named.params)));
            }
        }
        Ok(Statement { sql, params })
    }
}

/// The one statement of a `sql(...)` source, without a trailing `;`.
pub(super) fn single_statement(sql: &str) -> std::result::Result<String, String> {
    sql_params::one_statement(sql_params::split_statements_mysql(sql)?)
}
