//! A load into PostgreSQL: one transaction holding the load lock, the DDL, the rows (binary
//! COPY, streamed while the source is still being read), the swap or merge, the audit record's
//! success and COMMIT. Dropping the session without commit discards its connection, so the
//! server rolls everything back.
//!
//! - full: COPY into a new table `T__etl_new` (no index while loading), build the primary key
//!   from `key`, drop the old table and rename the new one: readers see old or new, never empty.
//! - append: create the table when missing, add new source columns, COPY into it (a backfill
//!   window's range deleted first).
//! - merge: COPY into a temporary stage, then one `INSERT ... ON CONFLICT (key) DO UPDATE`; rows
//!   whose values did not change are not rewritten and not counted as updated.

use std::sync::Arc;

use tokio_postgres::Client;

use super::bind::{refs, Bind, BindValue};
use super::copy_in::CopyIn;
use super::error::{message, sqlstate};
use super::pool::{block_on, PgConn};
use super::types::{quote_ident, type_name, PgType, TableName, Wire};
use super::{audit, Shared};
use crate::audit::AuditRecord;
use crate::connectors::{CursorWindow, Io, LoadSession, MergeCounts};
use crate::data::{Batch, Column, Schema};
use crate::error::{EtlError, Result};
use crate::load::{LoadMode, LoadPlan};

/// A column of the target table as the load sees it.
#[derive(Clone, Debug)]
struct TargetCol {
    name: String,
    pg: PgType,
    /// The declared type (`format_type`), to recreate it exactly.
    sql_type: String,
}

pub struct PgLoad {
    io: Io,
    shared: Arc<Shared>,
    conn: Option<PgConn>,
    /// The table as the script names it (messages, audit).
    table: String,
    target: TableName,
    mode: LoadMode,
    /// Full: the table being built; merge: the stage.
    write_into: String,
    staging: Option<TableName>,
    key: Vec<String>,
    cols: Vec<TargetCol>,
    columns: Schema,
    wires: Vec<Wire>,
    names: Vec<String>,
    copy: Option<CopyIn>,
}

/// The stage of a merge; temporary tables are private to the session and dropped at COMMIT.
const STAGE: &str = "\"etl_stage\"";

impl PgLoad {
    pub fn begin(shared: &Arc<Shared>, io: &Io, plan: &LoadPlan) -> Result<PgLoad> {
        let mut target =
            TableName::parse(&plan.table).map_err(|e| EtlError::load(&plan.table, e))?;
        let conn = block_on(io, shared.pool.get(&io.handle))?;
        let task = crate::context::current_task();
        let project = task
            .as_ref()
            .map(|t| t.run.project.clone())
            .unwrap_or_default();
        let mut load = PgLoad {
            io: io.clone(),
            shared: shared.clone(),
            conn: None,
            table: plan.table.clone(),
            target: target.clone(),
            mode: plan.mode,
            write_into: String::new(),
            staging: None,
            key: Vec::new(),
            cols: Vec::new(),
            columns: Schema::default(),
            wires: Vec::new(),
            names: Vec::new(),
            copy: None,
        };
        let prepared = block_on(io, async {
            let c: &Client = &conn;
            c.batch_execute("BEGIN")
                .await
                .map_err(|e| load.pg(&e, "starting the transaction"))?;
            let schema = match &target.schema {
                Some(s) => s.clone(),
                None => c
                    .query_one("SELECT current_schema()", &[])
                    .await
                    .map_err(|e| load.pg(&e, "finding the current schema"))?
                    .get::<_, Option<String>>(0)
                    .ok_or_else(|| EtlError::load(&plan.table, "the search_path names no schema to create the table in; write schema.table"))?,
            };
            target.schema = Some(schema.clone());
            load.lock(c, &project).await?;
            if let Some(task) = &task {
                load.fail_stale(&project, &task.run.id, task.run.started_at)
                    .await;
            }
            load.ensure_schema(&schema).await?;
            let existing = match describe(c, &target)
                .await
                .map_err(|e| load.pg(&e, "reading the table's columns"))?
            {
                Some((kind, _)) if kind != "r" && kind != "p" => {
                    let what = match kind.as_str() {
                        "v" => "a view",
                        "m" => "a materialized view",
                        "f" => "a foreign table",
                        _ => "not a table",
                    };
                    return Err(EtlError::load(
                        &plan.table,
                        format!("{} is {what}; a load writes into a table", plan.table),
                    ));
                }
                found => found.map(|(_, cols)| cols),
            };
            load.target = target.clone();
            let prepared = match plan.mode {
                LoadMode::Full => load.prepare_full(c, plan, existing).await?,
                LoadMode::Append | LoadMode::Merge => {
                    load.prepare_existing(c, plan, existing).await?
                }
            };
            let cols = prepared
                .iter()
                .map(|t| quote_ident(&t.name))
                .collect::<Vec<_>>()
                .join(", ");
            // The new table of a full load was created in this transaction, so its rows can
            // be written frozen: no hint-bit rewrite by the first readers, and a REPEATABLE
            // READ reader whose snapshot predates the swap sees the new rows rather than an
            // empty table.
            let freeze = if plan.mode == LoadMode::Full {
                ", FREEZE"
            } else {
                ""
            };
            let sql = format!(
                "COPY {} ({cols}) FROM STDIN (FORMAT binary{freeze})",
                load.write_into
            );
            let sink = c
                .copy_in(&sql)
                .await
                .map_err(|e| load.pg(&e, "starting COPY"))?;
            Ok((prepared, sink))
        });
        let (cols, sink) = prepared?;
        load.copy = Some(CopyIn::start(io, sink, &plan.table));
        load.wires = cols.iter().map(|c| c.pg.wire.clone()).collect();
        load.names = cols.iter().map(|c| c.name.clone()).collect();
        load.columns = Schema::new(
            cols.iter()
                .map(|c| Column::new(c.name.clone(), c.pg.data_type.clone()))
                .collect(),
        );
        load.cols = cols;
        load.conn = Some(conn);
        Ok(load)
    }

