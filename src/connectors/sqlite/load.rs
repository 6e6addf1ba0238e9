//! A load into SQLite: one IMMEDIATE transaction holding the new rows, the swap or merge, and
//! the audit record; dropping the session rolls it all back.

use rusqlite::Connection;

use super::{table_ident, types, SqliteDb};
use crate::audit::AuditRecord;
use crate::connectors::{Io, LoadSession, MergeCounts};
use crate::data::{Batch, Column, Schema};
use crate::error::{EtlError, Result};
use crate::load::{LoadMode, LoadPlan};

pub struct SqliteLoad {
    conn: Connection,
    name: String,
    table: String,
    /// Where rows are written: the target (append), a new table (full) or a stage (merge).
    write_into: String,
    mode: LoadMode,
    key: Vec<String>,
    columns: Schema,
    insert_sql: String,
    written: u64,
}

impl SqliteLoad {
    pub fn begin(db: &SqliteDb, plan: &LoadPlan) -> Result<SqliteLoad> {
        let conn = db.connect()?;
        let lerr = |e: rusqlite::Error| {
            EtlError::load(&plan.table, format!("connection '{}': {e}", db.name))
        };
        conn.execute_batch("BEGIN IMMEDIATE").map_err(lerr)?;
        let target = table_ident(&plan.table);
        let existing = existing_columns(&conn, &plan.table).map_err(lerr)?;
        let (write_into, columns) = match plan.mode {
            LoadMode::Full => {
                let new = table_ident(&format!("{}__etl_new", plan.table));
                conn.execute_batch(&format!("DROP TABLE IF EXISTS {new}"))
                    .map_err(lerr)?;
                conn.execute_batch(&create_sql(&new, &plan.schema, &plan.key))
                    .map_err(lerr)?;
                (new, plan.schema.clone())
            }
            LoadMode::Append | LoadMode::Merge => {
                let columns = match existing {
                    None => {
                        conn.execute_batch(&create_sql(&target, &plan.schema, &plan.key))
                            .map_err(lerr)?;
                        plan.schema.clone()
                    }
                    Some(have) => evolve(&conn, &target, &plan.table, have, plan)?,
                };
                if plan.mode == LoadMode::Merge {
                    let index = types::quote_ident(&format!("{}__etl_key", plan.table));
                    let keys = plan
                        .key
                        .iter()
                        .map(|k| types::quote_ident(k))
                        .collect::<Vec<_>>()
                        .join(", ");
                    conn.execute_batch(&format!(
                        "CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {target} ({keys})"
                    ))
                    .map_err(|e| {
                        EtlError::load(
                            &plan.table,
                            format!(
                                "the key ({}) is not unique in the existing table: {e}",
                                plan.key.join(", ")
                            ),
                        )
                    })?;
                    conn.execute_batch("DROP TABLE IF EXISTS temp.etl_stage")
                        .map_err(lerr)?;
                    let stage_cols = Schema::new(
                        plan.schema
                            .columns
                            .iter()
                            .filter_map(|c| {
                                columns
                                    .index_of(&c.name)
                                    .map(|i| columns.columns[i].clone())
                            })
                            .collect(),
                    );
                    conn.execute_batch(&create_sql("temp.etl_stage", &stage_cols, &[]))
                        .map_err(lerr)?;
                    ("temp.etl_stage".to_string(), columns)
                } else {
                    if let Some(w) = &plan.replace_window {
                        delete_window(&conn, &target, w).map_err(lerr)?;
                    }
                    (target.clone(), columns)
                }
            }
        };
        // Rows carry the plan's columns in order; the session's schema gives their target types.
        let typed = Schema::new(
            plan.schema
                .columns
                .iter()
                .map(|c| {
                    columns
                        .index_of(&c.name)
                        .map(|i| columns.columns[i].clone())
                        .unwrap_or_else(|| c.clone())
                })
                .collect(),
        );
        let names = plan
            .schema
            .columns
            .iter()
            .map(|c| types::quote_ident(&c.name))
            .collect::<Vec<_>>()
            .join(", ");
        let marks = vec!["?"; plan.schema.len()].join(", ");
        let insert_sql = format!("INSERT INTO {write_into} ({names}) VALUES ({marks})");
        Ok(SqliteLoad {
            conn,
            name: db.name.clone(),
            table: plan.table.clone(),
            write_into,
            mode: plan.mode,
            key: plan.key.clone(),
            columns: typed,
            insert_sql,
            written: 0,
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> EtlError {
        EtlError::load(&self.table, format!("connection '{}': {e}", self.name))
    }
}

impl LoadSession for SqliteLoad {
    fn columns(&self) -> &Schema {
        &self.columns
    }

    fn write(&mut self, batch: &Batch) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(&self.insert_sql)
            .map_err(|e| self.err(e))?;
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

    fn commit(self: Box<Self>, _io: &Io, audit: &AuditRecord) -> Result<MergeCounts> {
        let target = table_ident(&self.table);
        let mut counts = MergeCounts::default();
        match self.mode {
            LoadMode::Full => {
                self.conn
                    .execute_batch(&format!(
                        "DROP TABLE IF EXISTS {target}; ALTER TABLE {} RENAME TO {target};",
                        self.write_into
                    ))
                    .map_err(|e| self.err(e))?;
                counts.inserted = self.written;
            }
            LoadMode::Append => counts.inserted = self.written,
            LoadMode::Merge => counts = self.merge(&target)?,
        }
        if let Some(id) = audit.id {
            super::audit::ensure(&self.conn).map_err(|e| self.err(e))?;
            super::audit::update(&self.conn, id, audit).map_err(|e| self.err(e))?;
        }
        self.conn.execute_batch("COMMIT").map_err(|e| self.err(e))?;
        Ok(counts)
    }
}

impl SqliteLoad {
    /// Upsert from the stage: the last row wins for a key repeated within one load.
    fn merge(&self, target: &str) -> Result<MergeCounts> {
        let q = |c: &str| types::quote_ident(c);
        let keys: Vec<String> = self.key.iter().map(|k| q(k)).collect();
        let cols: Vec<String> = self.columns.columns.iter().map(|c| q(&c.name)).collect();
        let matches = keys
            .iter()
            .map(|k| format!("t.{k} = s.{k}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let sets: Vec<String> = self
            .columns
            .columns
            .iter()
            .filter(|c| !self.key.iter().any(|k| k.eq_ignore_ascii_case(&c.name)))
            .map(|c| format!("{0} = s.{0}", q(&c.name)))
            .collect();
        // Only rows whose values differ count as updated: a boundary row read again at the
        // watermark merges without being reported (or rewritten) as a change.
        let changed = self
            .columns
            .columns
            .iter()
            .filter(|c| !self.key.iter().any(|k| k.eq_ignore_ascii_case(&c.name)))
            .map(|c| format!("t.{0} IS NOT s.{0}", q(&c.name)))
            .collect::<Vec<_>>()
            .join(" OR ");
        let exec = |sql: String| self.conn.execute(&sql, []).map_err(|e| self.err(e));
        exec(format!(
            "DELETE FROM temp.etl_stage WHERE rowid NOT IN (SELECT max(rowid) FROM temp.etl_stage GROUP BY {})",
            keys.join(", ")
        ))?;
        let updated = if sets.is_empty() {
            0
        } else {
            exec(format!(
                "UPDATE {target} AS t SET {} FROM temp.etl_stage AS s WHERE {matches} AND ({changed})",
                sets.join(", ")
            ))?
        };
        let inserted = exec(format!(
            "INSERT INTO {target} ({0}) SELECT {1} FROM temp.etl_stage AS s WHERE NOT EXISTS (SELECT 1 FROM {target} AS t WHERE {matches})",
            cols.join(", "),
            cols.iter().map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ")
        ))?;
        exec("DROP TABLE temp.etl_stage".to_string())?;
        Ok(MergeCounts {
            inserted: inserted as u64,
            updated: updated as u64,
            deleted: 0,
        })
    }
}

fn create_sql(table: &str, schema: &Schema, key: &[String]) -> String {
    let mut cols: Vec<String> = schema
        .columns
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                types::quote_ident(&c.name),
                types::type_name(&c.data_type)
            )
        })
        .collect();
    if !key.is_empty() {
        cols.push(format!(
            "PRIMARY KEY ({})",
            key.iter()
                .map(|k| types::quote_ident(k))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    format!("CREATE TABLE {table} ({})", cols.join(", "))
}

fn existing_columns(conn: &Connection, table: &str) -> rusqlite::Result<Option<Schema>> {
    let (schema, name) = match table.split_once('.') {
        Some((s @ ("main" | "temp"), t)) => (s, t),
        _ => ("main", table),
    };
    let mut stmt = conn.prepare("SELECT name, type FROM pragma_table_info(?1, ?2)")?;
    let cols: Vec<Column> = stmt
        .query_map([name, schema], |r| {
            let n: String = r.get(0)?;
            let t: String = r.get(1)?;
            Ok(Column::new(
                n,
                types::from_decl(&t).unwrap_or(crate::data::DataType::TEXT),
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok((!cols.is_empty()).then(|| Schema::new(cols)))
}

/// Adds source columns the target lacks; refuses a source type the target column cannot hold.
fn evolve(
    conn: &Connection,
    target: &str,
    table: &str,
    mut have: Schema,
    plan: &LoadPlan,
) -> Result<Schema> {
    for col in &plan.schema.columns {
        match have.index_of(&col.name) {
            Some(i) => {
                let t = &have.columns[i].data_type;
                if !col.data_type.widens_to(t) && !plan.allow_type_change {
                    return Err(EtlError::Load {
                        table: table.to_string(),
                        row: None,
                        column: Some(col.name.clone()),
                        message: format!(
                            "the source type {} does not fit the target column type {t}; change the target \
                             column, cast in the source query, or load with `allow_type_change: true`",
                            col.data_type
                        ),
                    });
                }
            }
            None => {
                conn.execute_batch(&format!(
                    "ALTER TABLE {target} ADD COLUMN {} {}",
                    types::quote_ident(&col.name),
                    types::type_name(&col.data_type)
                ))
                .map_err(|e| EtlError::load(table, format!("adding column '{}': {e}", col.name)))?;
                tracing::info!(table, column = %col.name, r#type = %col.data_type, "Added a new source column to the target.");
                have.columns.push(col.clone());
            }
        }
    }
    Ok(have)
}

fn delete_window(
    conn: &Connection,
    target: &str,
    w: &crate::connectors::CursorWindow,
) -> rusqlite::Result<usize> {
    let col = types::quote_ident(&w.column);
    let mut conds = Vec::new();
    let mut vals = Vec::new();
    if let Some(s) = &w.since {
        conds.push(format!("{col} >= ?"));
        vals.push(types::write(s));
    }
    if let Some(u) = &w.until {
        conds.push(format!("{col} < ?"));
        vals.push(types::write(u));
    }
    if conds.is_empty() {
        return Ok(0);
    }
    conn.execute(
        &format!("DELETE FROM {target} WHERE {}", conds.join(" AND ")),
        rusqlite::params_from_iter(vals),
    )
}
