//! The SQL Server connector's entry in the registry, connecting (with Azure SQL's redirect),
//! describing a statement's result, and the read limit.
//!
//! tiberius cannot cancel a running statement (no TDS attention): a wait that outlives the
//! read limit drops the connection instead, and the server rolls back what it had open when
//! it notices. Connections are opened per read or statement; there is no pool.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tiberius::{ColumnData, IntoSql, Query};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

use super::config::{self, Settings};
use super::decode::param_type;
use super::source::MsRelations;
use super::sql::MsSql;
use super::types::MsType;
use crate::connectors::registry::{Connector, OpenOptions, Roles};
use crate::connectors::timeouts::show;
use crate::connectors::Connection;
use crate::error::{EtlError, Result};

pub static CONNECTOR: Connector = Connector {
    name: "SQL Server",
    schemes: &["mssql", "sqlserver"],
    example: "mssql://USER@HOST:1433/DB",
    roles: Roles {
        source: true,
        sql: true,
        target: false,
        audit: false,
    },
    open,
};

pub type Client = tiberius::Client<Compat<TcpStream>>;

/// How long connecting (TCP, TLS, login) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// What every relation and statement of one connection shares.
pub struct Shared {
    pub name: String,
    pub settings: Settings,
}

fn open(name: &str, url: &str, opts: &OpenOptions) -> Result<Connection> {
    let settings = config::parse(url, opts.timeouts)
        .map_err(|e| EtlError::Config(format!("connection '{name}': {e}")))?;
    let describe = format!("mssql {}", settings.display);
    let shared = Arc::new(Shared {
        name: name.to_string(),
        settings,
    });
    let mut conn = Connection::new(name, &CONNECTOR, describe);
    conn.relations = Some(Arc::new(MsRelations(shared.clone())));
    let sql: Arc<dyn crate::connectors::SqlExec> = Arc::new(MsSql(shared));
    conn.catalog = Some(Arc::new(crate::connectors::catalog::SqlCatalog {
        connection: name.to_string(),
        sql: sql.clone(),
        statements: &crate::connectors::catalog::MSSQL,
    }));
    conn.sql = Some(sql);
    Ok(conn)
}

/// A parameter for tiberius' `Query::bind`.
pub struct Param(pub ColumnData<'static>);

impl IntoSql<'static> for Param {
    fn into_sql(self) -> ColumnData<'static> {
        self.0
    }
}

impl Shared {
    pub fn err(&self, what: &str, e: impl std::fmt::Display) -> EtlError {
        EtlError::db(&self.name, format!("{what}: {e}"))
    }

    /// A server or protocol error, with SQL Server's error number and line.
    pub fn tds_err(&self, what: &str, e: tiberius::error::Error) -> EtlError {
        match e {
            tiberius::error::Error::Server(t) => EtlError::db(
                &self.name,
                format!(
                    "{what}: {} (SQL Server error {}, line {})",
                    t.message(),
                    t.code(),
                    t.line()
                ),
            ),
            other => self.err(what, other),
        }
    }

    /// Waits on the server at most the read limit; past it the connection is dropped.
    pub async fn guard<T>(
        &self,
        what: &str,
        fut: impl Future<Output = std::result::Result<T, tiberius::error::Error>>,
    ) -> Result<T> {
        match self.settings.timeouts.read_limit() {
            None => fut.await.map_err(|e| self.tds_err(what, e)),
            Some(limit) => match tokio::time::timeout(limit, fut).await {
                Ok(r) => r.map_err(|e| self.tds_err(what, e)),
                Err(_) => Err(self.err(
                    what,
                    format!(
                        "no answer from {} within {} (read_timeout/statement_timeout): the connection was closed, since tiberius cannot cancel a statement; the server rolls back what it had open",
                        self.settings.display,
                        show(limit)
                    ),
                )),
            },
        }
    }

    pub async fn connect(&self) -> Result<Client> {
        let fail = |e: String| {
            EtlError::db(
                &self.name,
                format!("cannot connect to {}: {e}", self.settings.display),
            )
        };
        let mut config = self.settings.config().map_err(fail)?;
        // Azure SQL may redirect the login to another host once.
        for _ in 0..2 {
            let attempt = async {
                let tcp = TcpStream::connect(config.get_addr())
                    .await
                    .map_err(|e| e.to_string())?;
                tcp.set_nodelay(true).map_err(|e| e.to_string())?;
                Ok::<_, String>(tiberius::Client::connect(config.clone(), tcp.compat_write()).await)
            };
            let connected = tokio::time::timeout(CONNECT_TIMEOUT, attempt)
                .await
                .map_err(|_| fail(format!("no answer within {}", show(CONNECT_TIMEOUT))))?
                .map_err(fail)?;
            match connected {
                Ok(client) => return Ok(client),
                Err(tiberius::error::Error::Routing { host, port }) => {
                    config.host(&host);
                    config.port(port);
                }
                // The server's own words (a failed login is error 18456), without tiberius'
                // "Token error: '..' on server .. executing  on line 1" wrapping.
                Err(tiberius::error::Error::Server(t)) => {
                    return Err(fail(format!(
                        "{} (SQL Server error {}, state {})",
                        t.message(),
                        t.code(),
                        t.state()
                    )))
                }
                Err(e) => return Err(fail(e.to_string())),
            }
        }
        Err(fail("redirected more than once".into()))
    }

    /// The columns of a statement's first result set, with their declared types
    /// (`sp_describe_first_result_set`: tiberius' metadata has no precision or scale). No
    /// row is read and nothing runs.
    pub async fn describe(
        &self,
        client: &mut Client,
        what: &str,
        sql: &str,
        params: &[ColumnData<'static>],
    ) -> Result<Vec<(String, MsType)>> {
        let decl = params
            .iter()
            .enumerate()
            .map(|(i, p)| format!("@P{} {}", i + 1, param_type(p)))
            .collect::<Vec<_>>()
            .join(", ");
        let mut q = Query::new(
            "EXEC sp_describe_first_result_set @tsql = @P1, @params = @P2, @browse_information_mode = 0",
        );
        q.bind(sql.to_string());
        q.bind(decl);
        let stream = self.guard(what, q.query(client)).await?;
        let rows = self.guard(what, stream.into_first_result()).await?;
        let mut cols = Vec::new();
        for row in rows {
            if row.get::<bool, _>("is_hidden").unwrap_or(false) {
                continue;
            }
            let name: &str = row.get("name").unwrap_or_default();
            let declared: &str = row.get("system_type_name").unwrap_or("sql_variant");
            cols.push((name.to_string(), MsType::parse(declared)));
        }
        if cols.is_empty() {
            return Err(self.err(
                what,
                "the statement returns no columns; a source must be a query",
            ));
        }
        Ok(cols)
    }
}
