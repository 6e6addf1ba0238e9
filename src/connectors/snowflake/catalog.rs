//! Introspection: tables and columns from INFORMATION_SCHEMA (`catalog::SNOWFLAKE`), the
//! primary key from `SHOW PRIMARY KEYS`, whose rows are filtered here (Snowflake's
//! INFORMATION_SCHEMA has no KEY_COLUMN_USAGE, and SHOW takes no bound names).
//!
//! Names follow the connector's convention: a script's plain name (`order_items`) is the
//! upper-case name Snowflake stores (`ORDER_ITEMS`), and an all-upper-case stored name comes
//! back in lower case, as result columns do; mixed-case names are kept as written.

use super::source::stored_name;
use super::types::column_name;
use crate::connectors::catalog::{split, text, SqlCatalog};
use crate::connectors::roles::{Access, Catalog, CatalogColumn, TableId};
use crate::connectors::Io;
use crate::data::Value;
use crate::error::Result;

pub struct SfCatalog {
    pub sql: SqlCatalog,
}

impl Catalog for SfCatalog {
    fn kind(&self) -> &'static str {
        self.sql.kind()
    }

    fn tables(&self, io: &Io, schema: Option<&str>) -> Result<Vec<TableId>> {
        let stored = schema.map(stored_name);
        let mut out: Vec<TableId> = self
            .sql
            .tables(io, stored.as_deref())?
            .into_iter()
            .map(|t| TableId {
                schema: schema.map(str::to_string),
                name: column_name(&t.name),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn columns(&self, io: &Io, table: &str) -> Result<Vec<CatalogColumn>> {
        let mut columns = self.sql.columns_named(io, &stored_table(table), table)?;
        for c in &mut columns {
            c.name = column_name(&c.name);
        }
        Ok(columns)
    }

    fn primary_key(&self, io: &Io, table: &str) -> Result<Vec<String>> {
        let id = split(&stored_table(table));
        let statements = self.sql.statements;
        let (show, schema) = match &id.schema {
            Some(s) => (statements.primary_key_in_schema, Some(s.clone())),
            None => (statements.primary_key, self.current_schema(io)?),
        };
        // A constant statement without names: SHOW is not a SELECT, which read-only checks
        // refuse, but it reads only the catalog.
        let rows = self
            .sql
            .sql
            .query(io, show, &Vec::new(), 1_000_000, Access::ReadWrite)?;
        let at = |name: &str| {
            rows.schema
                .columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(name))
        };
        let (Some(s_at), Some(t_at), Some(c_at), Some(k_at)) = (
            at("schema_name"),
            at("table_name"),
            at("column_name"),
            at("key_sequence"),
        ) else {
            return Err(crate::error::EtlError::db(
                &self.sql.connection,
                format!(
                    "{show}: the result lacks schema_name, table_name, column_name or key_sequence"
                ),
            ));
        };
        let mut key: Vec<(i64, String)> = rows
            .rows
            .into_iter()
            .filter(|r| {
                text(r.get(t_at).cloned()) == id.name
                    && schema
                        .as_deref()
                        .is_none_or(|s| text(r.get(s_at).cloned()) == s)
            })
            .map(|r| {
                let seq = match r.get(k_at) {
                    Some(v) => v.as_i64().unwrap_or(0),
                    None => 0,
                };
                (seq, text(r.get(c_at).cloned()))
            })
            .collect();
        // Stable: rows of equal sequence keep SHOW's order.
        key.sort_by_key(|k| k.0);
        let key: Vec<String> = key.into_iter().map(|k| column_name(&k.1)).collect();
        if key.is_empty() {
            // No key, or no table: only the second is an error.
            self.columns(io, table)?;
        }
        Ok(key)
    }
}

impl SfCatalog {
    /// The session's current schema as Snowflake spells it (the URL's may differ in case).
    fn current_schema(&self, io: &Io) -> Result<Option<String>> {
        let rows = self.sql.sql.query(
            io,
            "SELECT CURRENT_SCHEMA()",
            &Vec::new(),
            1,
            Access::ReadOnly,
        )?;
        Ok(rows
            .rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .filter(|v| !matches!(v, Value::Null))
            .map(|v| text(Some(v))))
    }
}

/// `schema.table` with each part as Snowflake stores it.
fn stored_table(table: &str) -> String {
    let id = split(table);
    match id.schema {
        Some(s) => format!("{}.{}", stored_name(&s), stored_name(&id.name)),
        None => stored_name(&id.name),
    }
}
