//! `conn.table(..)` and `conn.sql(..)` on SQL Server, streamed in bounded batches.
//!
//! tiberius reads a result from the socket as its rows are consumed: when the load falls
//! behind, the bounded `BatchStream` stops the reader, TCP stops the server. A cursor window
//! is pushed down (tables) or bound to `:since`/`:until` (SQL) as `@P` parameters, never
//! formatted into the text. Table reads select money columns cast to decimal(19,4).

use std::sync::{Arc, OnceLock};

use futures_util::TryStreamExt;
use tiberius::{ColumnData, Query};

use super::connect::{Param, Shared};
use super::decode::{param, Decoder};
use super::types::{quote_ident, quote_table, MsType};
use super::CONNECTOR;
use crate::connectors::extremes::extreme;
use crate::connectors::{
    query_params, sql_params, BatchSender, BatchStream, Io, Params, ReadOptions, Relations, Source,
    SourceStatement, TableOptions,
};
use crate::data::{Batch, Column, Schema};
use crate::error::{EtlError, Result};

pub struct MsRelations(pub Arc<Shared>);

impl Relations for MsRelations {
    fn table(&self, table: &str, opts: &TableOptions) -> Result<Arc<dyn Source>> {
        if opts.parallel > 1 {
            return Err(EtlError::Config(format!(
                "connection '{}': SQL Server tables are read on one connection; remove parallel",
                self.0.name
            )));
        }
        Ok(Arc::new(MsSource::new(
            self.0.clone(),
            Query_::Table(table.to_string()),
        )))
    }

    fn query(&self, sql: &str, params: Params) -> Result<Arc<dyn Source>> {
        Ok(Arc::new(MsSource::new(
            self.0.clone(),
            Query_::Sql(sql.to_string(), params),
        )))
    }
}

#[derive(Clone)]
pub enum Query_ {
    Table(String),
    Sql(String, Params),
}

pub struct MsSource {
    shared: Arc<Shared>,
    query: Query_,
    columns: OnceLock<Vec<(String, MsType)>>,
}

/// `:name` parameters as `@P1, @P2, ...` (one per occurrence).
pub fn at_params(sql: &str) -> std::result::Result<(String, Vec<String>), String> {
    sql_params::rewrite_positional(sql, |n| format!("@P{n}"))
}

/// The one statement of a `sql(...)` source.
fn single_statement(sql: &str) -> std::result::Result<String, String> {
    sql_params::one_statement(sql_params::split_statements(sql)?)
}

impl MsSource {
    fn new(shared: Arc<Shared>, query: Query_) -> MsSource {
        MsSource {
            shared,
            query,
            columns: OnceLock::new(),
        }
    }

    fn err(&self, e: impl std::fmt::Display) -> EtlError {
        self.shared.err(&self.describe(), e)
    }

    /// Column names and declared types, described by the server once.
    fn columns(&self, io: &Io) -> Result<&[(String, MsType)]> {
        if let Some(c) = self.columns.get() {
            return Ok(c);
        }
        let (sql, params) = match &self.query {
            Query_::Table(name) => (
                format!(
                    "SELECT * FROM {}",
                    quote_table(name).map_err(|e| self.err(e))?
                ),
                Vec::new(),
            ),
            Query_::Sql(..) => {
                let opts = ReadOptions::default();
                let named = self.named(&opts, None)?;
                self.bind_window(&named, &[], &opts)?
            }
        };
        let shared = self.shared.clone();
        let what = self.describe();
        let cols = io.block_on(async move {
            let mut client = shared.connect().await?;
            shared.describe(&mut client, &what, &sql, &params).await
        })?;
        Ok(self.columns.get_or_init(|| cols))
    }

