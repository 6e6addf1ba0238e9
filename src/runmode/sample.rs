//! Sample runs (`etl watch --limit N`): sources read at most N rows, and loads go to a scratch
//! schema (PostgreSQL) or a table-name prefix (SQLite), with their audit records in a scratch
//! audit table, so development never writes a production table. This is the one place target
//! names are rewritten: every table a load's transaction touches is resolved through it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::connectors::{
    ColumnDef, CursorWindow, EncodedTarget, Io, LoadIdentity, LoadTarget, MergeCounts, Params,
    Relations, Rows, ScratchNaming as Naming, Source, TableId, TableOptions, TargetColumn,
    TargetTxn,
};
use crate::data::{Batch, DataType, Schema};
use crate::error::Result;

/// The settings of a sample run, shared by every run of one `etl watch` session.
#[derive(Debug)]
pub struct Sample {
    /// Rows read from each source at most (None: no limit, only the scratch redirection).
    pub limit: Option<u64>,
    /// The scratch schema or prefix, `etl_dev_<user>` unless configured.
    pub scratch: String,
    /// `connection\u{1f}table` of the production names loaded into scratch this session, so
    /// later reads of them (`conn.table(name)`) read the scratch copy.
    loaded: Mutex<HashSet<String>>,
}

impl Sample {
    /// A sample run; `scratch` None takes `etl_dev_<user>`. The name must be a plain
    /// identifier (it is used unquoted in messages and as a schema name).
    pub fn new(limit: Option<u64>, scratch: Option<&str>) -> Result<Sample, String> {
        let scratch = match scratch {
            Some(s) => s.to_string(),
            None => default_scratch(),
        };
        let valid = !scratch.is_empty()
            && scratch.len() <= 40
            && scratch
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !scratch.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(format!(
                "scratch name '{scratch}' must be 1 to 40 characters of a-z, 0-9 and _, not starting with a digit"
            ));
        }
        Ok(Sample {
            limit,
            scratch,
            loaded: Mutex::new(HashSet::new()),
        })
    }

    /// The scratch name of a load target. PostgreSQL: `t` and `public.t` become
    /// `SCRATCH.t`, `s.t` becomes `SCRATCH.s__t` (tables of two schemas never collide).
    /// SQLite: `t` becomes `SCRATCH__t`, `main.t` becomes `main.SCRATCH__t`.
    pub fn target(&self, table: &str, naming: Naming) -> String {
        let table = table.trim();
        match naming {
            Naming::Schema => match split_schema(table) {
                (None | Some("public"), t) => format!("{}.{t}", self.scratch),
                (Some(s), t) if s == self.scratch => format!("{s}.{t}"),
                (Some(s), t) => format!("{}.{s}__{t}", self.scratch),
            },
            Naming::Prefix => {
                let prefix = format!("{}__", self.scratch);
                match table.split_once('.') {
                    Some((db @ ("main" | "temp"), t)) if !t.starts_with(&prefix) => {
                        format!("{db}.{prefix}{t}")
                    }
                    _ if table.starts_with(&prefix) => table.to_string(),
                    _ => format!("{prefix}{table}"),
                }
            }
        }
    }

    /// The row limit of a read: the smaller of the sample's and the relation's own.
    pub fn read_limit(&self, own: Option<u64>) -> Option<u64> {
        match (self.limit, own) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Remembers that `table` of `connection` now has a scratch copy.
    pub fn mark_loaded(&self, connection: &str, table: &str) {
        self.loaded
            .lock()
            .expect("sample lock")
            .insert(format!("{connection}\u{1f}{}", table.trim()));
    }

    /// Whether `table` of `connection` was loaded into scratch in this session.
    pub fn was_loaded(&self, connection: &str, table: &str) -> bool {
        self.loaded
            .lock()
            .expect("sample lock")
            .contains(&format!("{connection}\u{1f}{}", table.trim()))
    }
}

/// Reads of a connection in a sample run: a table this session loaded into scratch is read
/// from its scratch copy.
pub(super) struct SampleRelations {
    pub inner: Arc<dyn Relations>,
    pub sample: Arc<Sample>,
    pub connection: String,
    pub naming: Naming,
}

