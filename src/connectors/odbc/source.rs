//! `conn.table(..)` and `conn.sql(..)` through ODBC, streamed in bounded batches from a
//! blocking thread. A cursor window is pushed down (tables) or bound to `:since`/`:until`
//! (SQL) as parameters, never formatted into the text. A row limit stops the fetch (no
//! dialect's LIMIT syntax is assumed).

use std::sync::{Arc, OnceLock};

use odbc_api::parameter::InputParameter;
use odbc_api::ResultSetMetadata;

use super::connect::{param, Shared};
use super::reader::Read;
use super::types::{quote_ident, quote_table, OdbcType};
use super::CONNECTOR;
use crate::connectors::extremes::extreme;
use crate::connectors::{
    query_params, sql_params, BatchStream, Io, Params, ReadOptions, Relations, Source,
    SourceStatement, TableOptions,
};
use crate::data::{Column, Schema};
use crate::error::{EtlError, Result};

pub struct OdbcRelations(pub Arc<Shared>);

impl Relations for OdbcRelations {
    fn table(&self, table: &str, opts: &TableOptions) -> Result<Arc<dyn Source>> {
        if opts.parallel > 1 {
            return Err(EtlError::Config(format!(
                "connection '{}': ODBC tables are read on one connection; remove parallel",
                self.0.name
            )));
        }
        Ok(Arc::new(OdbcSource::new(
            self.0.clone(),
            Query::Table(table.to_string()),
        )))
    }

    fn query(&self, sql: &str, params: Params) -> Result<Arc<dyn Source>> {
        Ok(Arc::new(OdbcSource::new(
            self.0.clone(),
            Query::Sql(sql.to_string(), params),
        )))
    }
}

pub enum Query {
    Table(String),
    Sql(String, Params),
}

pub struct OdbcSource {
    shared: Arc<Shared>,
    query: Query,
    columns: OnceLock<(Vec<(String, OdbcType)>, bool)>,
}

/// Column names and types of a statement's result, from the driver.
pub fn describe(
    meta: &mut impl ResultSetMetadata,
) -> std::result::Result<Vec<(String, OdbcType)>, odbc_api::Error> {
    let n = meta.num_result_cols()?;
    (1..=n as u16)
        .map(|i| Ok((meta.col_name(i)?, OdbcType::of(&meta.col_data_type(i)?))))
        .collect()
}

impl OdbcSource {
    fn new(shared: Arc<Shared>, query: Query) -> OdbcSource {
        OdbcSource {
            shared,
            query,
            columns: OnceLock::new(),
        }
    }

    fn err(&self, e: impl std::fmt::Display) -> EtlError {
        self.shared.err(&self.describe(), e)
    }

    /// Column names and types (and whether the database quotes with backticks), read once
    /// from the prepared statement's metadata without fetching a row.
    fn columns(&self) -> Result<&(Vec<(String, OdbcType)>, bool)> {
        if let Some(c) = self.columns.get() {
            return Ok(c);
        }
        let conn = self.shared.connect()?;
        let backticks = Shared::backticks(&conn);
        let sql = self.named(&ReadOptions::default(), backticks)?.sql;
        let (sql, _) =
            sql_params::rewrite_positional(&sql, |_| "?".into()).map_err(|e| self.err(e))?;
        let mut prepared = conn.prepare(&sql).map_err(|e| self.err(e))?;
        let cols = describe(&mut prepared).map_err(|e| self.err(e))?;
        if cols.is_empty() {
            return Err(self.err("the statement returns no columns; a source must be a query"));
        }
        Ok(self.columns.get_or_init(|| (cols, backticks)))
    }

