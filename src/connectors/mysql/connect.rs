//! The MySQL/MariaDB connector's entry in the registry: `mysql://` and `mariadb://` URLs.

use std::sync::Arc;

use super::config::{self, ZeroDates};
use super::pool::MyPool;
use super::source::MyRelations;
use super::sql::MySql;
use crate::connectors::registry::{Connector, OpenOptions, Roles};
use crate::connectors::Connection;
use crate::error::{EtlError, Result};

pub static CONNECTOR: Connector = Connector {
    name: "MySQL/MariaDB",
    schemes: &["mysql", "mariadb"],
    example: "mysql://USER@HOST:3306/DB",
    roles: Roles {
        source: true,
        sql: true,
        target: false,
        audit: false,
    },
    open,
};

/// What every relation and statement of one connection shares.
pub struct Shared {
    pub name: String,
    pub pool: MyPool,
    pub tinyint1_as_bool: bool,
    pub zero_dates: ZeroDates,
}

/// Parses the URL and sets up the pool; nothing connects until first use.
fn open(name: &str, url: &str, opts: &OpenOptions) -> Result<Connection> {
    let s = config::parse(url, opts.timeouts)
        .map_err(|e| EtlError::Config(format!("connection '{name}': {e}")))?;
    let describe = format!("mysql {}", s.display);
    let shared = Arc::new(Shared {
        name: name.to_string(),
        pool: MyPool {
            pool: mysql_async::Pool::new(s.opts),
            name: name.to_string(),
            display: s.display,
            timeouts: s.timeouts,
        },
        tinyint1_as_bool: s.tinyint1_as_bool,
        zero_dates: s.zero_dates,
    });
    let mut conn = Connection::new(name, &CONNECTOR, describe);
    conn.relations = Some(Arc::new(MyRelations(shared.clone())));
    let sql: Arc<dyn crate::connectors::SqlExec> = Arc::new(MySql { shared });
    conn.catalog = Some(Arc::new(crate::connectors::catalog::SqlCatalog {
        connection: name.to_string(),
        sql: sql.clone(),
        statements: &crate::connectors::catalog::MYSQL,
    }));
    conn.sql = Some(sql);
    Ok(conn)
}
