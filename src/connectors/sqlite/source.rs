use crate::connectors::{
    query_params, BatchStream, CursorWindow, Io, Params, ReadOptions, RowEstimate, Source,
    SourceStatement,
};
use crate::data::{Batch, Column, DataType, Schema, Value};
use crate::error::{EtlError, Result};

use super::db::{bind, table_ident, SqliteDb};
use super::types;

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
        let conn = self.db.connect_read_only()?;
        let (sql, params) = self.bound(None, None);
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

    /// The read's statement with named parameters, the values bound to them, and the window
    /// ends left open (`:since`/`:until` the SQL names without a value).
    fn statement(&self, window: Option<&CursorWindow>) -> (String, Params, Vec<String>) {
        match &self.query {
            Query::Table(t) => {
                let mut sql = format!("SELECT * FROM {}", table_ident(t));
                let mut params = Params::new();
                if let Some(p) = window.and_then(|w| w.predicate(&types::quote_ident(&w.column))) {
                    sql.push_str(&format!(" WHERE {}", p.sql));
                    params = p.params;
                }
                (sql, params, Vec::new())
            }
            Query::Sql(sql, given) => {
                let names = crate::connectors::sql_params::param_names(sql).unwrap_or_default();
                let (params, unbounded) = query_params(&names, given, window);
                (sql.clone(), params, unbounded)
            }
        }
    }

    /// The statement ready to bind: open window ends become the widest values of the
    /// cursor's type, so `cursor >= :since` still selects every row.
    fn bound(&self, window: Option<&CursorWindow>, schema: Option<&Schema>) -> (String, Params) {
        let (sql, mut params, unbounded) = self.statement(window);
        let cursor_type = window.zip(schema).and_then(|(w, s)| {
            s.index_of(&w.column)
                .map(|i| s.columns[i].data_type.clone())
        });
        for name in unbounded {
            let v = if name == "since" {
                lowest(cursor_type.as_ref())
            } else {
                highest(cursor_type.as_ref())
            };
            params.push((name, v));
        }
        (sql, params)
    }
}

/// Whether `sql` names the parameter `:name` (SQLite also binds `@name` and `$name`).
fn mentions(sql: &str, name: &str) -> bool {
    crate::connectors::sql_params::param_names(sql).is_ok_and(|n| n.iter().any(|n| n == name))
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
        let (sql, params) = self.bound(opts.window.as_ref(), Some(&schema));
        let db = SqliteDb {
            name: self.db.name.clone(),
            path: self.db.path.clone(),
        };
        let describe = self.describe();
        let opts = opts.clone();
        let types: Vec<DataType> = schema.columns.iter().map(|c| c.data_type.clone()).collect();
        let names: Vec<String> = schema.columns.iter().map(|c| c.name.clone()).collect();
        Ok(BatchStream::spawn_blocking(io, schema, move |tx| {
            let conn = db.connect_read_only()?;
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
    fn estimate_rows(&self, io: &Io, opts: &ReadOptions) -> Result<Option<RowEstimate>> {
        let schema = self.schema(io)?;
        let window = opts.window.as_ref().filter(|_| self.applies_window());
        let (sql, params) = self.bound(window, Some(&schema));
        let conn = self.db.connect_read_only()?;
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
            basis: "count",
        }))
    }

    fn applies_window(&self) -> bool {
        match &self.query {
            Query::Table(_) => true,
            Query::Sql(sql, _) => mentions(sql, "since") || mentions(sql, "until"),
        }
    }

    fn statement(&self, _io: &Io, opts: &ReadOptions) -> Result<Option<SourceStatement>> {
        let (sql, params, unbounded) = self.statement(opts.window.as_ref());
        Ok(Some(SourceStatement {
            dialect: "SQLite",
            sql,
            params,
            unbounded,
        }))
    }
}
