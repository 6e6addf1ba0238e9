//! One load's transaction on PostgreSQL: the load lock, the DDL, the rows (binary COPY,
//! streamed while the source is still being read), the swap or merge, whatever `load/` runs
//! before COMMIT. Dropping it without commit discards its connection, so the server rolls
//! everything back.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use super::bind::{self, refs};
use super::copy_in::CopyIn;
use super::error::{message, sqlstate};
use super::pool::PgConn;
use super::sql::query_rows;
use super::target::{describe, pg_load_error, quoted, resolve_schema, PgColumn};
use super::types::{quote_ident, type_name, TableName, Wire};
use super::Shared;
use crate::connectors::{
    ColumnDef, CursorWindow, Io, LoadIdentity, MergeCounts, Params, Rows, TableId, TargetColumn,
    TargetTxn,
};
use crate::data::{Batch, Column, Schema};
use crate::error::{EtlError, Result};

/// The stage of a merge; temporary tables are private to the session and dropped at COMMIT.
const STAGE: &str = "etl_stage";

pub struct PgTxn {
    io: Io,
    shared: Arc<Shared>,
    conn: Option<PgConn>,
    /// The table as the script names it (messages).
    table: String,
    /// Tables this transaction created to replace others: COPY writes them frozen.
    replacements: HashSet<TableId>,
    wires: Vec<Wire>,
    names: Vec<String>,
    copy: Option<CopyIn>,
}

impl PgTxn {
    /// BEGIN, then the load lock: one load of a project into a table at a time.
    pub fn begin(shared: &Arc<Shared>, io: &Io, load: &LoadIdentity) -> Result<PgTxn> {
        let name = TableName::parse(&load.table).map_err(|e| EtlError::load(&load.table, e))?;
        let conn = io.block_on(shared.pool.get(&io.handle))?;
        let txn = PgTxn {
            io: io.clone(),
            shared: shared.clone(),
            conn: None,
            table: load.table.clone(),
            replacements: HashSet::new(),
            wires: Vec::new(),
            names: Vec::new(),
            copy: None,
        };
        io.block_on(async {
            let c: &Client = &conn;
            c.batch_execute("BEGIN")
                .await
                .map_err(|e| txn.pg(&e, "starting the transaction"))?;
            let target = txn.resolved(c, &name).await?;
            txn.lock(c, &load.project, &target).await
        })?;
        Ok(PgTxn {
            conn: Some(conn),
            ..txn
        })
    }

    fn client(&self) -> &Client {
        self.conn.as_ref().expect("connection held until commit")
    }

    /// A database error while loading, with what was being done.
    fn pg(&self, e: &tokio_postgres::Error, doing: &str) -> EtlError {
        pg_load_error(&self.shared.name, &self.table, doing, e)
    }

    async fn resolved(&self, c: &Client, name: &TableName) -> Result<TableId> {
        resolve_schema(c, name)
            .await
            .map_err(|e| self.pg(&e, "finding the current schema"))?
            .ok_or_else(|| {
                EtlError::load(
                    &self.table,
                    "the search_path names no schema to create the table in; write schema.table",
                )
            })
    }

    /// Refuses a second concurrent load of the same project into the same table. The lock is
    /// the transaction's: it goes away with COMMIT, ROLLBACK or a dead connection.
    async fn lock(&self, c: &Client, project: &str, target: &TableId) -> Result<()> {
        let key = format!("etl load\u{1f}{project}\u{1f}{target}");
        let got: bool = c
            .query_one(
                "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
                &[&key],
            )
            .await
            .map_err(|e| self.pg(&e, "taking the load lock"))?
            .get(0);
        if !got {
            let who = if project.is_empty() {
                "another load".to_string()
            } else {
                format!("another run of project {project}")
            };
            return Err(EtlError::load(
                &self.table,
                format!(
                    "{who} is loading {} right now; wait for it to finish (nothing was changed)",
                    self.table
                ),
            ));
        }
        Ok(())
    }

