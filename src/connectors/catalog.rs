//! Introspection for connectors that speak SQL: the catalog queries are data, one set per
//! dialect (`CatalogSql`), run read-only through the connector's own `SqlExec`. Names are
//! always bound as parameters, never formatted into the statements.

use std::sync::Arc;

use super::roles::{Access, Catalog, CatalogColumn, Params, SqlExec, TableId};
use super::Io;
use crate::data::Value;
use crate::error::{EtlError, Result};

/// A dialect's catalog statements. Each may use `:schema` and `:table` (bare names) and
/// `:qualified` (the table quoted and qualified as PostgreSQL's `to_regclass` reads it).
pub struct CatalogSql {
    pub kind: &'static str,
    /// Base tables of the default schema (or database): one column, the name.
    pub tables: &'static str,
    /// Base tables of `:schema`.
    pub tables_in_schema: &'static str,
    /// name, declared type, nullable (bool or 0/1) of `:table`, in order; the default schema.
    pub columns: &'static str,
    pub columns_in_schema: &'static str,
    /// The primary key's column names in key order.
    pub primary_key: &'static str,
    pub primary_key_in_schema: &'static str,
}

/// `Catalog` over plain SQL.
pub struct SqlCatalog {
    pub connection: String,
    pub sql: Arc<dyn SqlExec>,
    pub statements: &'static CatalogSql,
}

const MAX_CATALOG_ROWS: usize = 100_000;

impl SqlCatalog {
    fn rows(&self, io: &Io, sql: &str, params: Params) -> Result<Vec<Vec<Value>>> {
        // Only the parameters a statement names: the binders refuse unused ones.
        let params: Params = params
            .into_iter()
            .filter(|(name, _)| sql.contains(&format!(":{name}")))
            .collect();
        Ok(self
            .sql
            .query(io, sql, &params, MAX_CATALOG_ROWS, Access::ReadOnly)?
            .rows)
    }

    /// The schema/table parameters of a table as a script names it.
    fn table_params(table: &str) -> (bool, Params) {
        let id = split(table);
        let qualified = match &id.schema {
            Some(s) => format!("{}.{}", pg_quote(s), pg_quote(&id.name)),
            None => pg_quote(&id.name),
        };
        let mut params = vec![
            ("table".to_string(), Value::Text(id.name.clone())),
            ("qualified".to_string(), Value::Text(qualified)),
        ];
        if let Some(s) = &id.schema {
            params.push(("schema".to_string(), Value::Text(s.clone())));
        }
        (id.schema.is_some(), params)
    }

    fn not_found(&self, table: &str) -> EtlError {
        EtlError::Config(format!(
            "connection '{}': there is no table '{table}' (list them with {}.tables())",
            self.connection, self.connection
        ))
    }
}