    /// A database error while loading, with what was being done.
    fn pg(&self, e: &tokio_postgres::Error, doing: &str) -> EtlError {
        EtlError::Database {
            connection: self.shared.name.clone(),
            message: format!("load into {}: {doing}: {}", self.table, message(e)),
            sqlstate: sqlstate(e),
        }
    }

    /// Refuses a second concurrent load of the same project into the same table. The lock is
    /// the transaction's: it goes away with COMMIT, ROLLBACK or a dead connection.
    async fn lock(&self, c: &Client, project: &str) -> Result<()> {
        let key = format!("etl load\u{1f}{project}\u{1f}{}", self.target_key());
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

    fn target_key(&self) -> String {
        format!(
            "{}.{}",
            self.target.schema.as_deref().unwrap_or(""),
            self.target.table
        )
    }

    /// Records of runs that died mid-load stay `running` forever; holding the lock proves they
    /// are not loading, so they are closed as failed (on another connection, so this survives a
    /// failure of this load). Best effort: the load does not depend on it.
    async fn fail_stale(
        &self,
        project: &str,
        run_id: &str,
        started: chrono::DateTime<chrono::Utc>,
    ) {
        let result = async {
            let c = self.shared.pool.get(&self.io.handle).await?;
            let exists: bool = c
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&audit::table(&self.shared.audit_schema)])
                .await
                .map_err(|e| self.pg(&e, "checking the audit table"))?
                .get(0);
            if exists {
                let n = audit::fail_stale(&c, &self.shared.audit_schema, project, &self.table, run_id, started)
                    .await
                    .map_err(|e| self.pg(&e, "closing stale audit records"))?;
                if n > 0 {
                    tracing::warn!(table = %self.table, records = n, "Marked {n} audit record(s) of runs that stopped without finishing as failed.");
                }
            }
            c.release();
            Ok::<_, EtlError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(
                "Could not close stale audit records for {}: {e}",
                self.table
            );
        }
    }

    /// Creates the schema when missing, committed on its own (under a lock: concurrent
    /// `CREATE SCHEMA IF NOT EXISTS` can still collide).
    async fn ensure_schema(&self, schema: &str) -> Result<()> {
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
    }

    /// Full: a new table with the source's columns. Columns the old table already has keep
    /// their declared type when the source fits it (jsonb stays jsonb, numeric(14,4) stays).
    async fn prepare_full(
        &mut self,
        c: &Client,
        plan: &LoadPlan,
        existing: Option<Vec<TargetCol>>,
    ) -> Result<Vec<TargetCol>> {
        let staging = self
            .target
            .sibling(short_name(&self.target.table, "__etl_new"));
        let old = existing.unwrap_or_default();
        let defs: Vec<String> = plan
            .schema
            .columns
            .iter()
            .map(|col| match find(&old, &col.name) {
                Some(o) if o.pg.supported() && col.data_type.widens_to(&o.pg.data_type) => {
                    format!("{} {}", quote_ident(&o.name), o.sql_type)
                }
                Some(o) => format!("{} {}", quote_ident(&o.name), type_name(&col.data_type)),
                None => format!("{} {}", quote_ident(&col.name), type_name(&col.data_type)),
            })
            .collect();
        let ddl = format!(
            "DROP TABLE IF EXISTS {s}; CREATE TABLE {s} ({})",
            defs.join(", "),
            s = staging.quoted()
        );
        c.batch_execute(&ddl)
            .await
            .map_err(|e| self.pg(&e, "creating the new table"))?;
        let cols = describe(c, &staging)
            .await
            .map_err(|e| self.pg(&e, "reading the new table"))?
            .map(|(_, cols)| cols)
            .unwrap_or_default();
        self.key = self.key_names(plan, &cols)?;
        self.write_into = staging.quoted();
        self.staging = Some(staging);
        Ok(cols)
    }

    /// Append and merge: the target is created when missing, otherwise evolved.
    async fn prepare_existing(
        &mut self,
        c: &Client,
        plan: &LoadPlan,
        existing: Option<Vec<TargetCol>>,
    ) -> Result<Vec<TargetCol>> {
        let target = self.target.quoted();
        let created = existing.is_none();
        match existing {
            None => {
                let mut defs: Vec<String> = plan
                    .schema
                    .columns
                    .iter()
                    .map(|col| format!("{} {}", quote_ident(&col.name), type_name(&col.data_type)))
                    .collect();
                if !plan.key.is_empty() {
                    defs.push(format!(
                        "PRIMARY KEY ({})",
                        plan.key
                            .iter()
                            .map(|k| quote_ident(k))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                c.batch_execute(&format!("CREATE TABLE {target} ({})", defs.join(", ")))
                    .await
                    .map_err(|e| self.pg(&e, "creating the table"))?;
                tracing::info!(table = %self.table, "Created table {}.", self.table);
            }
            Some(have) => self.evolve(c, plan, &have).await?,
        }
        let all = describe(c, &self.target)
            .await
            .map_err(|e| self.pg(&e, "reading the table's columns"))?
            .map(|(_, cols)| cols)
            .unwrap_or_default();
        let mut cols = Vec::with_capacity(plan.schema.len());
        for col in &plan.schema.columns {
            let t = find(&all, &col.name).cloned().ok_or_else(|| {
                EtlError::load(&self.table, format!("column '{}' vanished", col.name))
            })?;
            if !t.pg.supported() {
                return Err(EtlError::Load {
                    table: self.table.clone(),
                    row: None,
                    column: Some(t.name.clone()),
                    message: format!("the column's type {} cannot be written by etl; change it to a supported type", t.sql_type),
                });
            }
            cols.push(t);
        }
        self.key = self.key_names(plan, &cols)?;
        if plan.mode == LoadMode::Merge {
            if !created {
                self.ensure_unique_key(c).await?;
            }
            let list = cols
                .iter()
                .map(|t| quote_ident(&t.name))
                .collect::<Vec<_>>()
                .join(", ");
            c.batch_execute(&format!(
                "DROP TABLE IF EXISTS pg_temp.{STAGE}; \
                 CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS SELECT {list} FROM {target} WITH NO DATA"
            ))
            .await
            .map_err(|e| self.pg(&e, "creating the merge stage"))?;
            self.write_into = format!("pg_temp.{STAGE}");
        } else {
            if let Some(w) = &plan.replace_window {
                self.delete_window(c, w, &all).await?;
            }
            self.write_into = target;
        }
        Ok(cols)
    }

    /// Adds source columns the target lacks; refuses a source type the target column cannot
    /// hold unless the load opts in (values are then converted one by one, never lossily).
    async fn evolve(&self, c: &Client, plan: &LoadPlan, have: &[TargetCol]) -> Result<()> {
        for col in &plan.schema.columns {
            match find(have, &col.name) {
                Some(t) => {
                    if !col.data_type.widens_to(&t.pg.data_type) && !plan.allow_type_change {
                        return Err(EtlError::Load {
                            table: self.table.clone(),
                            row: None,
                            column: Some(t.name.clone()),
                            message: format!(
                                "the source type {} does not fit the target column type {}; change the target column, \
                                 cast in the source query, or load with `allow_type_change: true`",
                                col.data_type, t.sql_type
                            ),
                        });
                    }
                }
                None => {
                    c.batch_execute(&format!(
                        "ALTER TABLE {} ADD COLUMN {} {}",
                        self.target.quoted(),
                        quote_ident(&col.name),
                        type_name(&col.data_type)
                    ))
                    .await
                    .map_err(|e| self.pg(&e, &format!("adding column '{}'", col.name)))?;
                    tracing::info!(table = %self.table, column = %col.name, r#type = %col.data_type, "Added a new source column to the target.");
                }
            }
        }
        Ok(())
    }

    /// The key columns by their names in the table.
    fn key_names(&self, plan: &LoadPlan, cols: &[TargetCol]) -> Result<Vec<String>> {
        plan.key
            .iter()
            .map(|k| {
                find(cols, k).map(|t| t.name.clone()).ok_or_else(|| {
                    EtlError::load(
                        &self.table,
                        format!(
                            "key column '{k}' is not among the loaded columns ({})",
                            plan.schema.names().join(", ")
                        ),
                    )
                })
            })
            .collect()
    }

    /// ON CONFLICT needs a unique index on exactly the key columns; an existing table without
    /// one gets it (which fails, clearly, when the table holds duplicates).
    async fn ensure_unique_key(&self, c: &Client) -> Result<()> {
        let rows = c
            .query(
                "SELECT ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) \
                 FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid \
                 AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = i.indnatts",
                &[&self.target.quoted()],
            )
            .await
            .map_err(|e| self.pg(&e, "reading the table's unique indexes"))?;
        let mut want: Vec<&str> = self.key.iter().map(String::as_str).collect();
        want.sort_unstable();
        let found = rows.iter().any(|r| {
            let mut cols: Vec<String> = r.get(0);
            cols.sort_unstable();
            cols == want
        });
        if found {
            return Ok(());
        }
        let index = quote_ident(&short_name(&self.target.table, "__etl_key"));
        let keys = self
            .key
            .iter()
            .map(|k| quote_ident(k))
            .collect::<Vec<_>>()
            .join(", ");
        c.batch_execute(&format!("CREATE UNIQUE INDEX {index} ON {} ({keys})", self.target.quoted()))
            .await
            .map_err(|e| {
                EtlError::load(
                    &self.table,
                    format!(
                        "merging on ({}) needs a unique index on those columns; creating one failed: {} \
                         (remove the duplicates or choose another key)",
                        self.key.join(", "),
                        message(&e)
                    ),
                )
            })?;
        tracing::info!(table = %self.table, "Created a unique index on ({}) for merging.", self.key.join(", "));
        Ok(())
    }

    async fn delete_window(&self, c: &Client, w: &CursorWindow, cols: &[TargetCol]) -> Result<()> {
        let col = find(cols, &w.column)
            .map(|t| quote_ident(&t.name))
            .ok_or_else(|| {
                EtlError::load(
                    &self.table,
                    format!("cursor column '{}' is not in the table", w.column),
                )
            })?;
        let mut conds = Vec::new();
        let mut binds = Vec::new();
        for (name, value, op) in [("since", &w.since, ">="), ("until", &w.until, "<")] {
            if let Some(v) = value {
                binds.push(Bind {
                    name: name.into(),
                    value: BindValue::Value(v.clone()),
                });
                conds.push(format!("{col} {op} ${}", binds.len()));
            }
        }
        if conds.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "DELETE FROM {} WHERE {}",
            self.target.quoted(),
            conds.join(" AND ")
        );
        let n = c
            .execute(&sql, &refs(&binds))
            .await
            .map_err(|e| self.pg(&e, "deleting the window's rows"))?;
        tracing::info!(table = %self.table, rows = n, "Deleted {n} rows of the window before reloading it.");
        Ok(())
    }

    /// Full: key, then swap.
    async fn swap(&self, c: &Client) -> Result<()> {
        let staging = self
            .staging
            .as_ref()
            .expect("full load has a staging table");
        let schema = quote_ident(self.target.schema.as_deref().expect("schema resolved"));
        let temp_pk = short_name(&staging.table, "_pkey");
        if !self.key.is_empty() {
            let keys = self
                .key
                .iter()
                .map(|k| quote_ident(k))
                .collect::<Vec<_>>()
                .join(", ");
            c.batch_execute(&format!(
                "ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({keys})",
                staging.quoted(),
                quote_ident(&temp_pk)
            ))
            .await
            .map_err(|e| {
                EtlError::load(
                    &self.table,
                    format!(
                        "building the primary key ({}): {}",
                        self.key.join(", "),
                        message(&e)
                    ),
                )
            })?;
        }
        let sql = format!(
            "DROP TABLE IF EXISTS {target}; ALTER TABLE {staging} RENAME TO {name}",
            target = self.target.quoted(),
            staging = staging.quoted(),
            name = quote_ident(&self.target.table)
        );
        c.batch_execute(&sql).await.map_err(|e| {
            let hint = if e.code() == Some(&tokio_postgres::error::SqlState::DEPENDENT_OBJECTS_STILL_EXIST) {
                " (a full load replaces the table; objects depending on it, such as views, block that: \
                 load with mode \"append\" after deleting, or recreate the views after the load)"
            } else {
                ""
            };
            EtlError::Database {
                connection: self.shared.name.clone(),
                message: format!("load into {}: swapping in the new table: {}{hint}", self.table, message(&e)),
                sqlstate: sqlstate(&e),
            }
        })?;
        if !self.key.is_empty() {
            let final_pk = short_name(&self.target.table, "_pkey");
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

    /// Merge: the last row of each key in the stage wins; unchanged rows are left alone.
    async fn merge(&self, c: &Client) -> Result<MergeCounts> {
        let q = |n: &str| quote_ident(n);
        let keys: Vec<String> = self.key.iter().map(|k| q(k)).collect();
        let cols: Vec<String> = self.cols.iter().map(|t| q(&t.name)).collect();
        let others: Vec<&TargetCol> = self
            .cols
            .iter()
            .filter(|t| !self.key.contains(&t.name))
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
             SELECT DISTINCT ON ({keys}) {cols} FROM pg_temp.{STAGE} ORDER BY {keys}, ctid DESC \
             ON CONFLICT ({keys}) {action} RETURNING (xmax = 0) AS inserted) \
             SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM m",
            target = self.target.quoted(),
            cols = cols.join(", "),
            keys = keys.join(", "),
        );
        let row = c
            .query_one(&sql, &[])
            .await
            .map_err(|e| self.pg(&e, "merging the staged rows"))?;
        Ok(MergeCounts {
            inserted: row.get::<_, i64>(0) as u64,
            updated: row.get::<_, i64>(1) as u64,
            deleted: 0,
        })
    }

    /// The hook inside the load's transaction, after the data and before the audit record and
    /// COMMIT: data-quality checks (a later issue) run here and fail the load by returning an
    /// error, which rolls everything back.
    async fn before_commit(&self, _c: &Client) -> Result<()> {
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

/// Columns of a table (None when it does not exist); refuses views and other relations.
async fn describe(
    c: &Client,
    table: &TableName,
) -> std::result::Result<Option<(String, Vec<TargetCol>)>, tokio_postgres::Error> {
    let row = c
        .query_opt(
            "SELECT c.oid, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2",
            &[&table.schema.as_deref().unwrap_or("public"), &table.table],
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
        .prepare(&format!("SELECT * FROM {}", table.quoted()))
        .await?;
    let cols = stmt
        .columns()
        .iter()
        .zip(declared)
        .map(|(col, d)| TargetCol {
            name: d.get(0),
            pg: PgType::from_type(col.type_(), col.type_modifier()),
            sql_type: d.get(1),
        })
        .collect();
    Ok(Some((kind, cols)))
}

/// A column by name: exact first, then ignoring case (SQL folds unquoted names, CSV headers
/// do not).
fn find<'a>(cols: &'a [TargetCol], name: &str) -> Option<&'a TargetCol> {
    cols.iter()
        .find(|c| c.name == name)
        .or_else(|| cols.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
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

impl LoadSession for PgLoad {
    fn columns(&self) -> &Schema {
        &self.columns
    }

    fn write(&mut self, batch: &Batch) -> Result<()> {
        let copy = self.copy.as_mut().expect("COPY open until commit");
        copy.write(batch, &self.wires, &self.names)
    }

    fn commit(mut self: Box<Self>, io: &Io, audit: &AuditRecord) -> Result<MergeCounts> {
        let mut copy = self.copy.take().expect("COPY open until commit");
        let copied = copy.finish()?;
        drop(copy);
        let conn = self.conn.take().expect("connection held until commit");
        let this = &*self;
        let counts = block_on(io, async {
            let c: &Client = &conn;
            let counts = match this.mode {
                LoadMode::Full => {
                    this.swap(c).await?;
                    MergeCounts {
                        inserted: copied,
                        ..MergeCounts::default()
                    }
                }
                LoadMode::Append => MergeCounts {
                    inserted: copied,
                    ..MergeCounts::default()
                },
                LoadMode::Merge => this.merge(c).await?,
            };
            this.before_commit(c).await?;
            if let Some(id) = audit.id {
                audit::update(c, &this.shared.audit_schema, id, audit)
                    .await
                    .map_err(|e| this.pg(&e, "writing the audit record"))?;
            }
            c.batch_execute("COMMIT")
                .await
                .map_err(|e| this.pg(&e, "committing"))?;
            Ok(counts)
        })?;
        conn.release();
        Ok(counts)
    }
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
