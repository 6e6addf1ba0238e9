//! One load's transaction on SQLite: BEGIN IMMEDIATE (the write lock, which also keeps a second
//! load of the table waiting), the DDL, the rows, the swap or merge and whatever `load/` runs
//! before COMMIT. Dropping it without commit rolls it all back.

use rusqlite::Connection;

use super::db::{bind, SqliteDb};
use super::target::{columns, create_sql, quoted, table_id};
use super::types::{self, quote_ident};
use crate::connectors::{
    ColumnDef, CursorWindow, MergeCounts, Params, Rows, TableId, TargetColumn, TargetTxn,
};
use crate::data::{Batch, Column, Schema};
use crate::error::{EtlError, Result};

pub struct SqliteTxn {
    conn: Connection,
    db: SqliteDb,
    /// The table as the script names it (messages).
    table: String,
    insert_sql: String,
    written: u64,
}

impl SqliteTxn {
    pub fn begin(db: &SqliteDb, table: &str) -> Result<SqliteTxn> {
        let txn = SqliteTxn {
            conn: db.connect()?,
            db: db.clone(),
            table: table.to_string(),
            insert_sql: String::new(),
            written: 0,
        };
        txn.run("BEGIN IMMEDIATE")?;
        Ok(txn)
    }

    fn err(&self, e: impl std::fmt::Display) -> EtlError {
        EtlError::load(&self.table, format!("connection '{}': {e}", self.db.name))
    }

    fn run(&self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql).map_err(|e| self.err(e))
    }

    fn columns_of(&self, table: &TableId) -> Result<Vec<TargetColumn>> {
        Ok(columns(&self.conn, table)
            .map_err(|e| self.err(e))?
            .unwrap_or_default())
    }

    fn defs(columns: &[ColumnDef]) -> Vec<(String, String)> {
        columns
            .iter()
            .map(|c| {
                let t = c
                    .declared
                    .clone()
                    .unwrap_or_else(|| types::type_name(&c.data_type));
                (c.name.clone(), t)
            })
            .collect()
    }

    fn exec(&self, sql: &str, params: &Params) -> Result<u64> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        bind(&mut stmt, params).map_err(|e| self.err(e))?;
        Ok(stmt.raw_execute().map_err(|e| self.err(e))? as u64)
    }
}

impl TargetTxn for SqliteTxn {
    fn resolve(&mut self, table: &str) -> Result<(TableId, Option<Vec<TargetColumn>>)> {
        let id = table_id(table);
        let cols = columns(&self.conn, &id).map_err(|e| self.err(e))?;
        Ok((id, cols))
    }

    fn create_table(
        &mut self,
        table: &TableId,
        columns: &[ColumnDef],
        key: &[String],
    ) -> Result<()> {
        self.run(&create_sql(&quoted(table), &Self::defs(columns), key))
    }

    /// SQLite cannot add a primary key to a table, so the replacement gets it at once.
    fn create_replacement(
        &mut self,
        target: &TableId,
        columns: &[ColumnDef],
        key: &[String],
    ) -> Result<TableId> {
        let new = TableId {
            schema: target.schema.clone(),
            name: format!("{}__etl_new", target.name),
        };
        self.run(&format!("DROP TABLE IF EXISTS {}", quoted(&new)))?;
        self.run(&create_sql(&quoted(&new), &Self::defs(columns), key))?;
        Ok(new)
    }

    fn create_work(&mut self, target: &TableId, columns: &[String], name: &str) -> Result<TableId> {
        let have = self.columns_of(target)?;
        let defs: Vec<(String, String)> = columns
            .iter()
            .filter_map(|c| have.iter().find(|t| t.name == *c))
            .map(|t| (t.name.clone(), t.declared.clone()))
            .collect();
        let stage = TableId {
            schema: Some("temp".into()),
            name: name.into(),
        };
        self.run(&format!("DROP TABLE IF EXISTS {}", quoted(&stage)))?;
        self.run(&create_sql(&quoted(&stage), &defs, &[]))?;
        Ok(stage)
    }

    fn add_column(&mut self, table: &TableId, column: &ColumnDef) -> Result<()> {
        let (name, ty) = Self::defs(std::slice::from_ref(column)).remove(0);
        self.run(&format!(
            "ALTER TABLE {} ADD COLUMN {} {ty}",
            quoted(table),
            quote_ident(&name)
        ))
        .map_err(|e| EtlError::load(&self.table, format!("adding column '{name}': {e}")))
    }

    fn ensure_unique_key(&mut self, table: &TableId, key: &[String]) -> Result<()> {
        let index = quote_ident(&format!("{}__etl_key", table.name));
        let keys: Vec<String> = key.iter().map(|k| quote_ident(k)).collect();
        self.conn
            .execute_batch(&format!(
                "CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {} ({})",
                quoted(table),
                keys.join(", ")
            ))
            .map_err(|e| {
                EtlError::load(
                    &self.table,
                    format!(
                        "the key ({}) is not unique in the existing table: {e}",
                        key.join(", ")
                    ),
                )
            })
    }

