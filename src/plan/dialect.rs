//! What `etl plan` needs to know of a database's SQL, as data: how it quotes, names its
//! types, finds a table in its catalog and estimates a query's rows.

use std::sync::Arc;

use crate::connectors::{postgres, sqlite, Database, Io, Params};
use crate::data::{DataType, Schema, Value};
use crate::error::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn of_url(url: &str) -> Dialect {
        match url.split("://").next().unwrap_or_default() {
            "postgres" | "postgresql" => Dialect::Postgres,
            _ => Dialect::Sqlite,
        }
    }

    /// A table name as the loads write it: SQLite keeps `schema.table` as one identifier.
    pub fn table(self, name: &str) -> String {
        match self {
            Dialect::Sqlite => sqlite::table_ident(name),
            Dialect::Postgres => postgres::types::TableName::parse(name)
                .map(|t| t.quoted())
                .unwrap_or_else(|_| postgres::types::quote_ident(name)),
        }
    }

    pub fn ident(self, name: &str) -> String {
        match self {
            Dialect::Sqlite => sqlite::types::quote_ident(name),
            Dialect::Postgres => postgres::types::quote_ident(name),
        }
    }

    pub fn type_name(self, t: &DataType) -> String {
        match self {
            Dialect::Sqlite => sqlite::types::type_name(t),
            Dialect::Postgres => postgres::types::type_name(t),
        }
    }

    /// `CREATE TABLE` as a load creates its target (the key becomes the primary key).
    pub fn create_table(self, table: &str, schema: &Schema, key: &[String]) -> String {
        let mut cols: Vec<String> = schema
            .columns
            .iter()
            .map(|c| format!("{} {}", self.ident(&c.name), self.type_name(&c.data_type)))
            .collect();
        if !key.is_empty() {
            let keys: Vec<String> = key.iter().map(|k| self.ident(k)).collect();
            cols.push(format!("PRIMARY KEY ({})", keys.join(", ")));
        }
        let schema_stmt = match (self, table.split_once('.')) {
            (Dialect::Postgres, Some((s, _))) => {
                format!(
                    "CREATE SCHEMA IF NOT EXISTS {};\n",
                    self.ident(s.trim_matches('"'))
                )
            }
            _ => String::new(),
        };
        format!(
            "{schema_stmt}CREATE TABLE {} ({})",
            self.table(table),
            cols.join(", ")
        )
    }

    pub fn add_column(self, table: &str, column: &str, t: &DataType) -> String {
        format!(
            "ALTER TABLE {} ADD COLUMN {} {}",
            self.table(table),
            self.ident(column),
            self.type_name(t)
        )
    }

    /// Whether `table` exists, from the catalog (never creating anything).
    pub fn table_exists(self, db: &Arc<dyn Database>, io: &Io, table: &str) -> Result<bool> {
        let (sql, params): (&str, Params) = match self {
            Dialect::Sqlite => {
                let name = match table.split_once('.') {
                    Some(("main" | "temp", t)) => t,
                    _ => table,
                };
                (
                    "SELECT count(*) FROM sqlite_master WHERE type IN ('table', 'view') AND name = :name",
                    vec![("name".into(), Value::Text(name.to_string()))],
                )
            }
            Dialect::Postgres => {
                let t = postgres::types::TableName::parse(table)
                    .map_err(crate::error::EtlError::Other)?;
                match t.schema {
                    Some(s) => (
                        "SELECT count(*) FROM information_schema.tables WHERE table_schema = :schema AND table_name = :name",
                        vec![
                            ("schema".into(), Value::Text(s)),
                            ("name".into(), Value::Text(t.table)),
                        ],
                    ),
                    None => (
                        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = :name",
                        vec![("name".into(), Value::Text(t.table))],
                    ),
                }
            }
        };
        let rows = db.query(io, sql, &params, 1)?;
        Ok(rows
            .rows
            .first()
            .and_then(|r| r.first())
            .and_then(Value::as_i64)
            .is_some_and(|n| n > 0))
    }

    /// Whether the audit table exists: `etl plan` reads a watermark only from an existing
    /// one, since reading through the connector would create it.
    pub fn audit_exists(self, db: &Arc<dyn Database>, io: &Io, audit_schema: &str) -> Result<bool> {
        match self {
            Dialect::Sqlite => self.table_exists(db, io, "etl_runs"),
            Dialect::Postgres => self.table_exists(db, io, &format!("{audit_schema}.etl_runs")),
        }
    }

    /// The planner's row estimate of a query (PostgreSQL's `EXPLAIN`); None elsewhere.
    pub fn explain_rows(
        self,
        db: &Arc<dyn Database>,
        io: &Io,
        sql: &str,
        params: &Params,
    ) -> Result<Option<u64>> {
        if self != Dialect::Postgres {
            return Ok(None);
        }
        let rows = db.query(io, &format!("EXPLAIN (FORMAT JSON) {sql}"), params, 10)?;
        let text = rows
            .rows
            .first()
            .and_then(|r| r.first())
            .and_then(Value::to_text)
            .unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        Ok(json
            .get(0)
            .and_then(|p| p.get("Plan"))
            .and_then(|p| p.get("Plan Rows"))
            .and_then(serde_json::Value::as_f64)
            .map(|n| n.max(0.0) as u64))
    }
}
