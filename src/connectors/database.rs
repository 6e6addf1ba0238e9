use std::sync::Arc;

use super::{Io, Source};
use crate::audit::AuditRecord;
use crate::data::{Batch, Schema, Value};
use crate::error::Result;
use crate::load::LoadPlan;

/// Named parameters (`:name` in SQL), always bound, never formatted into the text.
pub type Params = Vec<(String, Value)>;

/// Rows of a small result (`query`, `scalar`), with their schema.
pub struct Rows {
    pub schema: Schema,
    pub rows: Vec<Vec<Value>>,
}

/// A database behind a named connection: a source of relations, a place to run SQL, a load
/// target and the home of the audit table. One implementation per connector.
pub trait Database: Send + Sync {
    /// The connection's name in `etl.toml` (for messages and the audit table).
    fn name(&self) -> &str;

    /// Kind and location without secrets ("sqlite /srv/dw.db", "postgres etl@db/dw").
    fn describe(&self) -> String;

    fn table(&self, table: &str) -> Arc<dyn Source>;
    /// `conn.table(name, #{ parallel: N })`: a table read on N connections over key ranges,
    /// for connectors that can; others refuse N above 1.
    fn table_with_parallel(&self, table: &str, parallel: usize) -> Result<Arc<dyn Source>> {
        if parallel > 1 {
            return Err(crate::error::EtlError::db(
                self.name(),
                format!("table {table}: parallel reads (parallel: {parallel}) are supported on MySQL/MariaDB sources only"),
            ));
        }
        Ok(self.table(table))
    }
    fn sql(&self, sql: &str, params: Params) -> Arc<dyn Source>;

    /// Runs one statement; returns the rows it changed.
    fn execute(&self, io: &Io, sql: &str, params: &Params) -> Result<u64>;
    /// Runs a file of several statements in one transaction.
    fn run_script(&self, io: &Io, sql: &str, params: &Params) -> Result<u64>;
    /// Runs a query and collects at most `max_rows` rows (more is an error).
    fn query(&self, io: &Io, sql: &str, params: &Params, max_rows: usize) -> Result<Rows>;

    /// Prepares the target of a load inside a transaction that `LoadSession::commit` ends.
    fn begin_load(&self, io: &Io, plan: &LoadPlan) -> Result<Box<dyn LoadSession>>;

    fn audit_ensure(&self, io: &Io) -> Result<()>;
    /// Inserts a record in its own committed transaction; returns its id.
    fn audit_insert(&self, io: &Io, record: &AuditRecord) -> Result<i64>;
    fn audit_update(&self, io: &Io, id: i64, record: &AuditRecord) -> Result<()>;
    /// The greatest `data_max_date` of successful loads of this project into `table`.
    fn audit_watermark(&self, io: &Io, project: &str, table: &str) -> Result<Option<String>>;
    /// The latest records, newest first.
    fn audit_history(
        &self,
        io: &Io,
        project: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>>;
    /// One record by id.
    fn audit_get(&self, io: &Io, id: i64) -> Result<Option<AuditRecord>>;
}

/// An open load: rows go in, then `commit` writes the audit record's success in the same
/// transaction and commits. Dropping the session without commit rolls everything back.
pub trait LoadSession {
    /// The target's column types after creating or evolving the table: values are coerced
    /// to these before `write`.
    fn columns(&self) -> &Schema;
    fn write(&mut self, batch: &Batch) -> Result<()>;
    /// Runs checks inside the transaction before COMMIT (the hook data-quality checks use).
    fn commit(self: Box<Self>, io: &Io, audit: &AuditRecord) -> Result<MergeCounts>;
}

#[derive(Clone, Copy, Debug, Default)]
pub struct MergeCounts {
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
}
