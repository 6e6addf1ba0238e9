//! Plain SQL on BigQuery: `execute`, `run_file` (a multi-statement script in one job, inside
//! BEGIN TRANSACTION .. COMMIT TRANSACTION) and small queries. BigQuery has no read-only
//! transactions: a read-only query (plans, dry runs, sample runs) must be one statement, start
//! with SELECT or WITH and be a SELECT by the server's dry run (which reads nothing) before it
//! runs.

use std::sync::Arc;

use super::client::Page;
use super::connect::Shared;
use super::rows;
use super::source::{colon_params, named, schema_of};
use super::types;
use crate::connectors::{sql_params, Access, Io, Params, Rows, SqlExec};
use crate::data::Value;
use crate::error::Result;

pub struct BqSql(pub Arc<Shared>);

fn bind(shared: &Shared, sql: &str, params: &Params) -> Result<(String, Params)> {
    let (text, names) = named(&colon_params(sql)).map_err(|e| shared.err(e))?;
    let values = names
        .into_iter()
        .map(|n| {
            let v = params
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| shared.err(sql_params::missing(&format!(":{n}"), params)))?;
            Ok((n, v))
        })
        .collect::<Result<Params>>()?;
    Ok((text, values))
}

impl SqlExec for BqSql {
    fn execute(&self, io: &Io, sql: &str, params: &Params) -> Result<u64> {
        let (text, values) = bind(&self.0, sql, params)?;
        let shared = self.0.clone();
        io.block_on(async move {
            let body = shared
                .client
                .query(&text, &values, false)
                .await
                .map_err(|e| shared.err(e))?;
            let page = Page::parse(&body).map_err(|e| shared.err(e))?;
            Ok(page.dml_rows.and_then(|n| n.parse().ok()).unwrap_or(0))
        })
    }

    fn run_script(&self, io: &Io, file: &str, sql: &str, params: &Params) -> Result<u64> {
        let script = format!(
            "BEGIN TRANSACTION;\n{}\n;\nCOMMIT TRANSACTION;",
            sql.trim().trim_end_matches(';')
        );
        self.execute(io, &script, params)
            .map_err(|e| self.0.err(format!("{file}: {}", strip(e))))
    }

    fn query(
        &self,
        io: &Io,
        sql: &str,
        params: &Params,
        max_rows: usize,
        access: Access,
    ) -> Result<Rows> {
        let (text, values) = bind(&self.0, sql, params)?;
        let shared = self.0.clone();
        io.block_on(async move {
            if access == Access::ReadOnly {
                let keyword = sql_params::first_keyword(&text);
                if keyword != "SELECT" && keyword != "WITH" {
                    return Err(shared.err(format!(
                        "refused in a read-only context (plan, dry run, sample run): this statement starts with {keyword}, and BigQuery has no read-only transactions, so only SELECT queries run here"
                    )));
                }
                // One statement only: a script's dry run is no proof it reads only (and
                // bqemulator even runs a script it is asked to dry-run).
                let n = sql_params::split_statements(&text).map_err(|e| shared.err(e))?.len();
                if n > 1 {
                    return Err(shared.err(format!(
                        "refused in a read-only context (plan, dry run, sample run): this text holds {n} statements, and BigQuery has no read-only transactions, so only a single SELECT runs here"
                    )));
                }
                let body = shared.client.query(&text, &values, true).await.map_err(|e| shared.err(e))?;
                let kind = Page::parse(&body).map_err(|e| shared.err(e))?.statement_type;
                if kind.as_deref() != Some("SELECT") {
                    return Err(shared.err(format!(
                        "refused in a read-only context: BigQuery's dry run says this is a {}, not a SELECT",
                        kind.unwrap_or_else(|| "statement of unknown type".into())
                    )));
                }
            }
            let mut body = shared.client.query(&text, &values, false).await.map_err(|e| shared.err(e))?;
            let mut out: Vec<Vec<Value>> = Vec::new();
            let mut schema = None;
            loop {
                let page = Page::parse(&body).map_err(|e| shared.err(e))?;
                let job = page.job.clone();
                let fields = page.schema.clone().unwrap_or_default().fields;
                if page.job_complete != Some(false) {
                    if schema.is_none() {
                        schema = Some(schema_of(&fields).map_err(|e| shared.err(e))?);
                    }
                    for row in &page.rows {
                        if out.len() == max_rows {
                            return Err(shared.err(format!(
                                "query returned more than {max_rows} rows; stream it with .sql(...) into a load instead"
                            )));
                        }
                        let mut values = Vec::with_capacity(fields.len());
                        for (f, cell) in fields.iter().zip(&row.f) {
                            let (kind, _) = types::map(f).map_err(|e| shared.err(e))?;
                            values.push(
                                rows::decode(kind, f, cell.v)
                                    .map_err(|e| shared.err(format!("column '{}': {e}", f.name)))?,
                            );
                        }
                        out.push(values);
                    }
                }
                let next = match (page.job_complete, page.page_token.clone()) {
                    (Some(false), _) => None,
                    (_, Some(t)) => Some(t),
                    _ => break,
                };
                drop(page);
                let job = job.ok_or_else(|| shared.err("the query job has no reference"))?;
                body = shared.client.results(&job, next.as_deref()).await.map_err(|e| shared.err(e))?;
            }
            Ok(Rows {
                schema: schema.unwrap_or_default(),
                rows: out,
            })
        })
    }
}

fn strip(e: crate::error::EtlError) -> String {
    match e {
        crate::error::EtlError::Database { message, .. } => message,
        other => other.to_string(),
    }
}
