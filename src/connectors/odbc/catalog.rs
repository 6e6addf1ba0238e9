//! Introspection through ODBC's catalog functions (SQLTables, SQLColumns, SQLPrimaryKeys via
//! odbc-api), so it works with any driver. Names go to the driver as arguments, never into
//! SQL; the pattern arguments have `_`, `%` and `\` escaped with `\`, and the answers are
//! matched exactly once more here.
//!
//! The default schema (tables named without one) is the database's current schema where the
//! DBMS has schemas: PostgreSQL's `current_schema()`, SQL Server's `SCHEMA_NAME()`, Oracle's
//! `CURRENT_SCHEMA`; another DBMS with schemas lists every schema of the current catalog.
//! Where the driver reports no schemas (MySQL/MariaDB, SQLite), a schema a script names is
//! the catalog (the MySQL database).

use std::sync::Arc;

use super::connect::Shared;
use super::sql::OdbcSql;
use crate::connectors::catalog::{split, text};
use crate::connectors::roles::{Access, Catalog, CatalogColumn, SqlExec, TableId};
use crate::connectors::Io;
use crate::error::{EtlError, Result};

pub struct OdbcCatalog {
    pub shared: Arc<Shared>,
    pub kind: &'static str,
}

/// Where a table is looked for: the catalog and schema arguments of the catalog functions.
struct Place {
    catalog: String,
    /// None: the DBMS has no schemas (or any schema of the catalog for `tables`).
    schema: Option<String>,
}

impl OdbcCatalog {
    fn err(&self, what: &str, e: impl std::fmt::Display) -> EtlError {
        EtlError::db(&self.shared.name, format!("{what}: {e}"))
    }

    /// The catalog and schema of `schema` (None: the connection's default).
    fn place(
        &self,
        io: &Io,
        conn: &odbc_api::Connection<'_>,
        schema: Option<&str>,
    ) -> Result<Place> {
        let has_schemas = conn.max_schema_name_len().unwrap_or(1) > 0;
        let current = conn.current_catalog().unwrap_or_default();
        Ok(match (schema, has_schemas) {
            (Some(s), true) => Place {
                catalog: current,
                schema: Some(s.to_string()),
            },
            (Some(s), false) => Place {
                catalog: s.to_string(),
                schema: None,
            },
            (None, true) => Place {
                catalog: current,
                schema: self.default_schema(io, conn)?,
            },
            (None, false) => Place {
                catalog: current,
                schema: None,
            },
        })
    }

    fn default_schema(&self, io: &Io, conn: &odbc_api::Connection<'_>) -> Result<Option<String>> {
        let dbms = conn
            .database_management_system_name()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let sql = if dbms.contains("postgres") {
            "SELECT current_schema()"
        } else if dbms.contains("sql server") {
            "SELECT SCHEMA_NAME()"
        } else if dbms.contains("oracle") {
            "SELECT SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') FROM DUAL"
        } else {
            return Ok(None);
        };
        let rows = OdbcSql(self.shared.clone()).query(io, sql, &Vec::new(), 1, Access::ReadOnly)?;
        Ok(rows
            .rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .filter(|v| !v.is_null())
            .map(|v| text(Some(v))))
    }

    fn not_found(&self, table: &str) -> EtlError {
        EtlError::Config(format!(
            "connection '{}': there is no table '{table}' (list them with {}.tables())",
            self.shared.name, self.shared.name
        ))
    }
}

