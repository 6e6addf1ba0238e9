//! What a connector can be, one small trait per role. A connector implements the roles it has
//! and nothing else: a source of relations, a place to run SQL, a load target, an audit store.
//! Load modes (full, append, merge, backfill windows), the watermark and the audit record's
//! life cycle live in `load/`, once for every target; a target supplies only its dialect's
//! primitives.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{BatchStream, CursorWindow, EncodedTarget, Io, ReadOptions, RowEstimate};
use crate::audit::AuditRecord;
use crate::audit_checks::CheckRecord;
use crate::data::{Batch, DataType, Schema, Value};
use crate::error::Result;

/// Named parameters (`:name` in SQL), always bound, never formatted into the text.
pub type Params = Vec<(String, Value)>;

/// Rows of a small result (`query`, `scalar`), with their schema.
pub struct Rows {
    pub schema: Schema,
    pub rows: Vec<Vec<Value>>,
}

/// Reads: the relations of a database (`conn.table(..)`, `conn.sql(..)`).
pub trait Relations: Send + Sync {
    fn table(&self, table: &str, opts: &TableOptions) -> Result<Arc<dyn Source>>;
    /// One query; `:since` / `:until` bind the window of the load that reads it.
    fn query(&self, sql: &str, params: Params) -> Result<Arc<dyn Source>>;
    /// Options of `table(name, #{...})` this connector reads itself (`TableOptions::options`),
    /// besides `parallel`; any other is refused by the script API.
    fn table_options(&self) -> &'static [&'static str] {
        &[]
    }
}

/// How a table is read.
#[derive(Clone, Debug)]
pub struct TableOptions {
    /// Connections reading key ranges at once (connectors that can; others refuse above 1).
    pub parallel: usize,
    /// The connector's own options, named in `Relations::table_options` (Salesforce: `bulk`).
    pub options: Params,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            parallel: 1,
            options: Params::new(),
        }
    }
}

/// A place rows come from. Calls block (they run on script threads); the rows themselves are
/// produced on another thread or task and handed over through a bounded `BatchStream`.
pub trait Source: Send + Sync {
    /// A short human description for logs and errors ("csv data/orders.csv").
    fn describe(&self) -> String;

    /// The columns and their types, without reading all the data.
    fn schema(&self, io: &Io) -> Result<Schema>;

    /// Starts streaming. Rows match `schema()`.
    fn open(&self, io: &Io, opts: &ReadOptions) -> Result<BatchStream>;

    /// True when `open` may hand rows over encoded for the target (`ReadOptions::encoded`):
    /// in its own format where the target takes it column for column, or written with the
    /// target's `RowEncoder`. A source that cannot for the columns at hand sends values.
    fn encodes(&self) -> bool {
        false
    }

    /// True when `open` applies `opts.window` itself.
    fn applies_window(&self) -> bool {
        false
    }

    /// The statement `open` runs for `opts`, in the source's own dialect (None for files):
    /// what `etl plan` prints, built by the same code that reads.
    fn statement(&self, _io: &Io, _opts: &ReadOptions) -> Result<Option<SourceStatement>> {
        Ok(None)
    }

    /// How many rows `open` would read with these options, without reading them (`etl plan`):
    /// exact or the database's estimate. None when the source cannot tell cheaply.
    fn estimate_rows(&self, _io: &Io, _opts: &ReadOptions) -> Result<Option<RowEstimate>> {
        Ok(None)
    }

    /// Set for file sources loaded file by file (`incremental: "files"`, `file_date`).
    fn by_file(&self) -> Option<&crate::connectors::files::ByFile> {
        None
    }
}

/// A read's statement as `etl plan` shows it: the text with named parameters (`:since`), the
/// values bound to them, and the window parameters left open (bound to the lowest or highest
/// value of the cursor's type).
#[derive(Clone, Debug, Default)]
pub struct SourceStatement {
    /// The connector's name for its SQL ("PostgreSQL", "MySQL/MariaDB", "SQLite").
    pub dialect: &'static str,
    pub sql: String,
    pub params: Params,
    pub unbounded: Vec<String>,
}

