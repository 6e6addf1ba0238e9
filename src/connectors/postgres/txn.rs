//! One load's transaction on PostgreSQL: the load lock, the DDL, the rows (binary COPY,
//! streamed while the source is still being read), the swap or merge, whatever `load/` runs
//! before COMMIT. Dropping it without commit discards its connection, so the server rolls
//! everything back.

use std::collections::HashSet;
use std::sync::Arc;

use tokio_postgres::Client;

use super::bind::{self, refs};
use super::copy_in::{CopyEncoder, CopyIn};
use super::pool::PgConn;
use super::sql::query_rows;
use super::streams::Stream;
use super::swap::short_name;
use super::target::{describe, pg_load_error, quoted, resolve_schema, PgColumn};
use super::types::{quote_ident, type_name, TableName, Wire};
use super::Shared;
use crate::connectors::{
    ColumnDef, CursorWindow, EncodedTarget, Encoding, Io, LoadIdentity, MergeCounts, Params, Rows,
    TableId, TargetColumn, TargetTxn,
};
use crate::data::{Batch, Column, Schema};
use crate::error::{EtlError, Result};

pub struct PgTxn {
    pub(super) io: Io,
    pub(super) shared: Arc<Shared>,
    conn: Option<PgConn>,
    /// The table as the script names it (messages).
    pub(super) table: String,
    /// Tables this transaction created to replace others: COPY writes them frozen.
    pub(super) replacements: HashSet<TableId>,
    /// Replacements whose key was built before the load's checks (`swap` then skips it).
    pub(super) keyed: HashSet<TableId>,
    wires: Vec<Wire>,
    names: Vec<String>,
    copy: Option<CopyIn>,
    /// Connections a full load may write its rows over (`parallel`), this one included.
    streams: usize,
    /// The replacement, committed on its own so that other connections can write it: dropped
    /// unless this transaction commits the swap.
    side: Option<TableId>,
    /// The other connections' COPYs into the side table, and the next stream to write.
    extra: Vec<Stream>,
    next: usize,
}

impl PgTxn {
    /// BEGIN, then the load lock: one load of a table at a time.
    pub fn begin(shared: &Arc<Shared>, io: &Io, load: &LoadIdentity) -> Result<PgTxn> {
        let name = TableName::parse(&load.table).map_err(|e| EtlError::load(&load.table, e))?;
        let conn = io.block_on(shared.pool.get(&io.handle))?;
        let mut txn = PgTxn {
            io: io.clone(),
            shared: shared.clone(),
            conn: None,
            table: load.table.clone(),
            replacements: HashSet::new(),
            keyed: HashSet::new(),
            wires: Vec::new(),
            names: Vec::new(),
            copy: None,
            streams: 1,
            side: None,
            extra: Vec::new(),
            next: 0,
        };
        io.block_on(async {
            let c: &Client = &conn;
            c.batch_execute("BEGIN")
                .await
                .map_err(|e| txn.pg(&e, "starting the transaction"))?;
            let target = txn.resolved(c, &name).await?;
            txn.lock(c, &target).await?;
            txn.drop_leftover(c, &target).await
        })?;
        txn.conn = Some(conn);
        Ok(txn)
    }

    pub(super) fn client(&self) -> &Client {
        self.conn.as_ref().expect("connection held until commit")
    }