/// A name as a search pattern matching only itself.
fn pattern(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '_' | '%' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn utf8(b: Option<&[u8]>) -> String {
    b.map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// The declared type: the driver's type name, with the length of character and binary
/// types and the precision and scale of exact numbers.
fn declared(type_name: &str, data_type: i16, size: Option<i32>, digits: Option<i16>) -> String {
    if type_name.contains('(') {
        return type_name.to_string();
    }
    match (data_type, size, digits) {
        // SQL_NUMERIC, SQL_DECIMAL
        (2 | 3, Some(p), Some(s)) if p > 0 => format!("{type_name}({p},{s})"),
        (2 | 3, Some(p), None) if p > 0 => format!("{type_name}({p})"),
        // SQL_CHAR, SQL_VARCHAR, SQL_WCHAR, SQL_WVARCHAR, SQL_BINARY, SQL_VARBINARY
        (1 | 12 | -8 | -9 | -2 | -3, Some(n), _) if n > 0 => format!("{type_name}({n})"),
        _ => type_name.to_string(),
    }
}

impl Catalog for OdbcCatalog {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn tables(&self, io: &Io, schema: Option<&str>) -> Result<Vec<TableId>> {
        let conn = self.shared.connect()?;
        let place = self.place(io, &conn, schema)?;
        let schema_arg = match &place.schema {
            Some(s) => pattern(s),
            None => String::new(),
        };
        let rows = conn
            .tables(&place.catalog, &schema_arg, "%", "TABLE")
            .map_err(|e| self.err("tables()", e))?;
        let mut out = Vec::new();
        for row in rows {
            let row = row.map_err(|e| self.err("tables()", e))?;
            let row_schema = utf8(row.schema.as_bytes());
            if let Some(s) = &place.schema {
                if &row_schema != s {
                    continue;
                }
            }
            if utf8(row.table_type.as_bytes()) != "TABLE" {
                continue;
            }
            out.push(TableId {
                // A DBMS with schemas whose default is unknown: the table's own schema.
                schema: match (schema, &place.schema) {
                    (Some(s), _) => Some(s.to_string()),
                    (None, None) if !row_schema.is_empty() => Some(row_schema),
                    _ => None,
                },
                name: utf8(row.table.as_bytes()),
            });
        }
        out.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        Ok(out)
    }

    fn columns(&self, io: &Io, table: &str) -> Result<Vec<CatalogColumn>> {
        let id = split(table);
        let conn = self.shared.connect()?;
        let place = self.place(io, &conn, id.schema.as_deref())?;
        let schema_arg = match &place.schema {
            Some(s) => pattern(s),
            None => String::new(),
        };
        let what = format!("columns(\"{table}\")");
        let rows = conn
            .columns(&place.catalog, &schema_arg, &pattern(&id.name), "%")
            .map_err(|e| self.err(&what, e))?;
        let mut cols = Vec::new();
        for row in rows {
            let row = row.map_err(|e| self.err(&what, e))?;
            if utf8(row.table.as_bytes()) != id.name {
                continue;
            }
            if let Some(s) = &place.schema {
                if &utf8(row.schema.as_bytes()) != s {
                    continue;
                }
            }
            let type_name = utf8(row.type_name.as_bytes());
            cols.push((
                row.ordinal_position,
                CatalogColumn {
                    name: utf8(row.column_name.as_bytes()),
                    declared: declared(
                        &type_name,
                        row.data_type,
                        row.column_size.as_opt().copied(),
                        row.decimal_digits.as_opt().copied(),
                    ),
                    // SQL_NO_NULLS = 0; SQL_NULLABLE_UNKNOWN counts as nullable.
                    nullable: row.nullable != 0,
                },
            ));
        }
        if cols.is_empty() {
            return Err(self.not_found(table));
        }
        cols.sort_by_key(|c| c.0);
        Ok(cols.into_iter().map(|c| c.1).collect())
    }

    fn primary_key(&self, io: &Io, table: &str) -> Result<Vec<String>> {
        let id = split(table);
        let conn = self.shared.connect()?;
        let place = self.place(io, &conn, id.schema.as_deref())?;
        let what = format!("primary_key(\"{table}\")");
        let catalog = (!place.catalog.is_empty()).then_some(place.catalog.as_str());
        let rows = conn
            .primary_keys(catalog, place.schema.as_deref(), &id.name)
            .map_err(|e| self.err(&what, e))?;
        let mut key = Vec::new();
        for row in rows {
            let row = row.map_err(|e| self.err(&what, e))?;
            if utf8(row.table.as_bytes()) != id.name {
                continue;
            }
            key.push((row.key_seq, utf8(row.column.as_bytes())));
        }
        key.sort_by_key(|k| k.0);
        let key: Vec<String> = key.into_iter().map(|k| k.1).collect();
        drop(conn);
        if key.is_empty() {
            // No key, or no table: only the second is an error.
            self.columns(io, table)?;
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_patterns_matching_only_themselves() {
        assert_eq!(pattern("order_items"), "order\\_items");
        assert_eq!(pattern("a%b\\c"), "a\\%b\\\\c");
    }

    #[test]
    fn declared_types_carry_length_precision_and_scale() {
        assert_eq!(declared("numeric", 2, Some(12), Some(2)), "numeric(12,2)");
        assert_eq!(declared("varchar", 12, Some(40), None), "varchar(40)");
        assert_eq!(declared("int4", 4, Some(10), Some(0)), "int4");
        assert_eq!(declared("text", -1, Some(8190), None), "text");
    }
}