impl Relations for SampleRelations {
    fn table(&self, table: &str, opts: &TableOptions) -> Result<Arc<dyn Source>> {
        if self.sample.was_loaded(&self.connection, table) {
            return self
                .inner
                .table(&self.sample.target(table, self.naming), opts);
        }
        self.inner.table(table, opts)
    }

    fn query(&self, sql: &str, params: Params) -> Result<Arc<dyn Source>> {
        self.inner.query(sql, params)
    }

    fn table_options(&self) -> &'static [&'static str] {
        self.inner.table_options()
    }
}

/// A load target whose every table is its scratch copy.
pub(super) struct ScratchTarget {
    pub inner: Arc<dyn LoadTarget>,
    pub sample: Arc<Sample>,
}

impl ScratchTarget {
    fn scratch(&self, table: &str) -> String {
        self.sample.target(table, self.inner.scratch_naming())
    }
}

impl LoadTarget for ScratchTarget {
    fn begin(&self, io: &Io, load: &LoadIdentity) -> Result<Box<dyn TargetTxn>> {
        let load = LoadIdentity {
            table: self.scratch(&load.table),
            ..load.clone()
        };
        Ok(Box::new(ScratchTxn {
            inner: self.inner.begin(io, &load)?,
            sample: self.sample.clone(),
            naming: self.inner.scratch_naming(),
        }))
    }

    fn inspect(&self, io: &Io, table: &str) -> Result<Option<Vec<TargetColumn>>> {
        self.inner.inspect(io, &self.scratch(table))
    }

    fn create_table_sql(&self, table: &str, columns: &Schema, key: &[String]) -> String {
        self.inner
            .create_table_sql(&self.scratch(table), columns, key)
    }

    fn add_column_sql(&self, table: &str, column: &str, data_type: &DataType) -> String {
        self.inner
            .add_column_sql(&self.scratch(table), column, data_type)
    }

    fn scratch_naming(&self) -> Naming {
        self.inner.scratch_naming()
    }

    /// Checks read other tables (`relationships`) where they are: reads stay in production.
    fn quote_table(&self, table: &str) -> String {
        self.inner.quote_table(table)
    }

    fn as_number(&self, expr: &str) -> String {
        self.inner.as_number(expr)
    }

