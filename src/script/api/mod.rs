//! The script API, one file per domain, all registered here (DESIGN.md §2).

mod aggregate;
mod audit;
mod backfill;
mod checks;
mod connection;
mod files;
mod http;
mod introspect;
mod log;
mod mail;
mod options;
mod project;
mod relation;
mod transform;
mod util;
pub mod values;

mod register;

pub use connection::Conn;
pub use register::register;
pub(crate) use register::{fail, Res};
pub use relation::{Origin, Relation, Step};
pub use transform::RhaiTransform;
