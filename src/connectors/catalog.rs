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

    /// The columns of `lookup` (the name as the catalog stores it); a missing table is
    /// reported as `shown` (the script's name).
    pub(crate) fn columns_named(
        &self,
        io: &Io,
        lookup: &str,
        shown: &str,
    ) -> Result<Vec<CatalogColumn>> {
        let s = self.statements;
        let (qualified, params) = Self::table_params(lookup);
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
            return Err(self.not_found(shown));
        }
        Ok(columns)
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
        self.columns_named(io, table, table)
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
pub(crate) fn split(table: &str) -> TableId {
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

pub(crate) fn text(v: Option<Value>) -> String {
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

/// Snowflake: INFORMATION_SCHEMA of the connection's database. Its INFORMATION_SCHEMA has no
/// KEY_COLUMN_USAGE, so the primary-key "statements" are `SHOW PRIMARY KEYS`, whose rows the
/// Snowflake catalog filters by schema and table itself (SHOW takes no bound names).
pub static SNOWFLAKE: CatalogSql = CatalogSql {
    kind: "Snowflake",
    tables: "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES \
             WHERE TABLE_SCHEMA = CURRENT_SCHEMA() AND TABLE_TYPE = 'BASE TABLE'",
    tables_in_schema: "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES \
             WHERE TABLE_SCHEMA = :schema AND TABLE_TYPE = 'BASE TABLE'",
    columns: concat!(
        "SELECT COLUMN_NAME, ",
        sf_type!(),
        ", IS_NULLABLE = 'YES' FROM INFORMATION_SCHEMA.COLUMNS \
         WHERE TABLE_SCHEMA = CURRENT_SCHEMA() AND TABLE_NAME = :table ORDER BY ORDINAL_POSITION"
    ),
    columns_in_schema: concat!(
        "SELECT COLUMN_NAME, ",
        sf_type!(),
        ", IS_NULLABLE = 'YES' FROM INFORMATION_SCHEMA.COLUMNS \
         WHERE TABLE_SCHEMA = :schema AND TABLE_NAME = :table ORDER BY ORDINAL_POSITION"
    ),
    primary_key: "SHOW PRIMARY KEYS IN SCHEMA",
    primary_key_in_schema: "SHOW PRIMARY KEYS IN DATABASE",
};

/// Snowflake's declared type from INFORMATION_SCHEMA.COLUMNS: NUMBER(p,s), VARCHAR(n) (its
/// DATA_TYPE says TEXT), BINARY(n), else DATA_TYPE.
macro_rules! sf_type {
    () => {
        "CASE WHEN DATA_TYPE = 'NUMBER' AND NUMERIC_PRECISION IS NOT NULL \
         THEN 'NUMBER(' || NUMERIC_PRECISION || ',' || NUMERIC_SCALE || ')' \
         WHEN DATA_TYPE = 'TEXT' AND CHARACTER_MAXIMUM_LENGTH IS NOT NULL \
         THEN 'VARCHAR(' || CHARACTER_MAXIMUM_LENGTH || ')' \
         WHEN DATA_TYPE = 'BINARY' AND CHARACTER_MAXIMUM_LENGTH IS NOT NULL \
         THEN 'BINARY(' || CHARACTER_MAXIMUM_LENGTH || ')' ELSE DATA_TYPE END"
    };
}
use sf_type;

/// SQL Server: INFORMATION_SCHEMA of the connection's database, the default schema being
/// the login's (`SCHEMA_NAME()`). `:name` parameters become `@P1`.. as the connector binds.
pub static MSSQL: CatalogSql = CatalogSql {
    kind: "SQL Server",
    tables: "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES \
             WHERE TABLE_SCHEMA = SCHEMA_NAME() AND TABLE_TYPE = 'BASE TABLE'",
    tables_in_schema: "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES \
             WHERE TABLE_SCHEMA = :schema AND TABLE_TYPE = 'BASE TABLE'",
    columns: concat!(
        "SELECT COLUMN_NAME, ",
        ms_type!(),
        ", CASE WHEN IS_NULLABLE = 'YES' THEN 1 ELSE 0 END FROM INFORMATION_SCHEMA.COLUMNS \
         WHERE TABLE_SCHEMA = SCHEMA_NAME() AND TABLE_NAME = :table ORDER BY ORDINAL_POSITION"
    ),
    columns_in_schema: concat!(
        "SELECT COLUMN_NAME, ",
        ms_type!(),
        ", CASE WHEN IS_NULLABLE = 'YES' THEN 1 ELSE 0 END FROM INFORMATION_SCHEMA.COLUMNS \
         WHERE TABLE_SCHEMA = :schema AND TABLE_NAME = :table ORDER BY ORDINAL_POSITION"
    ),
    primary_key: concat!(ms_key!(), "SCHEMA_NAME()", ms_key_end!()),
    primary_key_in_schema: concat!(ms_key!(), ":schema", ms_key_end!()),
};

/// SQL Server's declared type: DATA_TYPE with (p,s) for decimal/numeric, (n) or (max) for
/// the sized character and binary types, the fractional digits of datetime2/datetimeoffset/time.
macro_rules! ms_type {
    () => {
        "DATA_TYPE + CASE \
         WHEN DATA_TYPE IN ('decimal', 'numeric') THEN '(' + CAST(NUMERIC_PRECISION AS varchar(10)) \
         + ',' + CAST(NUMERIC_SCALE AS varchar(10)) + ')' \
         WHEN DATA_TYPE IN ('char', 'varchar', 'nchar', 'nvarchar', 'binary', 'varbinary') \
         THEN CASE WHEN CHARACTER_MAXIMUM_LENGTH = -1 THEN '(max)' \
         ELSE '(' + CAST(CHARACTER_MAXIMUM_LENGTH AS varchar(10)) + ')' END \
         WHEN DATA_TYPE IN ('datetime2', 'datetimeoffset', 'time') \
         THEN '(' + CAST(DATETIME_PRECISION AS varchar(10)) + ')' ELSE '' END"
    };
}
use ms_type;

macro_rules! ms_key {
    () => {
        "SELECT k.COLUMN_NAME FROM INFORMATION_SCHEMA.TABLE_CONSTRAINTS c \
         JOIN INFORMATION_SCHEMA.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = c.CONSTRAINT_SCHEMA \
         AND k.CONSTRAINT_NAME = c.CONSTRAINT_NAME AND k.TABLE_SCHEMA = c.TABLE_SCHEMA \
         AND k.TABLE_NAME = c.TABLE_NAME \
         WHERE c.CONSTRAINT_TYPE = 'PRIMARY KEY' AND c.TABLE_NAME = :table AND c.TABLE_SCHEMA = "
    };
}
use ms_key;

macro_rules! ms_key_end {
    () => {
        " ORDER BY k.ORDINAL_POSITION"
    };
}
use ms_key_end;

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