/// Plain SQL on a connection (`execute`, `run_file`, `query`, `scalar`).
pub trait SqlExec: Send + Sync {
    /// Runs one statement; returns the rows it changed.
    fn execute(&self, io: &Io, sql: &str, params: &Params) -> Result<u64>;
    /// Runs a file of several statements in one transaction; `file` names it in messages.
    fn run_script(&self, io: &Io, file: &str, sql: &str, params: &Params) -> Result<u64>;
    /// Runs a query and collects at most `max_rows` rows (more is an error). With
    /// `Access::ReadOnly` the database itself refuses any write the statement attempts.
    fn query(
        &self,
        io: &Io,
        sql: &str,
        params: &Params,
        max_rows: usize,
        access: Access,
    ) -> Result<Rows>;
    /// Opens a transaction for several statements that commit together (a migration and its
    /// record). Connectors without one, and run modes that do not write, refuse.
    fn begin(&self, _io: &Io) -> Result<Box<dyn SqlTxn>> {
        Err(crate::error::EtlError::Other(
            "this connection cannot run SQL in a transaction of several statements".into(),
        ))
    }
}

/// Plain SQL in one transaction (`SqlExec::begin`). Dropping it without `commit` rolls
/// everything back.
pub trait SqlTxn: Send {
    fn execute(&mut self, sql: &str, params: &Params) -> Result<u64>;
    /// Runs a file of several statements; `file` names it in messages.
    fn run_script(&mut self, file: &str, sql: &str, params: &Params) -> Result<u64>;
    fn query(&mut self, sql: &str, params: &Params, max_rows: usize) -> Result<Rows>;
    fn commit(self: Box<Self>) -> Result<()>;
}

/// Whether a query may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    /// Run in a read-only transaction (plan, sample and dry runs).
    ReadOnly,
}

/// Which load a target transaction is for: the load lock and stale-record clean-up use it.
#[derive(Clone, Debug)]
pub struct LoadIdentity {
    pub project: String,
    pub run_id: String,
    pub run_started: DateTime<Utc>,
    /// The target table as the script names it.
    pub table: String,
}

/// A place loads write to: the primitives of its SQL dialect. `load/` decides which to call.
pub trait LoadTarget: Send + Sync {
    /// Opens the transaction of one load into `load.table`, holding the target's load lock
    /// (one load of a table at a time, whatever the project) until commit or rollback.
    fn begin(&self, io: &Io, load: &LoadIdentity) -> Result<Box<dyn TargetTxn>>;

    /// The table's columns (None when it does not exist), read without writing anything.
    fn inspect(&self, io: &Io, table: &str) -> Result<Option<Vec<TargetColumn>>>;

    /// `CREATE TABLE` as a load runs it (the key becomes the primary key): for `etl plan`.
    fn create_table_sql(&self, table: &str, columns: &Schema, key: &[String]) -> String;
    /// `ALTER TABLE ... ADD COLUMN` as a load runs it: for `etl plan`.
    fn add_column_sql(&self, table: &str, column: &str, data_type: &DataType) -> String;

    /// How sample runs name scratch copies of this target's tables.
    fn scratch_naming(&self) -> ScratchNaming;

    /// A table as the script names it, quoted for this dialect's SQL (checks query it).
    fn quote_table(&self, table: &str) -> String;
    /// A resolved table quoted for this dialect's SQL.
    fn quote_id(&self, table: &TableId) -> String;
    /// An expression compared as a number (SQLite keeps exact decimals as text, which would
    /// compare as text).
    fn as_number(&self, expr: &str) -> String {
        expr.to_string()
    }
    /// An expression hashing the values of `columns` (already quoted and qualified) into
    /// text: SCD2 dimensions compare versions by it. NULL and '' hash differently.
    fn row_hash(&self, columns: &[String]) -> String;
    /// The declared type of a surrogate key the database numbers itself when an insert
    /// leaves it out.
    fn identity_type(&self) -> &'static str;
    /// Statements run before `row_hash` is used in a transaction, so values print the same
    /// way whatever the session's settings.
    fn stable_text_sql(&self) -> &'static [&'static str] {
        &[]
    }
    /// A statement refreshing the planner's statistics of a freshly filled scratch table
    /// (PostgreSQL never auto-analyzes temporary tables, and a join planned on a guess of its
    /// size sorts a million rows to disk); None where the database needs none.
    fn analyze_sql(&self, _quoted_table: &str) -> Option<String> {
        None
    }
    /// A query counting the keys a bitmap marks that `quoted_table.quoted_column` lacks:
    /// `:bits` (bytes, bit `i` is bit `i % 8` of byte `i / 8`) marks the value `:lo + i`, for
    /// `i` below `:n`; `:hi` is the highest value it can mark. `relationships` on integers
    /// then looks up each key the load brought once, without reading its rows again; None
    /// where the dialect cannot read the bits.
    fn missing_keys_sql(&self, _quoted_table: &str, _quoted_column: &str) -> Option<String> {
        None
    }
    /// Statements run in the load's transaction before set-based work over all its rows
    /// (checks, SCD2): memory for the hash tables of a million-row aggregate or join.
    fn set_based_sql(&self) -> &'static [&'static str] {
        &[]
    }
    /// Statements steering the joins that follow towards index probes (`true`) or back to the
    /// planner's own choice (`false`). For a few thousand changed rows against a million-row
    /// table, whose costs PostgreSQL reckons for uncached disks: it would hash the whole table.
    fn index_probes_sql(&self, _on: bool) -> &'static [&'static str] {
        &[]
    }
}