    fn quote_id(&self, table: &TableId) -> String {
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

/// A load's transaction that resolves every table name to its scratch copy; all other
/// primitives take tables from `resolve`, so none can reach a production table.
struct ScratchTxn {
    inner: Box<dyn TargetTxn>,
    sample: Arc<Sample>,
    naming: Naming,
}

impl TargetTxn for ScratchTxn {
    fn resolve(&mut self, table: &str) -> Result<(TableId, Option<Vec<TargetColumn>>)> {
        self.inner.resolve(&self.sample.target(table, self.naming))
    }
    fn create_table(
        &mut self,
        table: &TableId,
        columns: &[ColumnDef],
        key: &[String],
    ) -> Result<()> {
        self.inner.create_table(table, columns, key)
    }
    fn create_replacement(
        &mut self,
        target: &TableId,
        columns: &[ColumnDef],
        key: &[String],
    ) -> Result<TableId> {
        self.inner.create_replacement(target, columns, key)
    }
    fn create_work(&mut self, target: &TableId, columns: &[String], name: &str) -> Result<TableId> {
        self.inner.create_work(target, columns, name)
    }
    fn add_column(&mut self, table: &TableId, column: &ColumnDef) -> Result<()> {
        self.inner.add_column(table, column)
    }
    fn ensure_unique_key(&mut self, table: &TableId, key: &[String]) -> Result<()> {
        self.inner.ensure_unique_key(table, key)
    }
    fn delete_window(&mut self, table: &TableId, window: &CursorWindow) -> Result<u64> {
        self.inner.delete_window(table, window)
    }
    fn begin_write(&mut self, table: &TableId, columns: &[String]) -> Result<Schema> {
        self.inner.begin_write(table, columns)
    }
    fn write(&mut self, batch: &Batch) -> Result<()> {
        self.inner.write(batch)
    }
    fn encoded_input(&self) -> Option<EncodedTarget> {
        self.inner.encoded_input()
    }
    fn write_encoded(&mut self, batch: &Batch) -> Result<()> {
        self.inner.write_encoded(batch)
    }
    fn encoded_integers(
        &self,
        batch: &Batch,
        columns: &[usize],
        each: &mut dyn FnMut(usize, Option<i64>),
    ) -> bool {
        self.inner.encoded_integers(batch, columns, each)
    }
    fn end_write(&mut self) -> Result<u64> {
        self.inner.end_write()
    }
    fn append_stage(
        &mut self,
        stage: &TableId,
        target: &TableId,
        columns: &[String],
    ) -> Result<u64> {
        self.inner.append_stage(stage, target, columns)
    }
    fn swap(&mut self, replacement: &TableId, target: &TableId, key: &[String]) -> Result<()> {
        self.inner.swap(replacement, target, key)
    }
    fn merge(
        &mut self,
        stage: &TableId,
        target: &TableId,
        columns: &[String],
        key: &[String],
    ) -> Result<MergeCounts> {
        self.inner.merge(stage, target, columns, key)
    }
    fn execute(&mut self, sql: &str, params: &Params) -> Result<u64> {
        self.inner.execute(sql, params)
    }
    fn query(&mut self, sql: &str, params: &Params, max_rows: usize) -> Result<Rows> {
        self.inner.query(sql, params, max_rows)
    }
    fn commit(self: Box<Self>) -> Result<()> {
        self.inner.commit()
    }
}

/// `etl_dev_<user>`: the login name lowercased, other characters than a-z, 0-9 as `_`.
pub fn default_scratch() -> String {
    let user = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "dev".into());
    let clean: String = user
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(24)
        .collect();
    format!("etl_dev_{clean}")
}

fn split_schema(table: &str) -> (Option<&str>, &str) {
    match table.split_once('.') {
        Some((s, t)) => (Some(s.trim_matches('"')), t.trim_matches('"')),
        None => (None, table.trim_matches('"')),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_names_per_dialect() {
        let s = Sample::new(Some(10), Some("etl_dev_ann")).unwrap();
        assert_eq!(s.target("orders", Naming::Schema), "etl_dev_ann.orders");
        assert_eq!(
            s.target("public.orders", Naming::Schema),
            "etl_dev_ann.orders"
        );
        assert_eq!(
            s.target("staging.orders", Naming::Schema),
            "etl_dev_ann.staging__orders"
        );
        assert_eq!(s.target("orders", Naming::Prefix), "etl_dev_ann__orders");
        assert_eq!(
            s.target("main.orders", Naming::Prefix),
            "main.etl_dev_ann__orders"
        );
        assert_eq!(
            s.target("staging.orders", Naming::Prefix),
            "etl_dev_ann__staging.orders"
        );
        // Idempotent: a name already in scratch stays there.
        assert_eq!(
            s.target("etl_dev_ann__orders", Naming::Prefix),
            "etl_dev_ann__orders"
        );
        assert_eq!(
            s.target("etl_dev_ann.orders", Naming::Schema),
            "etl_dev_ann.orders"
        );
    }

    #[test]
    fn limits_take_the_smaller_and_names_are_checked() {
        let s = Sample::new(Some(10), Some("dev")).unwrap();
        assert_eq!(s.read_limit(None), Some(10));
        assert_eq!(s.read_limit(Some(3)), Some(3));
        assert_eq!(s.read_limit(Some(30)), Some(10));
        assert!(Sample::new(None, Some("Bad-Name")).is_err());
        assert!(Sample::new(None, Some("1x")).is_err());
        assert!(default_scratch().starts_with("etl_dev_"));
        s.mark_loaded("warehouse", "orders");
        assert!(s.was_loaded("warehouse", "orders"));
        assert!(!s.was_loaded("warehouse", "customers"));
    }
}