    /// The read's statement with named parameters, as `etl plan` shows it.
    fn named(
        &self,
        opts: &ReadOptions,
        cols: Option<&[(String, MsType)]>,
    ) -> Result<SourceStatement> {
        let mut out = SourceStatement {
            dialect: CONNECTOR.name,
            ..SourceStatement::default()
        };
        match &self.query {
            Query_::Table(name) => {
                let list = match cols {
                    Some(cols) => cols
                        .iter()
                        .map(|(n, t)| t.select_expr(n))
                        .collect::<Vec<_>>()
                        .join(", "),
                    None => "*".to_string(),
                };
                let top = opts
                    .limit
                    .map(|l| format!("TOP ({l}) "))
                    .unwrap_or_default();
                out.sql = format!(
                    "SELECT {top}{list} FROM {}",
                    quote_table(name).map_err(|e| self.err(e))?
                );
                if let Some(p) = opts
                    .window
                    .as_ref()
                    .and_then(|w| w.predicate(&quote_ident(&w.column)))
                {
                    out.sql.push_str(" WHERE ");
                    out.sql.push_str(&p.sql);
                    out.params = p.params;
                }
            }
            Query_::Sql(text, given) => {
                out.sql = single_statement(text).map_err(|e| self.err(e))?;
                let (_, names) = at_params(&out.sql).map_err(|e| self.err(e))?;
                (out.params, out.unbounded) = query_params(&names, given, opts.window.as_ref());
            }
        }
        Ok(out)
    }
}

fn schema_of(cols: &[(String, MsType)]) -> Schema {
    Schema::new(
        cols.iter()
            .map(|(n, t)| Column::new(n.clone(), t.data_type.clone()))
            .collect(),
    )
}

/// What one streaming read needs on its thread.
pub struct Reader {
    pub shared: Arc<Shared>,
    pub cols: Vec<(String, MsType)>,
    pub batch_rows: usize,
    pub limit: Option<u64>,
    pub what: String,
}

impl Reader {
    pub async fn stream(
        &self,
        sql: String,
        params: Vec<ColumnData<'static>>,
        tx: &BatchSender,
    ) -> Result<()> {
        let shared = &self.shared;
        let mut client = shared.connect().await?;
        let mut q = Query::new(sql);
        for p in params {
            q.bind(Param(p));
        }
        let stream = shared.guard(&self.what, q.query(&mut client)).await?;
        let mut rows = stream.into_row_stream();
        let width = self.cols.len();
        let mut dec = Decoder::new(
            self.cols.iter().map(|(_, t)| t.kind).collect(),
            shared.settings.sub_micros,
        );
        let mut batch = Batch::new(width, 1, self.batch_rows);
        let mut n = 0u64;
        while let Some(row) = shared.guard(&self.what, rows.try_next()).await? {
            if self.limit.is_some_and(|l| n >= l) {
                break;
            }
            n += 1;
            if row.len() != width {
                return Err(EtlError::db(
                    &shared.name,
                    format!("{}: row {n} has {} columns, the described result {width}; a source must return one result set", self.what, row.len()),
                ));
            }
            for (i, v) in row.into_iter().enumerate() {
                let v = dec.decode(i, v).map_err(|e| {
                    EtlError::db(
                        &shared.name,
                        format!("{}: row {n}, column '{}': {e}", self.what, self.cols[i].0),
                    )
                })?;
                batch.push(v);
            }
            if batch.len() >= self.batch_rows {
                let full = std::mem::replace(&mut batch, Batch::new(width, n + 1, self.batch_rows));
                tx.send(full).await?;
            }
        }
        // A read stopped early (a limit) closes the connection rather than draining the rest.
        drop(rows);
        drop(client);
        if !batch.is_empty() {
            tx.send(batch).await?;
        }
        for (i, count) in dec.truncated.iter().enumerate() {
            if *count > 0 {
                tracing::warn!(
                    "{}: column '{}': {count} value(s) with a 100-nanosecond digit truncated to microseconds (add sub_microsecond=fail to the connection URL to refuse them)",
                    self.what,
                    self.cols[i].0
                );
            }
        }
        Ok(())
    }
}

impl Source for MsSource {
    fn describe(&self) -> String {
        match &self.query {
            Query_::Table(name) => format!("table {name} on connection '{}'", self.shared.name),
            Query_::Sql(..) => format!("query on connection '{}'", self.shared.name),
        }
    }

    fn schema(&self, io: &Io) -> Result<Schema> {
        Ok(schema_of(self.columns(io)?))
    }