    /// Creates the schema when missing, committed on its own (under a lock: concurrent
    /// `CREATE SCHEMA IF NOT EXISTS` can still collide).
    fn ensure_schema(&self, schema: &str) -> Result<()> {
        self.io.block_on(async {
            let c = self.shared.pool.get(&self.io.handle).await?;
            let exists: bool = c
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
                    &[&schema],
                )
                .await
                .map_err(|e| self.pg(&e, "checking the schema"))?
                .get(0);
            if !exists {
                let lock = format!("etl schema\u{1f}{schema}");
                let create = async {
                    c.batch_execute("BEGIN").await?;
                    c.execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                        &[&lock],
                    )
                    .await?;
                    c.batch_execute(&format!(
                        "CREATE SCHEMA IF NOT EXISTS {}",
                        quote_ident(schema)
                    ))
                    .await?;
                    c.batch_execute("COMMIT").await
                }
                .await;
                create.map_err(|e| self.pg(&e, &format!("creating schema {schema}")))?;
                tracing::info!(schema, "Created schema {schema}.");
            }
            c.release();
            Ok(())
        })
    }

    /// Runs DDL text in the transaction.
    fn run(&self, sql: &str, doing: &str) -> Result<()> {
        self.io.block_on(async {
            self.client()
                .batch_execute(sql)
                .await
                .map_err(|e| self.pg(&e, doing))
        })
    }

    fn columns_of(&self, table: &TableId) -> Result<Vec<PgColumn>> {
        self.io.block_on(async {
            Ok(describe(self.client(), table)
                .await
                .map_err(|e| self.pg(&e, "reading the table's columns"))?
                .map(|(_, cols)| cols)
                .unwrap_or_default())
        })
    }

    /// Full: the key, then the swap, each try waiting at most `swap_lock_timeout` for other
    /// sessions' locks: a swap queued behind a long reader would make every new reader wait
    /// behind it. Between tries the savepoint is rolled back, so readers go on.
    async fn swap_in(&self, replacement: &TableId, target: &TableId, key: &[String]) -> Result<()> {
        let c = self.client();
        let temp_pk = short_name(&replacement.name, "_pkey");
        if !key.is_empty() {
            let keys: Vec<String> = key.iter().map(|k| quote_ident(k)).collect();
            c.batch_execute(&format!(
                "ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})",
                quoted(replacement),
                quote_ident(&temp_pk),
                keys.join(", ")
            ))
            .await
            .map_err(|e| {
                EtlError::load(
                    &self.table,
                    format!(
                        "building the primary key ({}): {}",
                        key.join(", "),
                        message(&e)
                    ),
                )
            })?;
        }
        let swap = format!(
            "DROP TABLE IF EXISTS {target}; ALTER TABLE {replacement} RENAME TO {name}",
            target = quoted(target),
            replacement = quoted(replacement),
            name = quote_ident(&target.name)
        );
        let timeout = self.shared.swap_lock_timeout;
        let attempts = self.shared.swap_attempts;
        let mut attempt = 1;
        loop {
            c.batch_execute(&format!(
                "SAVEPOINT etl_swap; SET LOCAL lock_timeout = {}",
                timeout.as_millis().max(1)
            ))
            .await
            .map_err(|e| self.pg(&e, "preparing the swap"))?;
            match c.batch_execute(&swap).await {
                Ok(()) => break,
                Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) && attempt < attempts => {
                    c.batch_execute("ROLLBACK TO SAVEPOINT etl_swap")
                        .await
                        .map_err(|e| self.pg(&e, "retrying the swap"))?;
                    let pause = Duration::from_secs(1 << (attempt - 1).min(5));
                    tracing::warn!(
                        table = %self.table,
                        "Swapping in the new {} waited {:.1}s for other sessions' locks (attempt {attempt} of {attempts}); trying again in {}s.",
                        self.table, timeout.as_secs_f64(), pause.as_secs()
                    );
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                Err(e) => {
                    let hint = if e.code() == Some(&SqlState::DEPENDENT_OBJECTS_STILL_EXIST) {
                        " (a full load replaces the table; objects depending on it, such as views, block that: \
                         load with mode \"append\" after deleting, or recreate the views after the load)".to_string()
                    } else if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
                        format!(
                            " (other sessions held locks on the table through {attempts} tries of {:.1}s; \
                             the old table is unchanged: run again when they are done, or raise \
                             [load] swap_lock_timeout_seconds / swap_attempts in etl.toml)",
                            timeout.as_secs_f64()
                        )
                    } else {
                        String::new()
                    };
                    return Err(EtlError::Database {
                        connection: self.shared.name.clone(),
                        message: format!(
                            "load into {}: swapping in the new table: {}{hint}",
                            self.table,
                            message(&e)
                        ),
                        sqlstate: sqlstate(&e),
                    });
                }
            }
        }
        c.batch_execute("RELEASE SAVEPOINT etl_swap; SET LOCAL lock_timeout TO DEFAULT")
            .await
            .map_err(|e| self.pg(&e, "swapping in the new table"))?;
        if !key.is_empty() {
            let schema = quote_ident(target.schema.as_deref().unwrap_or("public"));
            let final_pk = short_name(&target.name, "_pkey");
            let free: bool = c
                .query_one(
                    "SELECT to_regclass($1) IS NULL",
                    &[&format!("{schema}.{}", quote_ident(&final_pk))],
                )
                .await
                .map_err(|e| self.pg(&e, "naming the primary key"))?
                .get(0);
            if free {
                c.batch_execute(&format!(
                    "ALTER INDEX {schema}.{} RENAME TO {}",
                    quote_ident(&temp_pk),
                    quote_ident(&final_pk)
                ))
                .await
                .map_err(|e| self.pg(&e, "naming the primary key"))?;
            }
        }
        Ok(())
    }
}

