use crate::connectors::{BatchStream, CursorWindow, Io, Params, ReadOptions, RowEstimate, Source};
use crate::data::{Batch, Column, DataType, Schema, Value};
use crate::error::{EtlError, Result};

use super::{bind, table_ident, types, SqliteDb};

pub enum Query {
    Table(String),
    Sql(String, Params),
}

pub struct SqliteSource {
    pub db: SqliteDb,
    pub query: Query,
    /// Typing an expression column may run the query once: do it once per relation.
    pub schema: std::sync::OnceLock<Schema>,
}

/// Rows sampled to type the columns of an expression (no declared type).
const TYPE_SAMPLE: usize = 100;

impl SqliteSource {
    fn read_schema(&self) -> Result<Schema> {
        let conn = self.db.connect()?;
        let (sql, params) = self.statement(None, None);
        let mut stmt = conn
            .prepare(&sql)
            .map_err(|e| self.db.err(format!("{}: {e}", self.describe())))?;
        bind(&mut stmt, &params).map_err(|e| self.db.err(e))?;
        let mut cols: Vec<(String, Option<DataType>)> = types::declared_columns(&stmt);
        if cols.iter().any(|(_, t)| t.is_none()) {
            let mut rows = stmt.raw_query();
            let mut seen = 0;
            while let Some(row) = rows.next().map_err(|e| self.db.err(e))? {
                for (i, (_, t)) in cols.iter_mut().enumerate() {
                    if t.is_none() {
                        *t = types::from_storage(row.get_ref(i).map_err(|e| self.db.err(e))?);
                    }
                }
                seen += 1;
                if seen == TYPE_SAMPLE || cols.iter().all(|(_, t)| t.is_some()) {
                    break;
                }
            }
        }
        Ok(Schema::new(
            cols.into_iter()
                .map(|(n, t)| Column::new(n, t.unwrap_or(DataType::TEXT)))
                .collect(),
        ))
    }

    fn statement(
        &self,
        window: Option<&CursorWindow>,
        schema: Option<&Schema>,
    ) -> (String, Params) {
        match &self.query {
            Query::Table(t) => {
                let mut sql = format!("SELECT * FROM {}", table_ident(t));
                let mut params = Params::new();
                if let Some(w) = window {
                    let col = types::quote_ident(&w.column);
                    let mut conds = Vec::new();
                    if let Some(s) = &w.since {
                        conds.push(format!(
                            "{col} {} :since",
                            if w.since_inclusive { ">=" } else { ">" }
                        ));
                        params.push(("since".into(), s.clone()));
                    }
                    if let Some(u) = &w.until {
                        conds.push(format!("{col} < :until"));
                        params.push(("until".into(), u.clone()));
                    }
                    if !conds.is_empty() {
                        let mut cond = conds.join(" AND ");
                        // An incremental read still brings NULL cursors, so the load counts
                        // them and applies `null_cursor`; a bounded (backfill) window does not.
                        if w.until.is_none() {
                            cond = format!("({cond} OR {col} IS NULL)");
                        }
                        sql.push_str(&format!(" WHERE {cond}"));
                    }
                }
                (sql, params)
            }
            Query::Sql(sql, given) => {
                let mut params = given.clone();
                // :since/:until are always bound; without a watermark they are the widest
                // range of the cursor's type, so `cursor >= :since` still selects every row.
                let cursor_type = window.zip(schema).and_then(|(w, s)| {
                    s.index_of(&w.column)
                        .map(|i| s.columns[i].data_type.clone())
                });
                let since = window
                    .and_then(|w| w.since.clone())
                    .unwrap_or_else(|| lowest(cursor_type.as_ref()));
                let until = window
                    .and_then(|w| w.until.clone())
                    .unwrap_or_else(|| highest(cursor_type.as_ref()));
                for (k, v) in [("since", since), ("until", until)] {
                    if !params.iter().any(|(n, _)| n == k) {
                        params.push((k.to_string(), v));
                    }
                }
                (sql.clone(), params)
            }
        }
    }
}

fn lowest(t: Option<&DataType>) -> Value {
    match t {
        Some(DataType::Int16 | DataType::Int32 | DataType::Int64) => Value::Int64(i64::MIN),
        Some(DataType::Float32 | DataType::Float64 | DataType::Decimal { .. }) => {
            Value::Float64(f64::NEG_INFINITY)
        }
        Some(DataType::Text { .. }) => Value::Text(String::new()),
        _ => Value::Text("0000-01-01 00:00:00".into()),
    }
}

