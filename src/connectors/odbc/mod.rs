//! Generic ODBC (`odbc://`) and Oracle through Oracle's ODBC driver (`oracle://`): a source
//! of relations and a place to run SQL, through unixODBC and `odbc-api`. Synchronous driver
//! calls run on blocking threads; rows come through columnar buffers bounded by a byte budget
//! (`reader.rs`). Behind the `odbc` cargo feature (it links libodbc).

mod catalog;
mod config;
mod connect;
mod reader;
mod source;
mod sql;
mod types;

pub use connect::{CONNECTOR, ORACLE};