    /// A database error while loading, with what was being done.
    pub(super) fn pg(&self, e: &tokio_postgres::Error, doing: &str) -> EtlError {
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

    /// One load of a table at a time, whatever the project: a second one waits its turn
    /// (two loads of one table at once can deadlock: a swap's exclusive lock against a merge's
    /// row locks). The lock is the transaction's: it goes away with COMMIT, ROLLBACK or a
    /// dead connection. The wait is bounded, so a stuck holder fails this load clearly.
    async fn lock(&self, c: &Client, target: &TableId) -> Result<()> {
        let key = format!("etl load\u{1f}{target}");
        let got: bool = c
            .query_one(
                "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
                &[&key],
            )
            .await
            .map_err(|e| self.pg(&e, "taking the load lock"))?
            .get(0);
        if got {
            return Ok(());
        }
        let wait = self.shared.table_lock_timeout;
        tracing::warn!(
            table = %self.table,
            "Another load of {} is running; waiting for it to finish (at most {:.1}s, [load] table_lock_timeout_seconds).",
            self.table,
            wait.as_secs_f64()
        );
        c.batch_execute(&format!(
            "SET LOCAL lock_timeout = {}",
            wait.as_millis().max(1)
        ))
        .await
        .map_err(|e| self.pg(&e, "waiting for the load lock"))?;
        match c
            .execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                &[&key],
            )
            .await
        {
            Ok(_) => {}
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
                return Err(EtlError::load(
                    &self.table,
                    format!(
                        "another load of {} (this project or another) held the table for {:.1}s \
                         and is still running; nothing was changed: run again when it is done, or \
                         raise [load] table_lock_timeout_seconds in etl.toml",
                        self.table,
                        wait.as_secs_f64()
                    ),
                ))
            }
            Err(e) => return Err(self.pg(&e, "waiting for the load lock")),
        }
        c.batch_execute("SET LOCAL lock_timeout TO DEFAULT")
            .await
            .map_err(|e| self.pg(&e, "taking the load lock"))
    }

    /// Drops the new table a load over several streams committed and then died without
    /// swapping in (killed, the machine lost): under the load lock nobody else is writing it,
    /// and whatever this load's mode, it is not left behind for ever.
    async fn drop_leftover(&self, c: &Client, target: &TableId) -> Result<()> {
        let leftover = TableId {
            schema: target.schema.clone(),
            name: short_name(&target.name, "__etl_new"),
        };
        let name = quoted(&leftover);
        let found: bool = c
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
            .await
            .map_err(|e| self.pg(&e, "looking for a load's leftover table"))?
            .get(0);
        if found {
            // Committed on a connection of its own: inside this transaction its lock would
            // be held to the end, and a load over several streams creates its new table under
            // the same name on another connection.
            let wait = std::time::Duration::from_secs(2);
            let Ok(own) = tokio::time::timeout(wait, self.shared.pool.get(&self.io.handle)).await
            else {
                tracing::warn!(table = %self.table, "{name}, the new table of an earlier load that did not finish, is still there: no connection was free to drop it.");
                return Ok(());
            };
            let own = own?;
            own.batch_execute(&format!("DROP TABLE IF EXISTS {name}"))
                .await
                .map_err(|e| self.pg(&e, "dropping a load's leftover table"))?;
            own.release();
            tracing::warn!(table = %self.table, "Dropped {name}, the new table of an earlier load that did not finish.");
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

    pub(super) fn columns_of(&self, table: &TableId) -> Result<Vec<PgColumn>> {
        self.io.block_on(async {
            Ok(describe(self.client(), table)
                .await
                .map_err(|e| self.pg(&e, "reading the table's columns"))?
                .map(|(_, cols)| cols)
                .unwrap_or_default())
        })
    }
}

/// PostgreSQL cuts longer names to 63 bytes, so two columns could become one; refuse them.
fn check_names(table: &str, columns: &[ColumnDef]) -> Result<()> {
    match columns.iter().find(|c| c.name.len() > 63) {
        None => Ok(()),
        Some(c) => Err(EtlError::Load {
            table: table.to_string(),
            row: None,
            column: Some(c.name.clone()),
            message: format!(
                "the column name is {} bytes, longer than PostgreSQL's 63-byte limit for names: \
                 rename it in the source (AS in a query, columns: [...] for a CSV file, or a .map)",
                c.name.len()
            ),
        }),
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
        check_names(&self.table, columns)?;
        let new = TableId {
            schema: target.schema.clone(),
            name: short_name(&target.name, "__etl_new"),
        };
        // No key yet: it is built after the rows are in, which costs a third less.
        let defs: Vec<String> = columns.iter().map(column_sql).collect();
        let sql = format!(
            "DROP TABLE IF EXISTS {s}; CREATE TABLE {s} ({})",
            defs.join(", "),
            s = quoted(&new)
        );
        if self.streams > 1 {
            // Under the table's load lock, so the name is this load's (a table a crashed load
            // left behind is dropped first).
            self.on_own_connection(&sql, "creating the new table")?;
            self.side = Some(new.clone());
        } else {
            self.run(&sql, "creating the new table")?;
        }
        self.replacements.insert(new.clone());
        Ok(new)
    }

    fn create_work(&mut self, target: &TableId, columns: &[String], name: &str) -> Result<TableId> {
        let list: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        self.run(
            &format!(
                "DROP TABLE IF EXISTS pg_temp.{stage}; \
                 CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA",
                list.join(", "),
                quoted(target),
                stage = quote_ident(name)
            ),
            "creating the merge stage",
        )?;
        Ok(TableId {
            schema: Some("pg_temp".into()),
            name: name.into(),
        })
    }

    fn add_column(&mut self, table: &TableId, column: &ColumnDef) -> Result<()> {
        check_names(&self.table, std::slice::from_ref(column))?;
        self.run(
            &format!(
                "ALTER TABLE {} ADD COLUMN {}",
                quoted(table),
                column_sql(column)
            ),
            &format!("adding column '{}'", column.name),
        )
    }

    fn ensure_unique_key(&mut self, table: &TableId, key: &[String]) -> Result<()> {
        self.unique_key(table, key)
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
        let freeze = if self.replacements.contains(table) && self.side.is_none() {
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
        self.copy = Some(CopyIn::start(
            &self.io,
            sink,
            &self.table,
            &self.shared.name,
        ));
        if self.side.as_ref() == Some(table) {
            self.extra = self.open_streams(&sql, self.streams - 1)?;
            let streams = self.extra.len() + 1;
            tracing::debug!(table = %self.table, streams, "Writing the new table over {streams} connections at once.");
        }
        self.wires = cols.iter().map(|c| c.pg.wire.clone()).collect();
        self.names = cols.iter().map(|c| c.name.clone()).collect();
        Ok(Schema::new(
            cols.iter()
                .map(|c| Column::new(c.name.clone(), c.pg.data_type.clone()))
                .collect(),
        ))
    }

    fn write(&mut self, batch: &Batch) -> Result<()> {
        let (wires, names) = (&self.wires, &self.names);
        let copy = next_copy(&mut self.copy, &mut self.extra, &mut self.next);
        copy.write(batch, wires, names)
    }

    fn encoded_input(&self) -> Option<EncodedTarget> {
        self.copy.as_ref()?;
        Some(EncodedTarget {
            encoding: Encoding::PgCopyBinary,
            columns: self.wires.iter().map(Wire::signature).collect(),
            not_null: Vec::new(),
            cursor: None,
            encoder: Arc::new(CopyEncoder {
                wires: self.wires.clone(),
            }),
        })
    }

    fn write_encoded(&mut self, batch: &Batch) -> Result<()> {
        let copy = next_copy(&mut self.copy, &mut self.extra, &mut self.next);
        copy.write_encoded(batch)
    }

    fn encoded_integers(
        &self,
        batch: &Batch,
        columns: &[usize],
        each: &mut dyn FnMut(usize, Option<i64>),
    ) -> bool {
        let Some(encoded) = &batch.encoded else {
            return false;
        };
        // Binary integers are big-endian, as wide as their type; any other width is not an
        // integer column, and the rows are not read.
        let mut integers = true;
        let whole = super::copy_out::column_fields(&encoded.bytes, columns, &mut |k, field| {
            let v = match field {
                None => None,
                Some(f) => match f.len() {
                    2 => Some(i16::from_be_bytes([f[0], f[1]]) as i64),
                    4 => Some(i32::from_be_bytes(f.try_into().expect("4 bytes")) as i64),
                    8 => Some(i64::from_be_bytes(f.try_into().expect("8 bytes"))),
                    _ => {
                        integers = false;
                        return;
                    }
                },
            };
            each(k, v);
        });
        whole && integers
    }

    fn end_write(&mut self) -> Result<u64> {
        let mut copy = self.copy.take().expect("COPY open until end_write");
        let rows = copy.finish()?;
        let extra = std::mem::take(&mut self.extra);
        self.finish_streams(rows, extra)
    }

    fn parallel_streams(&mut self, streams: usize) -> usize {
        // One connection stays free for a source on the same database, which a load whose
        // rows arrive encoded opens only after its streams.
        let most = self.shared.pool.size().saturating_sub(1).max(1);
        if streams > most {
            tracing::info!(table = %self.table, "parallel: {streams} asked, writing over at most {most} connections (pool_size {} of {}, one left for reading).", most + 1, self.shared.name);
        }
        self.streams = streams.clamp(1, most);
        self.streams
    }

    fn append_stage(
        &mut self,
        stage: &TableId,
        target: &TableId,
        columns: &[String],
    ) -> Result<u64> {
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let sql = format!(
            "INSERT INTO {} ({c}) SELECT {c} FROM {}",
            quoted(target),
            quoted(stage),
            c = cols.join(", ")
        );
        self.io.block_on(async {
            self.client()
                .execute(sql.as_str(), &[])
                .await
                .map_err(|e| self.pg(&e, "appending the checked rows"))
        })
    }

    fn swap(&mut self, replacement: &TableId, target: &TableId, key: &[String]) -> Result<()> {
        self.io.block_on(self.swap_in(replacement, target, key))
    }

    fn key_replacement(&mut self, replacement: &TableId, key: &[String]) -> Result<bool> {
        let io = self.io.clone();
        io.block_on(self.key_early(replacement, key))
    }

    fn merge(
        &mut self,
        stage: &TableId,
        target: &TableId,
        columns: &[String],
        key: &[String],
    ) -> Result<MergeCounts> {
        self.upsert(stage, target, columns, key)
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
        // Swapped in: the side table is the target now.
        self.side = None;
        Ok(())
    }
}

impl Drop for PgTxn {
    fn drop(&mut self) {
        let Some(side) = self.side.take() else { return };
        // The transactions go first (their connections closed, the server rolls them back and
        // lets go of their locks), then the table they were writing.
        self.copy = None;
        self.extra.clear();
        self.conn = None;
        self.drop_side_table(&side);
    }
}

/// The COPY the next batch goes to: with several streams, the first from `next` on whose
/// queue has room (a stream the server is slow on is passed over), else `next`'s.
fn next_copy<'a>(
    copy: &'a mut Option<CopyIn>,
    extra: &'a mut [Stream],
    next: &mut usize,
) -> &'a mut CopyIn {
    let n = 1 + extra.len();
    let start = *next % n;
    let pick = (0..n)
        .map(|i| (start + i) % n)
        .find(|&i| match i {
            0 => copy.as_ref().is_some_and(CopyIn::has_room),
            i => extra[i - 1].copy.has_room(),
        })
        .unwrap_or(start);
    *next = pick + 1;
    match pick {
        0 => copy.as_mut().expect("COPY open until end_write"),
        i => &mut extra[i - 1].copy,
    }
}