fn highest(t: Option<&DataType>) -> Value {
    match t {
        Some(DataType::Int16 | DataType::Int32 | DataType::Int64) => Value::Int64(i64::MAX),
        Some(DataType::Float32 | DataType::Float64 | DataType::Decimal { .. }) => {
            Value::Float64(f64::INFINITY)
        }
        Some(DataType::Text { .. }) => Value::Text("\u{10FFFF}".into()),
        _ => Value::Text("9999-12-31 23:59:59.999999".into()),
    }
}

impl Source for SqliteSource {
    fn describe(&self) -> String {
        match &self.query {
            Query::Table(t) => format!("table {t} on connection '{}'", self.db.name),
            Query::Sql(..) => format!("query on connection '{}'", self.db.name),
        }
    }

    fn schema(&self, _io: &Io) -> Result<Schema> {
        if let Some(s) = self.schema.get() {
            return Ok(s.clone());
        }
        let schema = self.read_schema()?;
        Ok(self.schema.get_or_init(|| schema).clone())
    }

    fn open(&self, io: &Io, opts: &ReadOptions) -> Result<BatchStream> {
        let schema = self.schema(io)?;
        let (sql, params) = self.statement(opts.window.as_ref(), Some(&schema));
        let db = SqliteDb {
            name: self.db.name.clone(),
            path: self.db.path.clone(),
        };
        let describe = self.describe();
        let opts = opts.clone();
        let types: Vec<DataType> = schema.columns.iter().map(|c| c.data_type.clone()).collect();
        let names: Vec<String> = schema.columns.iter().map(|c| c.name.clone()).collect();
        Ok(BatchStream::spawn_blocking(io, schema, move |tx| {
            let conn = db.connect()?;
            let mut stmt = conn
                .prepare(&sql)
                .map_err(|e| db.err(format!("{describe}: {e}")))?;
            bind(&mut stmt, &params).map_err(|e| db.err(e))?;
            let mut rows = stmt.raw_query();
            let width = types.len();
            let mut n: u64 = 0;
            let mut batch = Batch::new(width, 1, opts.batch_rows);
            while let Some(row) = rows.next().map_err(|e| db.err(e))? {
                if opts.limit.is_some_and(|l| n >= l) {
                    break;
                }
                n += 1;
                for (i, t) in types.iter().enumerate() {
                    let v = row.get_ref(i).map_err(|e| db.err(e))?;
                    let value = types::read(v, t).map_err(|e| {
                        EtlError::Other(format!("{describe}: row {n}, column '{}': {e}", names[i]))
                    })?;
                    batch.push(value);
                }
                if batch.len() == opts.batch_rows {
                    let full =
                        std::mem::replace(&mut batch, Batch::new(width, n + 1, opts.batch_rows));
                    tx.send_blocking(full)?;
                }
            }
            if !batch.is_empty() {
                tx.send_blocking(batch)?;
            }
            Ok(())
        }))
    }

    /// `SELECT count(*)` over the very statement `open` runs: SQLite is local, counting is cheap.
    fn estimate_rows(&self, io: &Io, window: Option<&CursorWindow>) -> Result<Option<RowEstimate>> {
        let schema = self.schema(io)?;
        let window = window.filter(|_| self.applies_window());
        let (sql, params) = self.statement(window, Some(&schema));
        let conn = self.db.connect()?;
        let count_sql = format!(
            "SELECT count(*) FROM ({}) AS etl_plan",
            sql.trim().trim_end_matches(';')
        );
        let mut stmt = conn
            .prepare(&count_sql)
            .map_err(|e| self.db.err(format!("{}: {e}", self.describe())))?;
        bind(&mut stmt, &params).map_err(|e| self.db.err(e))?;
        let mut rows = stmt.raw_query();
        let n: i64 = match rows.next().map_err(|e| self.db.err(e))? {
            Some(r) => r.get(0).map_err(|e| self.db.err(e))?,
            None => 0,
        };
        Ok(Some(RowEstimate {
            rows: n.max(0) as u64,
            exact: true,
        }))
    }

    fn applies_window(&self) -> bool {
        match &self.query {
            Query::Table(_) => true,
            Query::Sql(sql, _) => sql.contains(":since") || sql.contains(":until"),
        }
    }
}
