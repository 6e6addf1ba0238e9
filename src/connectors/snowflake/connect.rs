//! The Snowflake connector's entry in the registry: `snowflake://` URLs. Opening parses the
//! URL only; the session logs in on first use and is shared by the connection's reads.

use std::sync::Arc;

use super::config::{self, Settings};
use super::session::Session;
use super::source::SfRelations;
use super::sql::SfSql;
use crate::connectors::registry::{Connector, OpenOptions, Roles};
use crate::connectors::Connection;
use crate::error::{EtlError, Result};

pub static CONNECTOR: Connector = Connector {
    name: "Snowflake",
    schemes: &["snowflake"],
    example: "snowflake://USER@ACCOUNT/DB/SCHEMA?warehouse=WH",
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
    pub settings: Settings,
    read_timeout: Option<std::time::Duration>,
    session: tokio::sync::OnceCell<Arc<Session>>,
}

impl Shared {
    /// The logged-in session (logging in on first use; a failed login is tried again next
    /// time).
    pub async fn session(&self) -> Result<Arc<Session>> {
        self.session
            .get_or_try_init(|| async {
                Session::login(&self.settings, self.read_timeout)
                    .await
                    .map(Arc::new)
                    .map_err(|e| self.err(format!("{} ({})", e, self.settings.display)))
            })
            .await
            .cloned()
    }

    pub fn err(&self, e: impl std::fmt::Display) -> EtlError {
        EtlError::db(&self.name, e)
    }
}

fn open(name: &str, url: &str, opts: &OpenOptions) -> Result<Connection> {
    let settings =
        config::parse(url).map_err(|e| EtlError::Config(format!("connection '{name}': {e}")))?;
    let describe = format!("snowflake {}", settings.display);
    let shared = Arc::new(Shared {
        name: name.to_string(),
        settings,
        read_timeout: opts.timeouts.read.or(opts.timeouts.statement),
        session: tokio::sync::OnceCell::new(),
    });
    let mut conn = Connection::new(name, &CONNECTOR, describe);
    conn.relations = Some(Arc::new(SfRelations(shared.clone())));
    let sql: Arc<dyn crate::connectors::SqlExec> = Arc::new(SfSql(shared.clone()));
    conn.catalog = Some(Arc::new(super::catalog::SfCatalog {
        sql: crate::connectors::catalog::SqlCatalog {
            connection: name.to_string(),
            sql: sql.clone(),
            statements: &crate::connectors::catalog::SNOWFLAKE,
        },
    }));
    conn.sql = Some(sql);
    Ok(conn)
}