impl Catalog for SqlCatalog {
    fn kind(&self) -> &'static str {
        self.statements.kind
    }

    fn tables(&self, io: &Io, schema: Option<&str>) -> Result<Vec<TableId>> {
        let s = self.statements;
        let rows = match schema {
            None => self.rows(io, s.tables, Vec::new())?,
            Some(schema) => self.rows(
                io,
                s.tables_in_schema,
                vec![("schema".into(), Value::Text(schema.to_string()))],
            )?,
        };
        let mut out: Vec<TableId> = rows
            .into_iter()
            .map(|r| TableId {
                schema: schema.map(str::to_string),
                name: text(r.into_iter().next()),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn columns(&self, io: &Io, table: &str) -> Result<Vec<CatalogColumn>> {
        let s = self.statements;
        let (qualified, params) = Self::table_params(table);
        let sql = if qualified {
            s.columns_in_schema
        } else {
            s.columns
        };
        let columns: Vec<CatalogColumn> = self
            .rows(io, sql, params)?
            .into_iter()
            .map(|r| {
                let mut r = r.into_iter();
                CatalogColumn {
                    name: text(r.next()),
                    declared: text(r.next()),
                    nullable: truth(r.next()),
                }
            })
            .collect();
        if columns.is_empty() {
            return Err(self.not_found(table));
        }
        Ok(columns)
    }

    fn primary_key(&self, io: &Io, table: &str) -> Result<Vec<String>> {
        let s = self.statements;
        let (qualified, params) = Self::table_params(table);
        let sql = if qualified {
            s.primary_key_in_schema
        } else {
            s.primary_key
        };
        let key: Vec<String> = self
            .rows(io, sql, params)?
            .into_iter()
            .map(|r| text(r.into_iter().next()))
            .collect();
        if key.is_empty() {
            // No key, or no table: only the second is an error.
            self.columns(io, table)?;
        }
        Ok(key)
    }
}

/// `schema.table` or `table`.
fn split(table: &str) -> TableId {
    match table.split_once('.') {
        Some((s, n)) => TableId {
            schema: Some(s.to_string()),
            name: n.to_string(),
        },
        None => TableId {
            schema: None,
            name: table.to_string(),
        },
    }
}

fn pg_quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn text(v: Option<Value>) -> String {
    match v {
        Some(Value::Bytes(b)) => String::from_utf8_lossy(&b).into_owned(),
        Some(v) => v.to_text().unwrap_or_default(),
        None => String::new(),
    }
}

fn truth(v: Option<Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => b,
        Some(Value::Int16(i)) => i != 0,
        Some(Value::Int32(i)) => i != 0,
        Some(Value::Int64(i)) => i != 0,
        Some(v) => matches!(v.to_text().as_deref(), Some("1" | "t" | "true" | "YES")),
        None => false,
    }
}

pub static POSTGRES: CatalogSql = CatalogSql {
    kind: "PostgreSQL",
    tables: "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = current_schema()",
    tables_in_schema: "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname::text = CAST(:schema AS text)",
    columns: PG_COLUMNS,
    columns_in_schema: PG_COLUMNS,
    primary_key: PG_KEY,
    primary_key_in_schema: PG_KEY,
};

const PG_COLUMNS: &str =
    "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull \
     FROM pg_attribute a WHERE a.attrelid = to_regclass(CAST(:qualified AS text)) \
     AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";
const PG_KEY: &str = "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a \
     ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
     WHERE i.indrelid = to_regclass(CAST(:qualified AS text)) AND i.indisprimary \
     ORDER BY array_position(i.indkey::int2[], a.attnum)";

pub static MYSQL: CatalogSql = CatalogSql {
    kind: "MySQL/MariaDB",
    tables: "SELECT TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'",
    tables_in_schema: "SELECT TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = :schema AND TABLE_TYPE = 'BASE TABLE'",
    columns:
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE = 'YES' FROM information_schema.COLUMNS \
              WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table ORDER BY ORDINAL_POSITION",
    columns_in_schema:
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE = 'YES' FROM information_schema.COLUMNS \
              WHERE TABLE_SCHEMA = :schema AND TABLE_NAME = :table ORDER BY ORDINAL_POSITION",
    primary_key: "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
                  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table \
                  AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
    primary_key_in_schema: "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
                  WHERE TABLE_SCHEMA = :schema AND TABLE_NAME = :table \
                  AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
};

/// SQLite's schemas are attached databases; `main` is the default.
pub static SQLITE: CatalogSql = CatalogSql {
    kind: "SQLite",
    tables: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    tables_in_schema: "SELECT name FROM pragma_table_list WHERE schema = :schema AND type = 'table' \
                       AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    columns: "SELECT name, type, \"notnull\" = 0 FROM pragma_table_info(:table) ORDER BY cid",
    columns_in_schema: "SELECT name, type, \"notnull\" = 0 FROM pragma_table_info(:table, :schema) ORDER BY cid",
    primary_key: "SELECT name FROM pragma_table_info(:table) WHERE pk > 0 ORDER BY pk",
    primary_key_in_schema: "SELECT name FROM pragma_table_info(:table, :schema) WHERE pk > 0 ORDER BY pk",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_split_into_schema_and_name_and_quote_for_postgres() {
        let (qualified, params) = SqlCatalog::table_params("sales.Order\"s");
        assert!(qualified);
        assert_eq!(
            params[1].1,
            Value::Text("\"sales\".\"Order\"\"s\"".to_string())
        );
        let (qualified, params) = SqlCatalog::table_params("orders");
        assert!(!qualified && params.len() == 2);
    }
}
