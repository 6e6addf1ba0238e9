//! Connectors: where rows come from and where they go, one folder each, behind small role
//! traits (`roles.rs`): a source of relations, plain SQL, a load target, an audit store.
//! `registry.rs` is the one place URL schemes map to connectors. This layer knows nothing of
//! scripts, runs or load modes (DESIGN.md §1).

#[cfg(feature = "bigquery")]
pub mod bigquery;
pub mod catalog;
mod connection;
pub mod csv;
pub mod dialect;
pub mod encoded;
#[cfg(any(feature = "mssql", feature = "odbc"))]
mod extremes;
pub mod files;
pub mod http;
mod io;
pub mod json;
#[cfg(any(feature = "snowflake", feature = "bigquery"))]
pub(crate) mod jwt;
#[cfg(feature = "mssql")]
pub mod mssql;
pub mod mysql;
#[cfg(feature = "odbc")]
pub mod odbc;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod postgres;
mod read;
pub mod registry;
mod roles;
#[cfg(feature = "salesforce")]
pub mod salesforce;
#[cfg(feature = "snowflake")]
pub mod snowflake;
pub mod sql_params;
pub mod sqlite;
mod stream;
pub mod timeouts;
pub(crate) mod url;
mod window;

pub use connection::{Connection, Role};
pub use dialect::Dialect;
pub use io::Io;
pub use read::{
    EncodedTarget, Encoding, ReadOptions, RowEncoder, RowEstimate, DEFAULT_BATCH_ROWS,
    PIPELINE_DEPTH,
};
pub use registry::{open, Connector, OpenOptions};
pub use roles::{
    cannot_list, Access, AuditStore, Catalog, CatalogColumn, ColumnDef, LoadIdentity, LoadTarget,
    MergeCounts, Params, Relations, Rows, ScratchNaming, Source, SourceStatement, SqlExec, SqlTxn,
    TableId, TableOptions, TargetColumn, TargetTxn,
};
pub use stream::{BatchSender, BatchStream};
pub use timeouts::Timeouts;
pub use url::mask_url;
pub use window::{query_params, CursorWindow, Predicate};
