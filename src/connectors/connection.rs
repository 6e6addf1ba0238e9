//! A named connection: the roles its connector has. Asking for a role it lacks is refused here,
//! once, with what the connector can do instead.

use std::sync::Arc;

use super::roles::{AuditStore, Catalog, LoadTarget, Relations, SqlExec};
use super::Connector;
use crate::error::{EtlError, Result};

#[derive(Clone)]
pub struct Connection {
    /// Its name in `etl.toml` (messages, the audit table).
    pub name: String,
    pub connector: &'static Connector,
    /// Kind and location without secrets ("sqlite /srv/dw.db", "postgres etl@db/dw").
    pub describe: String,
    pub relations: Option<Arc<dyn Relations>>,
    pub sql: Option<Arc<dyn SqlExec>>,
    pub target: Option<Arc<dyn LoadTarget>>,
    pub audit: Option<Arc<dyn AuditStore>>,
    /// Introspection: its tables, their columns and keys (read-only by construction, so
    /// every run mode, `etl check` included, may use it).
    pub catalog: Option<Arc<dyn Catalog>>,
}

impl Connection {
    /// A connection with no roles yet; the connector fills in the ones it has.
    pub fn new(name: &str, connector: &'static Connector, describe: String) -> Connection {
        Connection {
            name: name.to_string(),
            connector,
            describe,
            relations: None,
            sql: None,
            target: None,
            audit: None,
            catalog: None,
        }
    }

    pub fn relations(&self) -> Result<&Arc<dyn Relations>> {
        self.relations
            .as_ref()
            .ok_or_else(|| self.lacks(Role::Source))
    }

    pub fn sql(&self) -> Result<&Arc<dyn SqlExec>> {
        self.sql.as_ref().ok_or_else(|| self.lacks(Role::Sql))
    }

    pub fn target(&self) -> Result<&Arc<dyn LoadTarget>> {
        self.target.as_ref().ok_or_else(|| self.lacks(Role::Target))
    }

    pub fn audit(&self) -> Result<&Arc<dyn AuditStore>> {
        self.audit.as_ref().ok_or_else(|| self.lacks(Role::Audit))
    }

    pub fn catalog(&self) -> Result<&Arc<dyn Catalog>> {
        self.catalog
            .as_ref()
            .ok_or_else(|| self.lacks(Role::Catalog))
    }

    fn lacks(&self, role: Role) -> EtlError {
        let c = self.connector;
        let mut message = format!(
            "a {} connection cannot {}: it {}",
            c.name,
            role.verb(),
            c.roles.describe()
        );
        if matches!(role, Role::Target | Role::Audit) {
            let targets: Vec<&str> = super::registry::CONNECTORS
                .iter()
                .filter(|c| c.roles.target)
                .map(|c| c.name)
                .collect();
            message.push_str(&format!(" (etl loads into {})", targets.join(" or ")));
        }
        // Pointing a command or a load at the wrong kind of connection is a configuration
        // mistake, not a database failure.
        EtlError::Config(format!("connection '{}': {message}", self.name))
    }
}

/// The roles a connector can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Source,
    Sql,
    Target,
    Audit,
    Catalog,
}

impl Role {
    fn verb(self) -> &'static str {
        match self {
            Role::Source => "be read from",
            Role::Sql => "run SQL",
            Role::Target => "be loaded into",
            Role::Audit => "keep the audit table etl_runs",
            Role::Catalog => "list its tables",
        }
    }
}
