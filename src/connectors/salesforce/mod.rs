//! Salesforce: a source only (no SQL, not a target). `salesforce://HOST?api=v61.0&flow=...`
//! logs in with OAuth 2.0 (`api`, `jwt`), reads `describe` for column types (`describe`),
//! writes SOQL (`soql`), and reads rows through the REST query API (`rest`) or Bulk API 2.0
//! jobs (`bulk`), both turned into typed batches by `rows`. `source` is the seam.

mod api;
mod bulk;
mod catalog;
mod config;
mod describe;
mod jwt;
mod rest;
mod rows;
mod soql;
mod source;

use std::sync::Arc;

use super::registry::{Connector, OpenOptions, Roles};
use super::Connection;
use crate::error::{EtlError, Result};

pub static CONNECTOR: Connector = Connector {
    name: "Salesforce",
    schemes: &["salesforce"],
    example: config::EXAMPLE,
    roles: Roles {
        source: true,
        sql: false,
        target: false,
        audit: false,
    },
    open,
};

fn open(name: &str, url: &str, opts: &OpenOptions) -> Result<Connection> {
    let cfg = config::SfConfig::parse(url)
        .map_err(|e| EtlError::Config(format!("connection '{name}': {e}")))?;
    let mut c = Connection::new(name, &CONNECTOR, cfg.display());
    let shared = Arc::new(source::Shared::new(name, cfg, opts.env.clone()));
    c.catalog = Some(Arc::new(catalog::SfCatalog(shared.clone())));
    c.relations = Some(Arc::new(source::SfRelations { shared }));
    Ok(c)
}