/// A column definition: the declared type kept from an old table, or the portable type's.
fn column_sql(d: &ColumnDef) -> String {
    let ty = d
        .declared
        .clone()
        .unwrap_or_else(|| type_name(&d.data_type));
    format!("{} {ty}", quote_ident(&d.name))
}

impl TargetTxn for PgTxn {
    /// The schema is created here when missing, before this transaction looks the table up:
    /// a lookup that found no schema would be remembered by the session's catalog cache, and
    /// the table could not be created in it afterwards.
    fn resolve(&mut self, table: &str) -> Result<(TableId, Option<Vec<TargetColumn>>)> {
        let name = TableName::parse(table).map_err(|e| EtlError::load(table, e))?;
        let id = self
            .io
            .block_on(async { self.resolved(self.client(), &name).await })?;
        if let Some(s) = &id.schema {
            self.ensure_schema(s)?;
        }
        self.io.block_on(async {
            let c = self.client();
            let found = describe(c, &id)
                .await
                .map_err(|e| self.pg(&e, "reading the table's columns"))?;
            match found {
                Some((kind, _)) if kind != "r" && kind != "p" => {
                    let what = match kind.as_str() {
                        "v" => "a view",
                        "m" => "a materialized view",
                        "f" => "a foreign table",
                        _ => "not a table",
                    };
                    Err(EtlError::load(
                        table,
                        format!("{table} is {what}; a load writes into a table"),
                    ))
                }
                found => Ok((
                    id,
                    found.map(|(_, cols)| cols.iter().map(PgColumn::target).collect()),
                )),
            }
        })
    }

    fn create_table(
        &mut self,
        table: &TableId,
        columns: &[ColumnDef],
        key: &[String],
    ) -> Result<()> {
        let mut defs: Vec<String> = columns.iter().map(column_sql).collect();
        if !key.is_empty() {
            let keys: Vec<String> = key.iter().map(|k| quote_ident(k)).collect();
            defs.push(format!("PRIMARY KEY ({})", keys.join(", ")));
        }
        self.run(
            &format!("CREATE TABLE {} ({})", quoted(table), defs.join(", ")),
            "creating the table",
        )
    }

    fn create_replacement(
        &mut self,
        target: &TableId,
        columns: &[ColumnDef],
        _key: &[String],
    ) -> Result<TableId> {
        let new = TableId {
            schema: target.schema.clone(),
            name: short_name(&target.name, "__etl_new"),
        };
        // No key yet: it is built after the rows are in, which costs a third less.
        let defs: Vec<String> = columns.iter().map(column_sql).collect();
        self.run(
            &format!(
                "DROP TABLE IF EXISTS {s}; CREATE TABLE {s} ({})",
                defs.join(", "),
                s = quoted(&new)
            ),
            "creating the new table",
        )?;
        self.replacements.insert(new.clone());
        Ok(new)
    }

    fn create_stage(&mut self, target: &TableId, columns: &[String]) -> Result<TableId> {
        let list: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        self.run(
            &format!(
                "DROP TABLE IF EXISTS pg_temp.{stage}; \
                 CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA",
                list.join(", "),
                quoted(target),
                stage = quote_ident(STAGE)
            ),
            "creating the merge stage",
        )?;
        Ok(TableId {
            schema: Some("pg_temp".into()),
            name: STAGE.into(),
        })
    }