/// How a database can hold scratch copies of tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScratchNaming {
    /// A schema of its own: `orders` -> `etl_dev_ann.orders`.
    Schema,
    /// A prefix in the table's name: `orders` -> `etl_dev_ann__orders` (one namespace).
    Prefix,
}

/// A table resolved by the target: schema (when the dialect has one) and name, unquoted.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableId {
    pub schema: Option<String>,
    pub name: String,
}

impl std::fmt::Display for TableId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A column of an existing table.
#[derive(Clone, Debug)]
pub struct TargetColumn {
    pub name: String,
    /// Its type in portable terms (what values are coerced to).
    pub data_type: DataType,
    /// Its declared type in the database's own words (`numeric(14,4)`, `jsonb`).
    pub declared: String,
    /// False for column types this connector cannot write.
    pub writable: bool,
}

/// A column to create: the portable type, or a declared type kept from the table it replaces.
#[derive(Clone, Debug)]
pub struct ColumnDef {
    pub name: String,
    pub data_type: DataType,
    pub declared: Option<String>,
}

/// One load's transaction on a target. Dropping it without `commit` rolls everything back.
pub trait TargetTxn {
    /// A table as the script names it, with its columns when it exists.
    fn resolve(&mut self, table: &str) -> Result<(TableId, Option<Vec<TargetColumn>>)>;
    /// Creates `table` (and its schema when missing); `key` becomes its primary key.
    fn create_table(
        &mut self,
        table: &TableId,
        columns: &[ColumnDef],
        key: &[String],
    ) -> Result<()>;
    /// Creates the table a full load fills beside `target`; the dialect may defer its key
    /// to `swap` (cheaper after the rows are in).
    fn create_replacement(
        &mut self,
        target: &TableId,
        columns: &[ColumnDef],
        key: &[String],
    ) -> Result<TableId>;
    /// Asked before `create_replacement`: write the replacement's rows over up to `streams`
    /// connections at once (`load(#{ parallel: N })`). Returns how many the target will use;
    /// 1 (the default) means the load's own transaction writes them all.
    fn parallel_streams(&mut self, _streams: usize) -> usize {
        1
    }
    /// A private stage for merging into `target`, holding `columns` typed as in `target`.
    fn create_stage(&mut self, target: &TableId, columns: &[String]) -> Result<TableId> {
        self.create_work(target, columns, "etl_stage")
    }
    /// A private table `name` of the transaction holding `columns` typed as in `target`,
    /// without their constraints (the stage is one; SCD2 keeps its versions' work in others).
    fn create_work(&mut self, target: &TableId, columns: &[String], name: &str) -> Result<TableId>;
    fn add_column(&mut self, table: &TableId, column: &ColumnDef) -> Result<()>;
    /// A unique index on `key`, which merging needs; fails clearly on duplicates.
    fn ensure_unique_key(&mut self, table: &TableId, key: &[String]) -> Result<()>;
    /// Deletes the rows of `window` (a backfill window reloaded without a key).
    fn delete_window(&mut self, table: &TableId, window: &CursorWindow) -> Result<u64>;
    /// Starts writing rows of `columns` (in this order) into `table`; returns the columns'
    /// types in the table, which the rows are coerced to.
    fn begin_write(&mut self, table: &TableId, columns: &[String]) -> Result<Schema>;
    fn write(&mut self, batch: &Batch) -> Result<()>;
    /// What the open write takes undecoded (`write_encoded`): None when nothing.
    fn encoded_input(&self) -> Option<EncodedTarget> {
        None
    }
    /// Writes rows a source encoded for `encoded_input` (`Batch::encoded`).
    fn write_encoded(&mut self, _batch: &Batch) -> Result<()> {
        Err(crate::error::EtlError::Other(
            "this target takes no encoded rows".into(),
        ))
    }
    /// Hands `each` the integer values of `columns` of rows encoded for `encoded_input`, in
    /// one pass: the position in `columns` and the value, None for NULL. False when this
    /// target cannot read them back (what it handed over so far is then not to be trusted).
    fn encoded_integers(
        &self,
        _batch: &Batch,
        _columns: &[usize],
        _each: &mut dyn FnMut(usize, Option<i64>),
    ) -> bool {
        false
    }
    /// Ends the write; returns the rows written.
    fn end_write(&mut self) -> Result<u64>;
    /// Appends the rows of `stage` to `target` (an append whose new rows were checked first);
    /// returns how many.
    fn append_stage(
        &mut self,
        stage: &TableId,
        target: &TableId,
        columns: &[String],
    ) -> Result<u64>;
    /// Replaces `target` by `replacement` (from `create_replacement`), keyed on `key`.
    fn swap(&mut self, replacement: &TableId, target: &TableId, key: &[String]) -> Result<()>;
    /// Builds `replacement`'s key on `key` now, before the load's checks, where the dialect
    /// defers it to `swap`: true when built, which proves the rows have no duplicate or NULL
    /// key (`unique` on the key needs no query of its own); false when the rows break it or
    /// the dialect does not defer its keys.
    fn key_replacement(&mut self, _replacement: &TableId, _key: &[String]) -> Result<bool> {
        Ok(false)
    }
    /// Upserts `stage` into `target` on `key`: the last staged row of a key wins; rows whose
    /// values did not change are neither rewritten nor counted as updated.
    fn merge(
        &mut self,
        stage: &TableId,
        target: &TableId,
        columns: &[String],
        key: &[String],
    ) -> Result<MergeCounts>;
    /// A statement inside the load's transaction (the audit record, checks before commit).
    fn execute(&mut self, sql: &str, params: &Params) -> Result<u64>;
    /// A query inside the load's transaction (checks before commit see the new rows).
    fn query(&mut self, sql: &str, params: &Params, max_rows: usize) -> Result<Rows>;
    fn commit(self: Box<Self>) -> Result<()>;
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MergeCounts {
    pub inserted: u64,
    pub updated: u64,
}

/// The audit table `etl_runs` (DESIGN.md §4) in the connector's own dialect.
pub trait AuditStore: Send + Sync {
    /// Creates the table when missing.
    fn ensure(&self, io: &Io) -> Result<()>;
    /// Whether the table exists (read-only: `etl plan` never creates it).
    fn exists(&self, io: &Io) -> Result<bool>;
    /// Inserts a record in its own committed transaction; returns its id.
    fn insert(&self, io: &Io, record: &AuditRecord) -> Result<i64>;
    fn update(&self, io: &Io, id: i64, record: &AuditRecord) -> Result<()>;
    /// The table's name as its dialect writes it in SQL (quoted, with its schema).
    fn quoted_table(&self) -> String;
    /// The statement that writes record `id`, to run inside a load's transaction so the
    /// record commits with the rows.
    fn update_statement(&self, id: i64, record: &AuditRecord) -> (String, Params) {
        let mut params = record.params();
        params.push(("id".into(), Value::Int64(id)));
        (crate::audit::update_sql(&self.quoted_table()), params)
    }
    /// The statement that marks `running` records of other runs of `load`'s project and table
    /// failed, to run inside the load's transaction: holding the table's load lock proves
    /// those runs died.
    fn close_stale_statement(&self, load: &LoadIdentity) -> (String, Params) {
        (
            crate::audit::close_stale_sql(&self.quoted_table()),
            crate::audit::close_stale_params(
                &load.project,
                &load.table,
                &load.run_id,
                load.run_started,
            ),
        )
    }
    /// The greatest `data_max_date` of successful loads of `project` into `table`.
    fn watermark(&self, io: &Io, project: &str, table: &str) -> Result<Option<String>>;
    /// The latest records, newest first.
    fn history(&self, io: &Io, project: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>>;
    fn get(&self, io: &Io, id: i64) -> Result<Option<AuditRecord>>;
    /// Changes record `id` (`update_etl_runs_record`): read, changed by `change`, written.
    fn amend(
        &self,
        io: &Io,
        id: i64,
        change: &mut dyn FnMut(&mut AuditRecord) -> std::result::Result<(), String>,
    ) -> Result<()> {
        let mut record = self.get(io, id)?.ok_or_else(|| {
            crate::error::EtlError::Other(format!("there is no etl_runs record with id {id}"))
        })?;
        change(&mut record).map_err(crate::error::EtlError::Other)?;
        self.update(io, id, &record)
    }
    /// Writes check results (`etl_checks`), in their own committed transaction.
    fn record_checks(&self, io: &Io, records: &[CheckRecord]) -> Result<()>;
    /// The latest check results, newest first.
    fn check_history(
        &self,
        io: &Io,
        project: Option<&str>,
        limit: usize,
    ) -> Result<Vec<CheckRecord>>;
    /// The query for the row count of the latest successful load of `project` into `table`
    /// (a check's `row_count(#{ max_change })` compares with it).
    fn last_rows_statement(&self, project: &str, table: &str) -> (String, Params) {
        (
            format!(
                "SELECT number_of_records FROM {} WHERE project = :project AND target_table = :table \
                 AND status = 'success' AND number_of_records IS NOT NULL ORDER BY id DESC LIMIT 1",
                self.quoted_table()
            ),
            vec![
                ("project".into(), Value::Text(project.to_string())),
                ("table".into(), Value::Text(table.to_string())),
            ],
        )
    }
    /// The same store kept under a scratch name (sample runs never touch the real one).
    fn relocated(&self, scratch: &str) -> Arc<dyn AuditStore>;
    /// `etl_files` (loads with `incremental: "files"`), quoted; None where this store keeps
    /// no such table.
    fn files_table(&self) -> Option<String> {
        None
    }
    /// The statements that create `etl_files`, run in the first such load's transaction.
    fn files_create_statements(&self) -> Vec<String> {
        Vec::new()
    }
    /// The files `project` loaded into `table`; None when `etl_files` does not exist yet.
    fn loaded_files(
        &self,
        _io: &Io,
        _project: &str,
        _table: &str,
    ) -> Result<Option<Vec<crate::audit_files::FileStamp>>> {
        Err(crate::error::EtlError::Other(
            "incremental: \"files\" needs a target whose audit store keeps etl_files (PostgreSQL, SQLite)".into(),
        ))
    }
}

/// Introspection (`conn.tables()`, `conn.columns(t)`, `conn.primary_key(t)`): what a source
/// holds, read from its catalog without reading any rows. A connector plugs in by setting
/// `Connection::catalog`; one without a catalog keeps the defaults, which say so.
pub trait Catalog: Send + Sync {
    /// The connector's name in messages ("PostgreSQL").
    fn kind(&self) -> &'static str;
    /// The base tables of `schema` (None: the connection's default schema or database),
    /// sorted by name.
    fn tables(&self, _io: &Io, _schema: Option<&str>) -> Result<Vec<TableId>> {
        Err(cannot_list(self.kind()))
    }
    /// The columns of `table` (as scripts name it, `schema.table` or `table`) in their order.
    fn columns(&self, _io: &Io, _table: &str) -> Result<Vec<CatalogColumn>> {
        Err(cannot_list(self.kind()))
    }
    /// The columns of `table`'s primary key in key order; empty when it has none.
    fn primary_key(&self, _io: &Io, _table: &str) -> Result<Vec<String>> {
        Err(cannot_list(self.kind()))
    }
}

/// A column as a catalog declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogColumn {
    pub name: String,
    /// Its declared type in the database's own words (`numeric(12,2)`, `varchar(40)`).
    pub declared: String,
    pub nullable: bool,
}

/// The refusal of a connector that has no catalog.
pub fn cannot_list(kind: &str) -> crate::error::EtlError {
    crate::error::EtlError::Config(format!(
        "{kind} cannot list its tables: name the tables in the script instead"
    ))
}
