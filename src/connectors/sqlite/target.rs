//! SQLite as a load target: a load's IMMEDIATE transaction (`txn.rs`) starts here; tables are
//! read from `pragma_table_info`; the DDL a load runs is written here for `etl plan`.

use rusqlite::Connection;

use super::db::{table_ident, SqliteDb};
use super::txn::SqliteTxn;
use super::types::{self, quote_ident};
use crate::connectors::{
    Io, LoadIdentity, LoadTarget, ScratchNaming, TableId, TargetColumn, TargetTxn,
};
use crate::data::{DataType, Schema};
use crate::error::Result;

pub struct SqliteTarget(pub SqliteDb);

impl LoadTarget for SqliteTarget {
    fn begin(&self, _io: &Io, load: &LoadIdentity) -> Result<Box<dyn TargetTxn>> {
        Ok(Box::new(SqliteTxn::begin(&self.0, &load.table)?))
    }

    fn inspect(&self, _io: &Io, table: &str) -> Result<Option<Vec<TargetColumn>>> {
        if !self.0.exists() {
            return Ok(None);
        }
        let conn = self.0.connect_read_only()?;
        columns(&conn, &table_id(table)).map_err(|e| self.0.err(e))
    }

    fn create_table_sql(&self, table: &str, columns: &Schema, key: &[String]) -> String {
        let defs: Vec<(String, String)> = columns
            .columns
            .iter()
            .map(|c| (c.name.clone(), types::type_name(&c.data_type)))
            .collect();
        create_sql(&table_ident(table), &defs, key)
    }

    fn add_column_sql(&self, table: &str, column: &str, data_type: &DataType) -> String {
        format!(
            "ALTER TABLE {} ADD COLUMN {} {}",
            table_ident(table),
            quote_ident(column),
            types::type_name(data_type)
        )
    }

    fn scratch_naming(&self) -> ScratchNaming {
        ScratchNaming::Prefix
    }

    fn quote_table(&self, table: &str) -> String {
        table_ident(table)
    }

    fn quote_id(&self, table: &TableId) -> String {
        quoted(table)
    }

    fn as_number(&self, expr: &str) -> String {
        format!("CAST({expr} AS NUMERIC)")
    }

    /// `etl_row_hash`, registered on every connection (SQLite has no hash function).
    fn row_hash(&self, columns: &[String]) -> String {
        format!("etl_row_hash({})", columns.join(", "))
    }

    /// A rowid alias: SQLite numbers it when an insert leaves it out.
    fn identity_type(&self) -> &'static str {
        "INTEGER"
    }
}

/// `main.t` and `temp.t` keep their schema; any other dotted name is one identifier (SQLite's
/// schemas are attached files, which would break a load's atomicity with its audit record).
pub(super) fn table_id(name: &str) -> TableId {
    match name.split_once('.') {
        Some((schema @ ("main" | "temp"), table)) => TableId {
            schema: Some(schema.to_string()),
            name: table.to_string(),
        },
        _ => TableId {
            schema: None,
            name: name.to_string(),
        },
    }
}

pub(super) fn quoted(t: &TableId) -> String {
    match &t.schema {
        Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&t.name)),
        None => quote_ident(&t.name),
    }
}

/// `CREATE TABLE` from (name, declared type) pairs, the key as primary key. Key columns are
/// NOT NULL: SQLite's primary keys, unlike PostgreSQL's, would accept NULLs.
pub(super) fn create_sql(table: &str, columns: &[(String, String)], key: &[String]) -> String {
    let mut defs: Vec<String> = columns
        .iter()
        .map(|(n, t)| {
            let not_null = if key.contains(n) { " NOT NULL" } else { "" };
            format!("{} {t}{not_null}", quote_ident(n))
        })
        .collect();
    if !key.is_empty() {
        let keys: Vec<String> = key.iter().map(|k| quote_ident(k)).collect();
        defs.push(format!("PRIMARY KEY ({})", keys.join(", ")));
    }
    format!("CREATE TABLE {table} ({})", defs.join(", "))
}

/// A table's columns with their declared types; None when it does not exist.
pub(super) fn columns(
    conn: &Connection,
    table: &TableId,
) -> rusqlite::Result<Option<Vec<TargetColumn>>> {
    let schema = table.schema.as_deref().unwrap_or("main");
    let mut stmt = conn.prepare("SELECT name, type FROM pragma_table_info(?1, ?2)")?;
    let cols: Vec<TargetColumn> = stmt
        .query_map([table.name.as_str(), schema], |r| {
            let name: String = r.get(0)?;
            let declared: String = r.get(1)?;
            Ok(TargetColumn {
                name,
                data_type: types::from_decl(&declared).unwrap_or(DataType::TEXT),
                declared,
                writable: true,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok((!cols.is_empty()).then_some(cols))
}