    fn add_column(&mut self, table: &TableId, column: &ColumnDef) -> Result<()> {
        self.run(
            &format!(
                "ALTER TABLE {} ADD COLUMN {}",
                quoted(table),
                column_sql(column)
            ),
            &format!("adding column '{}'", column.name),
        )
    }

    /// ON CONFLICT needs a unique index on exactly the key columns; an existing table without
    /// one gets it (which fails, clearly, when the table holds duplicates).
    fn ensure_unique_key(&mut self, table: &TableId, key: &[String]) -> Result<()> {
        self.io.block_on(async {
            let c = self.client();
            let rows = c
                .query(
                    "SELECT ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) \
                     FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid \
                     AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = i.indnatts",
                    &[&quoted(table)],
                )
                .await
                .map_err(|e| self.pg(&e, "reading the table's unique indexes"))?;
            let mut want: Vec<&str> = key.iter().map(String::as_str).collect();
            want.sort_unstable();
            let found = rows.iter().any(|r| {
                let mut cols: Vec<String> = r.get(0);
                cols.sort_unstable();
                cols == want
            });
            if found {
                return Ok(());
            }
            let index = quote_ident(&short_name(&table.name, "__etl_key"));
            let keys: Vec<String> = key.iter().map(|k| quote_ident(k)).collect();
            c.batch_execute(&format!(
                "CREATE UNIQUE INDEX {index} ON {} ({})",
                quoted(table),
                keys.join(", ")
            ))
            .await
            .map_err(|e| {
                EtlError::load(
                    &self.table,
                    format!(
                        "merging on ({}) needs a unique index on those columns; creating one failed: {} \
                         (remove the duplicates or choose another key)",
                        key.join(", "),
                        message(&e)
                    ),
                )
            })?;
            tracing::info!(table = %self.table, "Created a unique index on ({}) for merging.", key.join(", "));
            Ok(())
        })
    }

    fn delete_window(&mut self, table: &TableId, window: &CursorWindow) -> Result<u64> {
        let Some(p) = window.predicate(&quote_ident(&window.column)) else {
            return Ok(0);
        };
        let sql = format!("DELETE FROM {} WHERE {}", quoted(table), p.sql);
        self.execute(&sql, &p.params)
            .map_err(|e| EtlError::load(&self.table, format!("deleting the window's rows: {e}")))
    }