    fn delete_window(&mut self, table: &TableId, window: &CursorWindow) -> Result<u64> {
        let Some(p) = window.predicate(&quote_ident(&window.column)) else {
            return Ok(0);
        };
        self.exec(
            &format!("DELETE FROM {} WHERE {}", quoted(table), p.sql),
            &p.params,
        )
    }

    fn begin_write(&mut self, table: &TableId, columns: &[String]) -> Result<Schema> {
        let have = self.columns_of(table)?;
        let mut typed = Vec::with_capacity(columns.len());
        for name in columns {
            let t = have
                .iter()
                .find(|c| c.name == *name)
                .ok_or_else(|| EtlError::load(&self.table, format!("column '{name}' vanished")))?;
            typed.push(Column::new(t.name.clone(), t.data_type.clone()));
        }
        let names: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let marks = vec!["?"; columns.len()].join(", ");
        self.insert_sql = format!(
            "INSERT INTO {} ({}) VALUES ({marks})",
            quoted(table),
            names.join(", ")
        );
        Ok(Schema::new(typed))
    }

    fn write(&mut self, batch: &Batch) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(&self.insert_sql)
            .map_err(|e| EtlError::load(&self.table, e.to_string()))?;
        for (i, row) in batch.rows().enumerate() {
            let values = row.iter().map(types::write);
            stmt.execute(rusqlite::params_from_iter(values))
                .map_err(|e| EtlError::Load {
                    table: self.table.clone(),
                    row: Some(batch.first_row + i as u64),
                    column: None,
                    message: e.to_string(),
                })?;
        }
        self.written += batch.len() as u64;
        Ok(())
    }

    fn end_write(&mut self) -> Result<u64> {
        Ok(std::mem::take(&mut self.written))
    }

    fn append_stage(
        &mut self,
        stage: &TableId,
        target: &TableId,
        columns: &[String],
    ) -> Result<u64> {
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        self.exec(
            &format!(
                "INSERT INTO {} ({c}) SELECT {c} FROM {}",
                quoted(target),
                quoted(stage),
                c = cols.join(", ")
            ),
            &Params::new(),
        )
    }

    fn swap(&mut self, replacement: &TableId, target: &TableId, _key: &[String]) -> Result<()> {
        self.run(&format!(
            "DROP TABLE IF EXISTS {}; ALTER TABLE {} RENAME TO {};",
            quoted(target),
            quoted(replacement),
            quote_ident(&target.name)
        ))
    }

    /// Upsert from the stage: the last row wins for a key repeated within one load.
    fn merge(
        &mut self,
        stage: &TableId,
        target: &TableId,
        columns: &[String],
        key: &[String],
    ) -> Result<MergeCounts> {
        let (stage, target) = (quoted(stage), quoted(target));
        let q = |c: &str| quote_ident(c);
        let keys: Vec<String> = key.iter().map(|k| q(k)).collect();
        let cols: Vec<String> = columns.iter().map(|c| q(c)).collect();
        let matches = keys
            .iter()
            .map(|k| format!("t.{k} = s.{k}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let others: Vec<&String> = columns.iter().filter(|c| !key.contains(c)).collect();
        let sets: Vec<String> = others
            .iter()
            .map(|c| format!("{0} = s.{0}", q(c)))
            .collect();
        // Only rows whose values differ count as updated: a boundary row read again at the
        // watermark merges without being reported (or rewritten) as a change.
        let changed = others
            .iter()
            .map(|c| format!("t.{0} IS NOT s.{0}", q(c)))
            .collect::<Vec<_>>()
            .join(" OR ");
        let none = Params::new();
        self.exec(
            &format!(
                "DELETE FROM {stage} WHERE rowid NOT IN (SELECT max(rowid) FROM {stage} GROUP BY {})",
                keys.join(", ")
            ),
            &none,
        )?;
        let updated = if sets.is_empty() {
            0
        } else {
            self.exec(
                &format!(
                    "UPDATE {target} AS t SET {} FROM {stage} AS s WHERE {matches} AND ({changed})",
                    sets.join(", ")
                ),
                &none,
            )?
        };
        let inserted = self.exec(
            &format!(
                "INSERT INTO {target} ({0}) SELECT {1} FROM {stage} AS s WHERE NOT EXISTS (SELECT 1 FROM {target} AS t WHERE {matches})",
                cols.join(", "),
                cols.iter().map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ")
            ),
            &none,
        )?;
        self.run(&format!("DROP TABLE {stage}"))?;
        Ok(MergeCounts { inserted, updated })
    }

    fn execute(&mut self, sql: &str, params: &Params) -> Result<u64> {
        self.exec(sql, params)
    }

    fn query(&mut self, sql: &str, params: &Params, max_rows: usize) -> Result<Rows> {
        super::sql::query_rows(&self.conn, &self.db, sql, params, max_rows)
    }

    fn commit(self: Box<Self>) -> Result<()> {
        self.run("COMMIT")
    }
}
