//! `conn.table(..)` and `conn.sql(..)` on BigQuery: one query job, its result read page by
//! page (`page_rows` rows each) and handed over in bounded batches; one page is in memory at a
//! time. The window is bound as named parameters (`@since`, `@until`).

use std::sync::{Arc, OnceLock};

use super::client::{Page, TableSchema};
use super::connect::Shared;
use super::rows;
use super::types::{self, Field, Kind};
use super::CONNECTOR;
use crate::connectors::{
    query_params, sql_params, BatchSender, BatchStream, Io, Params, ReadOptions, Relations, Source,
    SourceStatement, TableOptions,
};
use crate::data::{Batch, Column, DataType, Schema, Value};
use crate::error::{EtlError, Result};

pub struct BqRelations(pub Arc<Shared>);

impl Relations for BqRelations {
    fn table(&self, table: &str, opts: &TableOptions) -> Result<Arc<dyn Source>> {
        if opts.parallel > 1 {
            return Err(EtlError::Config(format!(
                "connection '{}': parallel reads are not supported on BigQuery",
                self.0.name
            )));
        }
        Ok(Arc::new(BqSource::new(
            self.0.clone(),
            Query::Table(table.to_string()),
        )))
    }

    fn query(&self, sql: &str, params: Params) -> Result<Arc<dyn Source>> {
        Ok(Arc::new(BqSource::new(
            self.0.clone(),
            Query::Sql(colon_params(sql), params),
        )))
    }
}

pub enum Query {
    Table(String),
    Sql(String, Params),
}

pub struct BqSource {
    shared: Arc<Shared>,
    query: Query,
    fields: OnceLock<Vec<Field>>,
}

/// An identifier in backticks.
pub fn quote_ident(s: &str) -> String {
    format!("`{}`", s.replace('\\', "\\\\").replace('`', "\\`"))
}

/// `table` (in the connection's dataset), `dataset.table` or `project.dataset.table`, each part
/// quoted; always qualified (emulators ignore the default dataset).
pub fn quote_table(dataset: &str, name: &str) -> std::result::Result<String, String> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "'{name}' is not a table name (TABLE, DATASET.TABLE or PROJECT.DATASET.TABLE)"
        ));
    }
    let mut q: Vec<String> = parts.iter().map(|p| quote_ident(p)).collect();
    if q.len() == 1 {
        q.insert(0, quote_ident(dataset));
    }
    Ok(q.join("."))
}

/// BigQuery's own `@name` parameters written as etl's `:name`, so that one lexer finds them
/// (the window's `@since`/`@until` included). Strings, quoted identifiers, comments and
/// `@@system_variables` are left alone.
pub fn colon_params(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let (mut i, mut last) = (0, 0);
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                let triple = q != b'`' && b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q);
                i += if triple { 3 } else { 1 };
                while i < b.len() {
                    if b[i] == b'\\' {
                        i += 2;
                    } else if b[i] == q
                        && (!triple || (b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q)))
                    {
                        i += if triple { 3 } else { 1 };
                        break;
                    } else {
                        i += 1;
                    }
                }
            }
            b'#' => i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n + 1),
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n + 1)
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = memchr::memmem::find(&b[i + 2..], b"*/").map_or(b.len(), |n| i + 2 + n + 2)
            }
            b'@' if b.get(i + 1) == Some(&b'@') => i += 2,
            b'@' if b
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
                && !(i > 0 && ident(b[i - 1])) =>
            {
                out.push_str(&sql[last..i]);
                out.push(':');
                last = i + 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[last..]);
    out
}

/// `:name` as `@name`, with the names in order of first use.
pub fn named(sql: &str) -> std::result::Result<(String, Vec<String>), String> {
    let names = sql_params::param_names(sql)?;
    let mut out = sql.to_string();
    for n in &names {
        out = sql_params::replace_param(&out, n, &format!("@{n}"))?;
    }
    Ok((out, names))
}

impl BqSource {
    fn new(shared: Arc<Shared>, query: Query) -> BqSource {
        BqSource {
            shared,
            query,
            fields: OnceLock::new(),
        }
    }

    fn err(&self, e: impl std::fmt::Display) -> EtlError {
        EtlError::db(&self.shared.name, format!("{}: {e}", self.describe()))
    }