    fn begin_write(&mut self, table: &TableId, columns: &[String]) -> Result<Schema> {
        let have = self.columns_of(table)?;
        let mut cols = Vec::with_capacity(columns.len());
        for name in columns {
            let col = have
                .iter()
                .find(|c| c.name == *name)
                .ok_or_else(|| EtlError::load(&self.table, format!("column '{name}' vanished")))?;
            if !col.pg.supported() {
                return Err(EtlError::Load {
                    table: self.table.clone(),
                    row: None,
                    column: Some(col.name.clone()),
                    message: format!("the column's type {} cannot be written by etl; change it to a supported type", col.declared),
                });
            }
            cols.push(col.clone());
        }
        // A table created in this transaction can be written frozen: no hint-bit rewrite by the
        // first readers, and a REPEATABLE READ reader whose snapshot predates the swap sees the
        // new rows rather than an empty table.
        let freeze = if self.replacements.contains(table) {
            ", FREEZE"
        } else {
            ""
        };
        let list: Vec<String> = cols.iter().map(|c| quote_ident(&c.name)).collect();
        let sql = format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary{freeze})",
            quoted(table),
            list.join(", ")
        );
        let sink = self.io.block_on(async {
            self.client()
                .copy_in(&sql)
                .await
                .map_err(|e| self.pg(&e, "starting COPY"))
        })?;
        self.copy = Some(CopyIn::start(&self.io, sink, &self.table));
        self.wires = cols.iter().map(|c| c.pg.wire.clone()).collect();
        self.names = cols.iter().map(|c| c.name.clone()).collect();
        Ok(Schema::new(
            cols.iter()
                .map(|c| Column::new(c.name.clone(), c.pg.data_type.clone()))
                .collect(),
        ))
    }

    fn write(&mut self, batch: &Batch) -> Result<()> {
        let copy = self.copy.as_mut().expect("COPY open until end_write");
        copy.write(batch, &self.wires, &self.names)
    }

    fn end_write(&mut self) -> Result<u64> {
        let mut copy = self.copy.take().expect("COPY open until end_write");
        copy.finish()
    }

    fn swap(&mut self, replacement: &TableId, target: &TableId, key: &[String]) -> Result<()> {
        self.io.block_on(self.swap_in(replacement, target, key))
    }

    /// The last row of each key in the stage wins; unchanged rows are left alone.
    fn merge(
        &mut self,
        stage: &TableId,
        target: &TableId,
        columns: &[String],
        key: &[String],
    ) -> Result<MergeCounts> {
        let target_cols = self.columns_of(target)?;
        let q = |n: &str| quote_ident(n);
        let keys: Vec<String> = key.iter().map(|k| q(k)).collect();
        let cols: Vec<String> = columns.iter().map(|c| q(c)).collect();
        let others: Vec<&PgColumn> = columns
            .iter()
            .filter(|c| !key.contains(c))
            .filter_map(|c| target_cols.iter().find(|t| t.name == *c))
            .collect();
        let action = if others.is_empty() {
            "DO NOTHING".to_string()
        } else {
            let sets: Vec<String> = others
                .iter()
                .map(|t| format!("{0} = EXCLUDED.{0}", q(&t.name)))
                .collect();
            let changed: Vec<String> = others
                .iter()
                .map(|t| {
                    // json and json[] have no equality operator: compare their text.
                    let cast = if has_json(&t.pg.wire) { "::text" } else { "" };
                    format!(
                        "t.{0}{cast} IS DISTINCT FROM EXCLUDED.{0}{cast}",
                        q(&t.name)
                    )
                })
                .collect();
            format!(
                "DO UPDATE SET {} WHERE {}",
                sets.join(", "),
                changed.join(" OR ")
            )
        };
        let sql = format!(
            "WITH m AS (INSERT INTO {target} AS t ({cols}) \
             SELECT DISTINCT ON ({keys}) {cols} FROM {stage} ORDER BY {keys}, ctid DESC \
             ON CONFLICT ({keys}) {action} RETURNING (xmax = 0) AS inserted) \
             SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM m",
            target = quoted(target),
            stage = quoted(stage),
            cols = cols.join(", "),
            keys = keys.join(", "),
        );
        self.io.block_on(async {
            let row = self
                .client()
                .query_one(&sql, &[])
                .await
                .map_err(|e| self.pg(&e, "merging the staged rows"))?;
            Ok(MergeCounts {
                inserted: row.get::<_, i64>(0) as u64,
                updated: row.get::<_, i64>(1) as u64,
            })
        })
    }

    fn execute(&mut self, sql: &str, params: &Params) -> Result<u64> {
        let (text, binds) =
            bind::prepare(sql, params).map_err(|e| EtlError::load(&self.table, e))?;
        self.io.block_on(async {
            self.client()
                .execute_raw(text.as_str(), refs(&binds))
                .await
                .map_err(|e| self.pg(&e, "running a statement of the load"))
        })
    }

    fn query(&mut self, sql: &str, params: &Params, max_rows: usize) -> Result<Rows> {
        self.io.block_on(query_rows(
            self.client(),
            &self.shared.name,
            sql,
            params,
            max_rows,
        ))
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        let conn = self.conn.take().expect("connection held until commit");
        self.io.block_on(async {
            conn.batch_execute("COMMIT")
                .await
                .map_err(|e| self.pg(&e, "committing"))
        })?;
        conn.release();
        Ok(())
    }
}

fn has_json(w: &Wire) -> bool {
    match w {
        Wire::Json => true,
        Wire::Array { elem, .. } => has_json(elem),
        _ => false,
    }
}

/// `base + suffix` within PostgreSQL's 63-byte names; longer ones become a stable hash, so a
/// derived name can never be silently truncated into another table's name.
fn short_name(base: &str, suffix: &str) -> String {
    if base.len() + suffix.len() <= 63 {
        return format!("{base}{suffix}");
    }
    let mut h: u64 = 0xcbf29ce484222325;
    for b in base.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    format!("etl_{h:016x}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names_stay_within_63_bytes() {
        assert_eq!(short_name("orders", "__etl_new"), "orders__etl_new");
        let long = "x".repeat(60);
        let a = short_name(&long, "__etl_new");
        assert!(
            a.len() <= 63 && a.starts_with("etl_") && a.ends_with("__etl_new"),
            "{a}"
        );
        assert_eq!(a, short_name(&long, "__etl_new"));
        assert_ne!(a, short_name(&"y".repeat(60), "__etl_new"));
    }
}
