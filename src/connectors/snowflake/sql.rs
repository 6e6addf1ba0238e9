//! Plain SQL on Snowflake: `execute`, `run_file` (one transaction: BEGIN .. COMMIT on the
//! session) and small queries. Snowflake has no read-only transactions, so a read-only query
//! (plans, dry runs, sample runs) must be a SELECT twice over: by its first keyword here, and
//! by the statement type the server reports for a describe-only request, before it runs.

use std::sync::Arc;

use super::connect::Shared;
use super::decode::{self, Columns};
use super::session::{self, is_select, QueryData};
use super::types;
use crate::connectors::sql_params::first_keyword;
use crate::connectors::{sql_params, Access, Io, Params, Rows, SqlExec};
use crate::data::{Batch, Column, Schema, Value};
use crate::error::Result;

pub struct SfSql(pub Arc<Shared>);

pub(super) fn single_statement(sql: &str) -> std::result::Result<String, String> {
    sql_params::one_statement(sql_params::split_statements_mysql(sql)?)
}

/// `:name` parameters as `?` and their values in placeholder order.
fn bind(shared: &Shared, sql: &str, params: &Params) -> Result<(String, Vec<Value>)> {
    let (text, names) = sql_params::rewrite_mysql(sql).map_err(|e| shared.err(e))?;
    let values = names
        .iter()
        .map(|name| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| shared.err(sql_params::missing(&format!(":{name}"), params)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((text, values))
}

/// Rows changed, from a DML result (its first column, per row of counts).
fn changed(data: &QueryData) -> u64 {
    data.rowset
        .as_ref()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r.first().cloned().flatten())
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

impl SfSql {
    /// Refuses anything but a query: Snowflake cannot run one read-only.
    async fn check_read_only(&self, sql: &str, binds: &[Value]) -> Result<()> {
        let shared = &self.0;
        let keyword = first_keyword(sql);
        if keyword != "SELECT" && keyword != "WITH" {
            return Err(shared.err(format!(
                "refused in a read-only context (plan, dry run, sample run): this statement starts with {keyword}, and Snowflake has no read-only transactions, so only SELECT queries run here"
            )));
        }
        let s = shared.session().await?;
        let described = s.query(sql, binds, true).await.map_err(|e| shared.err(e))?;
        if !is_select(described.statement_type_id) {
            return Err(shared.err(format!(
                "refused in a read-only context: Snowflake describes this statement as type {:#x}, not a SELECT",
                described.statement_type_id.unwrap_or(0)
            )));
        }
        Ok(())
    }
}

impl SqlExec for SfSql {
    fn execute(&self, io: &Io, sql: &str, params: &Params) -> Result<u64> {
        let (text, values) = bind(&self.0, sql, params)?;
        let shared = self.0.clone();
        io.block_on(async move {
            let s = shared.session().await?;
            let data = s
                .query(&text, &values, false)
                .await
                .map_err(|e| shared.err(e))?;
            Ok(changed(&data))
        })
    }

    fn run_script(&self, io: &Io, file: &str, sql: &str, params: &Params) -> Result<u64> {
        let statements = sql_params::split_statements_mysql(sql)
            .map_err(|e| self.0.err(format!("{file}: {e}")))?;
        let mut prepared = Vec::new();
        for (i, stmt) in statements.iter().enumerate() {
            let (text, values) = bind(&self.0, stmt, params)?;
            prepared.push((format!("{file}: statement {}", i + 1), text, values));
        }
        let shared = self.0.clone();
        io.block_on(async move {
            let s = shared.session().await?;
            s.query("BEGIN", &[], false)
                .await
                .map_err(|e| shared.err(e))?;
            let mut total = 0;
            for (what, text, values) in prepared {
                match s.query(&text, &values, false).await {
                    Ok(d) => total += changed(&d),
                    Err(e) => {
                        let _ = s.query("ROLLBACK", &[], false).await;
                        return Err(shared.err(format!("{what}: {e}")));
                    }
                }
            }
            s.query("COMMIT", &[], false)
                .await
                .map_err(|e| shared.err(e))?;
            Ok(total)
        })
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
                self.check_read_only(&text, &values).await?;
            }
            let s = shared.session().await?;
            let data = s
                .query(&text, &values, false)
                .await
                .map_err(|e| shared.err(e))?;
            collect(&shared, &data, max_rows, &s).await
        })
    }
}

/// A whole (small) result as rows.
async fn collect(
    shared: &Shared,
    data: &QueryData,
    max_rows: usize,
    s: &session::Session,
) -> Result<Rows> {
    let mut cols = Vec::new();
    for c in &data.rowtype {
        let (k, t, scale) = types::map(c).map_err(|e| shared.err(e))?;
        cols.push((types::column_name(&c.name), k, t, scale));
    }
    let schema = Schema::new(
        cols.iter()
            .map(|(n, _, t, _)| Column::new(n.clone(), t.clone()))
            .collect(),
    );
    let columns = Columns {
        names: cols.iter().map(|c| c.0.clone()).collect(),
        kinds: cols.iter().map(|c| c.1).collect(),
        scales: cols.iter().map(|c| c.3).collect(),
    };
    if data.total.unwrap_or(0) > max_rows as u64 {
        return Err(shared.err(format!(
            "query returned more than {max_rows} rows; stream it with .sql(...) into a load instead"
        )));
    }
    let mut parts = vec![session::inline_arrow(data).map_err(|e| shared.err(e))?];
    for chunk in &data.chunks {
        parts.push(s.chunk(data, chunk).await.map_err(|e| shared.err(e))?);
    }
    let mut out = Batch::new(cols.len(), 1, 0);
    for bytes in parts.into_iter().filter(|b| !b.is_empty()) {
        let input: Box<dyn std::io::Read> = if session::is_gzip(&bytes) {
            Box::new(flate2::read::GzDecoder::new(std::io::Cursor::new(bytes)))
        } else {
            Box::new(std::io::Cursor::new(bytes))
        };
        let reader = arrow_ipc::reader::StreamReader::try_new(input, None)
            .map_err(|e| shared.err(format!("the result is not Arrow IPC: {e}")))?;
        for rb in reader {
            let rb = rb.map_err(|e| shared.err(format!("reading an Arrow batch: {e}")))?;
            decode::append(&columns, &rb, 0, rb.num_rows(), &mut out).map_err(|e| shared.err(e))?;
            if out.len() > max_rows {
                return Err(shared.err(format!(
                    "query returned more than {max_rows} rows; stream it with .sql(...) into a load instead"
                )));
            }
        }
    }
    let rows = out.rows().map(|r| r.to_vec()).collect();
    Ok(Rows { schema, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_keyword_skips_comments_and_parentheses() {
        assert_eq!(first_keyword("-- note\n /* x */ (select 1)"), "SELECT");
        assert_eq!(first_keyword("  delete from t"), "DELETE");
        assert_eq!(
            first_keyword("WITH a AS (SELECT 1) SELECT * FROM a"),
            "WITH"
        );
    }
}