    fn statement_named(&self, opts: &ReadOptions) -> Result<SourceStatement> {
        let mut out = SourceStatement {
            dialect: CONNECTOR.name,
            ..SourceStatement::default()
        };
        match &self.query {
            Query::Table(name) => {
                let table = quote_table(&self.shared.client.settings.dataset, name)
                    .map_err(|e| self.err(e))?;
                out.sql = format!("SELECT * FROM {table}");
                if let Some(p) = opts
                    .window
                    .as_ref()
                    .and_then(|w| w.predicate(&quote_ident(&w.column)))
                {
                    out.sql.push_str(&format!(" WHERE {}", p.sql));
                    out.params = p.params;
                }
                if let Some(l) = opts.limit {
                    out.sql.push_str(&format!(" LIMIT {l}"));
                }
            }
            Query::Sql(text, given) => {
                out.sql = sql_params::one_statement(
                    sql_params::split_statements(text).map_err(|e| self.err(e))?,
                )
                .map_err(|e| self.err(e))?;
                let names = sql_params::param_names(&out.sql).map_err(|e| self.err(e))?;
                (out.params, out.unbounded) = query_params(&names, given, opts.window.as_ref());
                if let Some(l) = opts.limit {
                    out.sql = format!("SELECT * FROM (\n{}\n) AS etl_q LIMIT {l}", out.sql);
                }
            }
        }
        Ok(out)
    }

    /// The text with `@name` parameters and their values (open ends as the type's extremes).
    fn bound(&self, io: &Io, opts: &ReadOptions) -> Result<(String, Params)> {
        let st = self.statement_named(opts)?;
        let (sql, names) = named(&st.sql).map_err(|e| self.err(e))?;
        let mut params = Vec::new();
        for name in names {
            if let Some((_, v)) = st.params.iter().find(|(k, _)| *k == name) {
                params.push((name, v.clone()));
            } else if st.unbounded.contains(&name) {
                let t = match opts.window.as_ref() {
                    Some(w) => self
                        .fields(io)?
                        .iter()
                        .find(|f| f.name.eq_ignore_ascii_case(&w.column))
                        .and_then(|f| types::map(f).ok())
                        .map(|(_, t)| t),
                    None => None,
                };
                let high = name == "until";
                params.push((name, extreme(t.as_ref(), high)));
            } else {
                return Err(self.err(sql_params::missing(&format!(":{name}"), &st.params)));
            }
        }
        Ok((sql, params))
    }

    /// The columns, from a dry run (nothing is read or billed).
    fn fields(&self, io: &Io) -> Result<&[Field]> {
        if let Some(f) = self.fields.get() {
            return Ok(f);
        }
        let st = self.statement_named(&ReadOptions::default())?;
        // A parameter without a value yet (the window) is an untyped NULL here: it compares
        // with any column type, which a typed placeholder would not.
        let mut text = st.sql.clone();
        for n in sql_params::param_names(&st.sql).map_err(|e| self.err(e))? {
            if !st.params.iter().any(|(k, _)| *k == n) {
                text = sql_params::replace_param(&text, &n, "NULL").map_err(|e| self.err(e))?;
            }
        }
        let (sql, names) = named(&text).map_err(|e| self.err(e))?;
        let params: Params = names
            .into_iter()
            .filter_map(|n| {
                let v = st
                    .params
                    .iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.clone());
                v.map(|v| (n, v))
            })
            .collect();
        let shared = self.shared.clone();
        let body = io
            .block_on(async move {
                shared
                    .client
                    .query(&sql, &params, true)
                    .await
                    .map_err(|e| shared.err(e))
            })
            .map_err(|e| self.err(strip(e)))?;
        let page = Page::parse(&body).map_err(|e| self.err(e))?;
        let fields = page.schema.unwrap_or_default().fields;
        for f in &fields {
            types::map(f).map_err(|e| self.err(e))?;
        }
        Ok(self.fields.get_or_init(|| fields))
    }
}

fn strip(e: EtlError) -> String {
    match e {
        EtlError::Database { message, .. } => message,
        other => other.to_string(),
    }
}

fn extreme(t: Option<&DataType>, high: bool) -> Value {
    use chrono::{NaiveDate, NaiveTime};
    let day = if high {
        NaiveDate::from_ymd_opt(9999, 12, 31)
    } else {
        NaiveDate::from_ymd_opt(1, 1, 1)
    }
    .unwrap_or_default();
    match t {
        Some(DataType::Date) => Value::Date(day),
        Some(DataType::Timestamp) => Value::Timestamp(day.and_time(NaiveTime::MIN)),
        Some(DataType::TimestampTz) => Value::TimestampTz(day.and_time(NaiveTime::MIN).and_utc()),
        Some(DataType::Text { .. }) if !high => Value::Text(String::new()),
        Some(DataType::Float64 | DataType::Float32) => {
            Value::Float64(if high { f64::MAX } else { f64::MIN })
        }
        _ => Value::Int64(if high { i64::MAX } else { i64::MIN }),
    }
}

pub fn schema_of(fields: &[Field]) -> std::result::Result<Schema, String> {
    Ok(Schema::new(
        fields
            .iter()
            .map(|f| types::map(f).map(|(_, t)| Column::new(f.name.clone(), t)))
            .collect::<std::result::Result<_, _>>()?,
    ))
}

impl Source for BqSource {
    fn describe(&self) -> String {
        match &self.query {
            Query::Table(name) => format!("table {name} on connection '{}'", self.shared.name),
            Query::Sql(..) => format!("query on connection '{}'", self.shared.name),
        }
    }