    fn open(&self, io: &Io, opts: &ReadOptions) -> Result<BatchStream> {
        let cols = self.columns(io)?.to_vec();
        let named = self.named(opts, Some(&cols))?;
        let (sql, params) = self.bind_window(&named, &cols, opts)?;
        let reader = Reader {
            shared: self.shared.clone(),
            cols: cols.clone(),
            batch_rows: opts.batch_rows.max(1),
            limit: opts.limit,
            what: self.describe(),
        };
        let handle = io.handle.clone();
        // Decoding is CPU work: it runs on a blocking thread of its own, so the runtime's
        // workers stay free for socket I/O.
        Ok(BatchStream::spawn_blocking(
            io,
            schema_of(&cols),
            move |tx| tx.block_on(&handle, reader.stream(sql, params, tx)),
        ))
    }

    fn applies_window(&self) -> bool {
        match &self.query {
            Query_::Table(_) => true,
            Query_::Sql(sql, _) => {
                at_params(sql).is_ok_and(|(_, n)| n.iter().any(|n| n == "since" || n == "until"))
            }
        }
    }

    fn statement(&self, io: &Io, opts: &ReadOptions) -> Result<Option<SourceStatement>> {
        let cols = self.columns(io)?.to_vec();
        self.named(opts, Some(&cols)).map(Some)
    }
}

impl MsSource {
    /// `@P` placeholders and their values; open window ends as the extremes of the cursor's
    /// type.
    fn bind_window(
        &self,
        named: &SourceStatement,
        cols: &[(String, MsType)],
        opts: &ReadOptions,
    ) -> Result<(String, Vec<ColumnData<'static>>)> {
        let (sql, names) = at_params(&named.sql).map_err(|e| self.err(e))?;
        let cursor_type = opts.window.as_ref().and_then(|w| {
            cols.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(&w.column))
                .map(|(_, t)| &t.data_type)
        });
        let mut params = Vec::with_capacity(names.len());
        for name in &names {
            let value = if let Some((_, v)) = named.params.iter().find(|(k, _)| k == name) {
                v.clone()
            } else if named.unbounded.contains(name) {
                extreme(cursor_type, name == "until")
            } else {
                return Err(self.err(sql_params::missing(&format!(":{name}"), &named.params)));
            };
            params.push(param(&value).map_err(|e| self.err(format!(":{name}: {e}")))?);
        }
        Ok((sql, params))
    }
}

#[cfg(test)]
mod tests {
    use super::at_params;
    use crate::connectors::catalog::MSSQL;

    /// The catalog statements bind as the connector binds (`@P1`..), name only the schema
    /// and the table, and the default-schema ones stay in the login's schema. (No SQL
    /// Server runs here: their results are not tested.)
    #[test]
    fn catalog_statements_bind_as_tsql_parameters() {
        let s = &MSSQL;
        let cases: [(&str, &[&str]); 6] = [
            (s.tables, &[]),
            (s.tables_in_schema, &["schema"]),
            (s.columns, &["table"]),
            (s.columns_in_schema, &["schema", "table"]),
            (s.primary_key, &["table"]),
            (s.primary_key_in_schema, &["table", "schema"]),
        ];
        for (sql, want) in cases {
            let (text, names) = at_params(sql).expect(sql);
            assert_eq!(names, want.to_vec(), "{sql}");
            for (i, _) in want.iter().enumerate() {
                assert!(text.contains(&format!("@P{}", i + 1)), "{text}");
            }
            assert!(!text.contains(':'), "{text}");
            if !want.contains(&"schema") {
                assert!(text.contains("SCHEMA_NAME()"), "{text}");
            }
        }
        assert!(s.tables.contains("TABLE_TYPE = 'BASE TABLE'"));
        assert!(s.columns.contains("ORDER BY ORDINAL_POSITION"));
        assert!(s.columns.contains("NUMERIC_PRECISION") && s.columns.contains("'(max)'"));
        assert!(s.primary_key.contains("CONSTRAINT_TYPE = 'PRIMARY KEY'"));
        assert!(s.primary_key.ends_with("ORDER BY k.ORDINAL_POSITION"));
    }
}
