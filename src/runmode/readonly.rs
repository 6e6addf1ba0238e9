//! Roles that cannot write: SQL that is not a read is skipped (and said so), queries run in a
//! read-only transaction, audit writes are skipped, and a load target refuses to begin.

use std::sync::Arc;

use super::mode::Planner;
use crate::audit::AuditRecord;
use crate::audit_checks::CheckRecord;
use crate::connectors::{
    Access, AuditStore, Io, LoadIdentity, LoadTarget, Params, Rows, ScratchNaming, SqlExec,
    TargetColumn, TargetTxn,
};
use crate::data::{DataType, Schema};
use crate::error::{EtlError, Result};

/// What happens to a write a mode does not run.
#[derive(Clone)]
pub(super) enum Skip {
    /// Logged: `Dry run: would ...`.
    Dry,
    /// Shown in the plan.
    Plan(Arc<dyn Planner>),
    /// Warned about: raw SQL names production tables, which a sample run never writes.
    Sample { scratch: String },
}

impl Skip {
    fn execute(&self, connection: &str, sql: &str) {
        let line = first_line(sql);
        match self {
            Skip::Dry => tracing::info!(connection, "Dry run: would execute {line}"),
            Skip::Plan(p) => p.statement(connection, format!("execute: {line}")),
            Skip::Sample { scratch } => {
                sample_warning(connection, scratch, &format!("execute({line})"))
            }
        }
    }

    fn script(&self, connection: &str, file: &str, sql: &str) {
        match self {
            Skip::Dry => tracing::info!(connection, "Dry run: would run {file}"),
            Skip::Plan(p) => {
                let statements = sql.split(';').filter(|s| !s.trim().is_empty()).count();
                p.statement(
                    connection,
                    format!("run_file: {file} ({statements} statements, not parsed further)"),
                )
            }
            Skip::Sample { scratch } => {
                sample_warning(connection, scratch, &format!("run_file(\"{file}\")"))
            }
        }
    }

    fn audit(&self, connection: &str, what: &str) {
        match self {
            Skip::Dry => tracing::info!(connection, "Dry run: would {what}."),
            Skip::Plan(p) => p.statement(connection, what.to_string()),
            Skip::Sample { scratch } => sample_warning(connection, scratch, what),
        }
    }
}

impl Skip {
    /// A write the database refused in a read-only query, with why the query was read-only.
    fn explain(&self, e: EtlError) -> EtlError {
        let mode = match self {
            Skip::Dry => "a dry run",
            Skip::Plan(_) => "etl plan",
            Skip::Sample { .. } => "a sample run",
        };
        match e {
            EtlError::Database {
                connection,
                message,
                sqlstate,
            } if refused_as_read_only(&message) => EtlError::Database {
                connection,
                message: format!(
                    "{message} ({mode} runs queries read-only; a query that writes belongs in \
                     execute() or run_file(), which {mode} does not run)"
                ),
                sqlstate,
            },
            other => other,
        }
    }
}

/// PostgreSQL: "cannot execute UPDATE in a read-only transaction"; MySQL: "Cannot execute
/// statement in a READ ONLY transaction"; SQLite: "attempt to write a readonly database".
fn refused_as_read_only(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("read-only") || m.contains("read only") || m.contains("readonly")
}

fn sample_warning(connection: &str, scratch: &str, what: &str) {
    tracing::warn!(
        connection,
        "Sample run: not running {what}: raw SQL names production tables, and a sample run \
         writes only to scratch ({scratch}). Run `etl watch` without --limit to develop SQL steps."
    );
}

fn first_line(sql: &str) -> &str {
    sql.trim().lines().next().unwrap_or_default()
}

/// Plain SQL that only reads.
pub(super) struct ReadOnlySql {
    pub inner: Arc<dyn SqlExec>,
    pub connection: String,
    pub skip: Skip,
}

impl SqlExec for ReadOnlySql {
    fn execute(&self, _io: &Io, sql: &str, _params: &Params) -> Result<u64> {
        self.skip.execute(&self.connection, sql);
        Ok(0)
    }

    fn run_script(&self, _io: &Io, file: &str, sql: &str, _params: &Params) -> Result<u64> {
        self.skip.script(&self.connection, file, sql);
        Ok(0)
    }

    /// Always read-only: the database refuses a write hidden in a query.
    fn query(
        &self,
        io: &Io,
        sql: &str,
        params: &Params,
        max_rows: usize,
        _access: Access,
    ) -> Result<Rows> {
        self.inner
            .query(io, sql, params, max_rows, Access::ReadOnly)
            .map_err(|e| self.skip.explain(e))
    }
}

/// An audit table that is read (when it exists) but never written or created.
pub(super) struct SkippedAudit {
    pub inner: Arc<dyn AuditStore>,
    pub connection: String,
    pub skip: Skip,
}