    fn schema(&self, io: &Io) -> Result<Schema> {
        schema_of(self.fields(io)?).map_err(|e| self.err(e))
    }

    fn open(&self, io: &Io, opts: &ReadOptions) -> Result<BatchStream> {
        let schema = self.schema(io)?;
        let (sql, params) = self.bound(io, opts)?;
        let shared = self.shared.clone();
        let what = self.describe();
        let batch_rows = opts.batch_rows.max(1);
        let handle = io.handle.clone();
        Ok(BatchStream::spawn_blocking(io, schema, move |tx| {
            tx.block_on(&handle, async {
                stream(&shared, &sql, &params, batch_rows, tx)
                    .await
                    .map_err(|e| match e {
                        EtlError::Cancelled => e,
                        other => EtlError::db(&shared.name, format!("{what}: {}", strip(other))),
                    })
            })
        }))
    }

    fn applies_window(&self) -> bool {
        match &self.query {
            Query::Table(_) => true,
            Query::Sql(sql, _) => sql_params::param_names(sql)
                .is_ok_and(|n| n.iter().any(|n| n == "since" || n == "until")),
        }
    }

    fn statement(&self, _io: &Io, opts: &ReadOptions) -> Result<Option<SourceStatement>> {
        self.statement_named(opts).map(Some)
    }
}

/// Runs the query and reads its pages in order.
async fn stream(
    shared: &Shared,
    sql: &str,
    params: &Params,
    batch_rows: usize,
    tx: &BatchSender,
) -> Result<()> {
    let client = &shared.client;
    let mut body = client
        .query(sql, params, false)
        .await
        .map_err(|e| shared.err(e))?;
    let mut fields: Option<Vec<(Field, Kind)>> = None;
    let mut out: Option<Batch> = None;
    let mut row_no = 0u64;
    loop {
        let page = Page::parse(&body).map_err(|e| shared.err(e))?;
        let job = page.job.clone();
        if page.job_complete == Some(false) {
            drop(page);
            let job = job.ok_or_else(|| shared.err("the query job has no reference"))?;
            drop(std::mem::take(&mut body));
            body = client
                .results(&job, None)
                .await
                .map_err(|e| shared.err(e))?;
            continue;
        }
        if fields.is_none() {
            let TableSchema { fields: f } = page.schema.clone().unwrap_or_default();
            let mapped = f
                .into_iter()
                .map(|f| types::map(&f).map(|(k, _)| (f, k)))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| shared.err(e))?;
            out = Some(Batch::new(mapped.len(), 1, batch_rows));
            fields = Some(mapped);
        }
        let cols = fields.as_ref().expect("set above");
        let batch = out.as_mut().expect("set above");
        for row in &page.rows {
            row_no += 1;
            for ((field, kind), cell) in cols.iter().zip(&row.f) {
                let v = rows::decode(*kind, field, cell.v).map_err(|e| {
                    shared.err(format!("row {row_no}, column '{}': {e}", field.name))
                })?;
                batch.push(v);
            }
            if batch.len() >= batch_rows {
                let next = Batch::new(batch.width(), row_no + 1, batch_rows);
                tx.send(std::mem::replace(batch, next)).await?;
            }
        }
        let Some(token) = page.page_token.clone() else {
            break;
        };
        drop(page);
        let job = job.ok_or_else(|| shared.err("the query job has no reference"))?;
        // The page read is let go before the next one arrives: one page in memory.
        drop(std::mem::take(&mut body));
        body = client
            .results(&job, Some(&token))
            .await
            .map_err(|e| shared.err(e))?;
    }
    if let Some(b) = out.filter(|b| !b.is_empty()) {
        tx.send(b).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_qualified_and_parameters_named() {
        assert_eq!(quote_table("raw", "orders").unwrap(), "`raw`.`orders`");
        assert_eq!(quote_table("raw", "p.d.t").unwrap(), "`p`.`d`.`t`");
        let (sql, names) =
            named("SELECT * FROM t WHERE a >= :since AND b = ':x' AND c < :until").unwrap();
        assert_eq!(
            sql,
            "SELECT * FROM t WHERE a >= @since AND b = ':x' AND c < @until"
        );
        assert_eq!(names, ["since", "until"]);
    }

    #[test]
    fn at_parameters_are_found_outside_strings_and_comments() {
        assert_eq!(
            colon_params(
                "SELECT '@a', `x@y`, @@dataset_id -- @c\nFROM t WHERE u >= @since AND e = 'a@b.c' /* @d */ AND v < @until"
            ),
            "SELECT '@a', `x@y`, @@dataset_id -- @c\nFROM t WHERE u >= :since AND e = 'a@b.c' /* @d */ AND v < :until"
        );
        let (sql, names) = named(&colon_params("SELECT @since, :until")).unwrap();
        assert_eq!(sql, "SELECT @since, @until");
        assert_eq!(names, ["since", "until"]);
    }
}