    fn named(&self, opts: &ReadOptions, backticks: bool) -> Result<SourceStatement> {
        let mut out = SourceStatement {
            dialect: CONNECTOR.name,
            ..SourceStatement::default()
        };
        match &self.query {
            Query::Table(name) => {
                out.sql = format!(
                    "SELECT * FROM {}",
                    quote_table(name, backticks).map_err(|e| self.err(e))?
                );
                if let Some(p) = opts
                    .window
                    .as_ref()
                    .and_then(|w| w.predicate(&quote_ident(&w.column, backticks)))
                {
                    out.sql.push_str(" WHERE ");
                    out.sql.push_str(&p.sql);
                    out.params = p.params;
                }
            }
            Query::Sql(text, given) => {
                let parts = sql_params::split_statements(text).map_err(|e| self.err(e))?;
                out.sql = sql_params::one_statement(parts).map_err(|e| self.err(e))?;
                let (_, names) = sql_params::rewrite_positional(&out.sql, |_| "?".into())
                    .map_err(|e| self.err(e))?;
                (out.params, out.unbounded) = query_params(&names, given, opts.window.as_ref());
            }
        }
        Ok(out)
    }

    /// The statement as the driver gets it: `?` placeholders and their values.
    fn bound(
        &self,
        opts: &ReadOptions,
        cols: &[(String, OdbcType)],
        backticks: bool,
    ) -> Result<(String, Vec<Box<dyn InputParameter>>)> {
        let named = self.named(opts, backticks)?;
        let (sql, names) =
            sql_params::rewrite_positional(&named.sql, |_| "?".into()).map_err(|e| self.err(e))?;
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

fn schema_of(cols: &[(String, OdbcType)]) -> Schema {
    Schema::new(
        cols.iter()
            .map(|(n, t)| Column::new(n.clone(), t.data_type.clone()))
            .collect(),
    )
}

impl Source for OdbcSource {
    fn describe(&self) -> String {
        match &self.query {
            Query::Table(name) => format!("table {name} on connection '{}'", self.shared.name),
            Query::Sql(..) => format!("query on connection '{}'", self.shared.name),
        }
    }

    fn schema(&self, _io: &Io) -> Result<Schema> {
        Ok(schema_of(&self.columns()?.0))
    }

    fn open(&self, io: &Io, opts: &ReadOptions) -> Result<BatchStream> {
        let (cols, backticks) = self.columns()?.clone();
        // Checked here so a bad parameter fails the call, not the stream.
        self.bound(opts, &cols, backticks)?;
        let shared = self.shared.clone();
        let what = self.describe();
        let opts = opts.clone();
        let query = match &self.query {
            Query::Table(t) => Query::Table(t.clone()),
            Query::Sql(s, p) => Query::Sql(s.clone(), p.clone()),
        };
        let schema = schema_of(&cols);
        Ok(BatchStream::spawn_blocking(io, schema, move |tx| {
            // Parameters are not Send: they are built on the thread that binds them.
            let me = OdbcSource::new(shared.clone(), query);
            let (sql, params) = me.bound(&opts, &cols, backticks)?;
            let conn = shared.connect()?;
            let types: Vec<OdbcType> = cols.iter().map(|(_, t)| t.clone()).collect();
            let names: Vec<String> = cols.iter().map(|(n, _)| n.clone()).collect();
            Read {
                name: &shared.name,
                what: &what,
                types: &types,
                names: &names,
                batch_rows: opts.batch_rows.max(1),
                buffer_bytes: shared.settings.buffer_bytes,
                limit: opts.limit,
            }
            .run(&conn, &sql, &params, tx)
        }))
    }

    fn applies_window(&self) -> bool {
        match &self.query {
            Query::Table(_) => true,
            Query::Sql(sql, _) => sql_params::rewrite_positional(sql, |_| "?".into())
                .is_ok_and(|(_, n)| n.iter().any(|n| n == "since" || n == "until")),
        }
    }

    fn statement(&self, _io: &Io, opts: &ReadOptions) -> Result<Option<SourceStatement>> {
        let backticks = self.columns()?.1;
        self.named(opts, backticks).map(Some)
    }
}