impl AuditStore for SkippedAudit {
    fn ensure(&self, _io: &Io) -> Result<()> {
        self.skip
            .audit(&self.connection, "create the audit table etl_runs");
        Ok(())
    }

    fn exists(&self, io: &Io) -> Result<bool> {
        self.inner.exists(io)
    }

    fn insert(&self, _io: &Io, _record: &AuditRecord) -> Result<i64> {
        self.skip
            .audit(&self.connection, "insert an etl_runs record");
        Ok(0)
    }

    fn update(&self, _io: &Io, id: i64, _record: &AuditRecord) -> Result<()> {
        self.skip
            .audit(&self.connection, &format!("update etl_runs record {id}"));
        Ok(())
    }

    fn amend(
        &self,
        _io: &Io,
        id: i64,
        change: &mut dyn FnMut(&mut AuditRecord) -> std::result::Result<(), String>,
    ) -> Result<()> {
        // The change is still checked (unknown columns, bad values), against a blank record.
        change(&mut AuditRecord::default()).map_err(|e| EtlError::db(&self.connection, e))?;
        self.update(_io, id, &AuditRecord::default())
    }

    fn quoted_table(&self) -> String {
        self.inner.quoted_table()
    }

    fn files_table(&self) -> Option<String> {
        self.inner.files_table()
    }

    fn files_create_statements(&self) -> Vec<String> {
        self.inner.files_create_statements()
    }

    fn loaded_files(
        &self,
        io: &Io,
        project: &str,
        table: &str,
    ) -> Result<Option<Vec<crate::audit_files::FileStamp>>> {
        self.inner.loaded_files(io, project, table)
    }

    fn watermark(&self, io: &Io, project: &str, table: &str) -> Result<Option<String>> {
        if !self.inner.exists(io)? {
            return Ok(None);
        }
        self.inner.watermark(io, project, table)
    }

    fn history(&self, io: &Io, project: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>> {
        if !self.inner.exists(io)? {
            return Ok(Vec::new());
        }
        self.inner.history(io, project, limit)
    }

    fn get(&self, io: &Io, id: i64) -> Result<Option<AuditRecord>> {
        if !self.inner.exists(io)? {
            return Ok(None);
        }
        self.inner.get(io, id)
    }

    fn record_checks(&self, _io: &Io, records: &[CheckRecord]) -> Result<()> {
        self.skip.audit(
            &self.connection,
            &format!("record {} check result(s) in etl_checks", records.len()),
        );
        Ok(())
    }

    fn check_history(
        &self,
        io: &Io,
        project: Option<&str>,
        limit: usize,
    ) -> Result<Vec<CheckRecord>> {
        if !self.inner.exists(io)? {
            return Ok(Vec::new());
        }
        self.inner.check_history(io, project, limit)
    }

    fn relocated(&self, scratch: &str) -> Arc<dyn AuditStore> {
        Arc::new(SkippedAudit {
            inner: self.inner.relocated(scratch),
            connection: self.connection.clone(),
            skip: self.skip.clone(),
        })
    }
}

/// A load target whose tables can be inspected but never written.
pub(super) struct RefusedTarget {
    pub inner: Arc<dyn LoadTarget>,
    pub connection: String,
    /// Why ("etl plan writes nothing").
    pub why: &'static str,
}

impl LoadTarget for RefusedTarget {
    fn begin(&self, _io: &Io, load: &LoadIdentity) -> Result<Box<dyn TargetTxn>> {
        Err(EtlError::db(
            &self.connection,
            format!("load into {}: refused, {}", load.table, self.why),
        ))
    }

    fn inspect(&self, io: &Io, table: &str) -> Result<Option<Vec<TargetColumn>>> {
        self.inner.inspect(io, table)
    }

    fn create_table_sql(&self, table: &str, columns: &Schema, key: &[String]) -> String {
        self.inner.create_table_sql(table, columns, key)
    }

    fn add_column_sql(&self, table: &str, column: &str, data_type: &DataType) -> String {
        self.inner.add_column_sql(table, column, data_type)
    }

    fn scratch_naming(&self) -> ScratchNaming {
        self.inner.scratch_naming()
    }

    fn quote_table(&self, table: &str) -> String {
        self.inner.quote_table(table)
    }

    fn as_number(&self, expr: &str) -> String {
        self.inner.as_number(expr)
    }

    fn quote_id(&self, table: &crate::connectors::TableId) -> String {
        self.inner.quote_id(table)
    }

    fn row_hash(&self, columns: &[String]) -> String {
        self.inner.row_hash(columns)
    }

    fn identity_type(&self) -> &'static str {
        self.inner.identity_type()
    }

    fn stable_text_sql(&self) -> &'static [&'static str] {
        self.inner.stable_text_sql()
    }
}
