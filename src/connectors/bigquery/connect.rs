//! The BigQuery connector's entry in the registry: `bigquery://` URLs. Opening parses the URL
//! only; the key file is read and a token fetched on first use.

use std::sync::Arc;

use super::client::Client;
use super::config;
use super::source::BqRelations;
use super::sql::BqSql;
use crate::connectors::registry::{Connector, OpenOptions, Roles};
use crate::connectors::Connection;
use crate::error::{EtlError, Result};

pub static CONNECTOR: Connector = Connector {
    name: "BigQuery",
    schemes: &["bigquery"],
    example: "bigquery://PROJECT/DATASET?credentials=KEY.json",
    roles: Roles {
        source: true,
        sql: true,
        target: false,
        audit: false,
    },
    open,
};

pub struct Shared {
    pub name: String,
    pub client: Client,
}

impl Shared {
    pub fn err(&self, e: impl std::fmt::Display) -> EtlError {
        EtlError::db(&self.name, e)
    }
}

fn open(name: &str, url: &str, opts: &OpenOptions) -> Result<Connection> {
    let settings =
        config::parse(url).map_err(|e| EtlError::Config(format!("connection '{name}': {e}")))?;
    let describe = format!("bigquery {}", settings.display);
    let client = Client::new(settings, opts.timeouts.read.or(opts.timeouts.statement))
        .map_err(|e| EtlError::Config(format!("connection '{name}': {e}")))?;
    let shared = Arc::new(Shared {
        name: name.to_string(),
        client,
    });
    let mut conn = Connection::new(name, &CONNECTOR, describe);
    conn.relations = Some(Arc::new(BqRelations(shared.clone())));
    conn.catalog = Some(Arc::new(super::catalog::BqCatalog(shared.clone())));
    conn.sql = Some(Arc::new(BqSql(shared)));
    Ok(conn)
}
