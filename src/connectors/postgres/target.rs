//! PostgreSQL as a load target: a load's transaction (`txn.rs`) starts here, holding the load
//! lock; tables are read from the catalog; the DDL a load runs is written here for `etl plan`.

use std::sync::Arc;

use tokio_postgres::Client;

use super::error::{message, sqlstate};
use super::txn::PgTxn;
use super::types::{quote_ident, type_name, PgType, TableName};
use super::Shared;
use crate::connectors::{
    Io, LoadIdentity, LoadTarget, ScratchNaming, TableId, TargetColumn, TargetTxn,
};
use crate::data::{DataType, Schema};
use crate::error::{EtlError, Result};

pub struct PgTarget(pub Arc<Shared>);

impl LoadTarget for PgTarget {
    fn begin(&self, io: &Io, load: &LoadIdentity) -> Result<Box<dyn TargetTxn>> {
        Ok(Box::new(PgTxn::begin(&self.0, io, load)?))
    }

    fn inspect(&self, io: &Io, table: &str) -> Result<Option<Vec<TargetColumn>>> {
        let name = TableName::parse(table).map_err(|e| EtlError::load(table, e))?;
        io.block_on(async {
            let c = self.0.pool.get(&io.handle).await?;
            let id = resolve_schema(&c, &name).await.map_err(|e| {
                pg_load_error(&self.0.name, table, "finding the current schema", &e)
            })?;
            let found = match id {
                Some(id) => describe(&c, &id)
                    .await
                    .map_err(|e| {
                        pg_load_error(&self.0.name, table, "reading the table's columns", &e)
                    })?
                    .map(|(_, cols)| cols.iter().map(PgColumn::target).collect()),
                None => None,
            };
            c.release();
            Ok(found)
        })
    }

    fn create_table_sql(&self, table: &str, columns: &Schema, key: &[String]) -> String {
        let name = TableName::parse(table).unwrap_or(TableName {
            schema: None,
            table: table.to_string(),
        });
        let mut defs: Vec<String> = columns
            .columns
            .iter()
            .map(|c| format!("{} {}", quote_ident(&c.name), type_name(&c.data_type)))
            .collect();
        if !key.is_empty() {
            let keys: Vec<String> = key.iter().map(|k| quote_ident(k)).collect();
            defs.push(format!("PRIMARY KEY ({})", keys.join(", ")));
        }
        let schema = match &name.schema {
            Some(s) => format!("CREATE SCHEMA IF NOT EXISTS {};\n", quote_ident(s)),
            None => String::new(),
        };
        format!(
            "{schema}CREATE TABLE {} ({})",
            name.quoted(),
            defs.join(", ")
        )
    }

    fn add_column_sql(&self, table: &str, column: &str, data_type: &DataType) -> String {
        let name = TableName::parse(table)
            .map(|t| t.quoted())
            .unwrap_or_else(|_| quote_ident(table));
        format!(
            "ALTER TABLE {name} ADD COLUMN {} {}",
            quote_ident(column),
            type_name(data_type)
        )
    }

    fn scratch_naming(&self) -> ScratchNaming {
        ScratchNaming::Schema
    }

    fn quote_table(&self, table: &str) -> String {
        TableName::parse(table)
            .map(|t| t.quoted())
            .unwrap_or_else(|_| quote_ident(table))
    }

    fn quote_id(&self, table: &TableId) -> String {
        quoted(table)
    }
}

/// A table with its schema: the one named, or the connection's current schema. None when the
/// search path names no schema.
pub(super) async fn resolve_schema(
    c: &Client,
    name: &TableName,
) -> std::result::Result<Option<TableId>, tokio_postgres::Error> {
    let schema = match &name.schema {
        Some(s) => Some(s.clone()),
        None => c
            .query_one("SELECT current_schema()", &[])
            .await?
            .get::<_, Option<String>>(0),
    };
    Ok(schema.map(|s| TableId {
        schema: Some(s),
        name: name.table.clone(),
    }))
}

/// The quoted `schema.table` of a resolved table.
pub(super) fn quoted(t: &TableId) -> String {
    match &t.schema {
        Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&t.name)),
        None => quote_ident(&t.name),
    }
}

/// A column of a table as the catalog and a prepared `SELECT *` describe it.
#[derive(Clone, Debug)]
pub(super) struct PgColumn {
    pub name: String,
    pub pg: PgType,
    /// The declared type (`format_type`), to recreate it exactly.
    pub declared: String,
}

impl PgColumn {
    pub fn target(&self) -> TargetColumn {
        TargetColumn {
            name: self.name.clone(),
            data_type: self.pg.data_type.clone(),
            declared: self.declared.clone(),
            writable: self.pg.supported(),
        }
    }
}

/// A table's relation kind (`r`, `p`, `v`, ...) and columns; None when it does not exist.
pub(super) async fn describe(
    c: &Client,
    table: &TableId,
) -> std::result::Result<Option<(String, Vec<PgColumn>)>, tokio_postgres::Error> {
    let row = c
        .query_opt(
            "SELECT oid, relkind::text FROM pg_class WHERE oid = to_regclass($1)",
            &[&quoted(table)],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let oid: u32 = row.get(0);
    let kind: String = row.get(1);
    let declared = c
        .query(
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[&oid],
        )
        .await?;
    let stmt = c
        .prepare(&format!("SELECT * FROM {}", quoted(table)))
        .await?;
    let cols = stmt
        .columns()
        .iter()
        .zip(declared)
        .map(|(col, d)| PgColumn {
            name: d.get(0),
            pg: PgType::from_type(col.type_(), col.type_modifier()),
            declared: d.get(1),
        })
        .collect();
    Ok(Some((kind, cols)))
}

/// A database error of a load, with what was being done.
pub(super) fn pg_load_error(
    connection: &str,
    table: &str,
    doing: &str,
    e: &tokio_postgres::Error,
) -> EtlError {
    EtlError::Database {
        connection: connection.to_string(),
        message: format!("load into {table}: {doing}: {}", message(e)),
        sqlstate: sqlstate(e),
    }
}
