//! The connections of one named PostgreSQL connection, shared by every task of a run, and the
//! bridge from script threads (synchronous) to the async client.
//!
//! A connection goes back to the pool only when the code that used it says it is idle
//! (`release`). One dropped mid-query (an error, a cancelled run, a panic) is taken out of the
//! pool instead, its query cancelled on the server and its socket closed, so an open transaction
//! can never leak into the next user and the server rolls it back.

use std::ops::Deref;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::config::Settings;
use super::error::pg_error;
use crate::error::{EtlError, Result};

/// How long a task waits for a free connection before it says so.
const WAIT_FOR_CONNECTION: Duration = Duration::from_secs(120);

pub struct PgPool {
    pool: Pool,
    tls: MakeRustlsConnect,
    name: String,
    display: String,
    size: usize,
}

impl PgPool {
    pub fn new(name: &str, settings: Settings) -> Result<PgPool> {
        let manager = Manager::from_config(
            settings.pg,
            settings.tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(WAIT_FOR_CONNECTION))
            .build()
            .map_err(|e| EtlError::Config(format!("connection '{name}': {e}")))?;
        Ok(PgPool {
            pool,
            tls: settings.tls,
            name: name.to_string(),
            display: settings.display,
            size: settings.pool_size,
        })
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    pub async fn get(&self, handle: &tokio::runtime::Handle) -> Result<PgConn> {
        use deadpool_postgres::PoolError;
        let obj = self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => {
                let mut err = pg_error(&self.name, &e);
                if let EtlError::Database { message, .. } = &mut err {
                    *message = format!("cannot connect to {}: {message}", self.display);
                }
                err
            }
            PoolError::Timeout(_) => EtlError::db(
                &self.name,
                format!(
                    "all {} connections to {} stayed busy for {}s; raise pool_size in the URL (?pool_size=N) or run fewer tasks at once",
                    self.size,
                    self.display,
                    WAIT_FOR_CONNECTION.as_secs()
                ),
            ),
            other => EtlError::db(&self.name, format!("cannot connect to {}: {other}", self.display)),
        })?;
        Ok(PgConn {
            obj: Some(obj),
            idle: false,
            handle: handle.clone(),
            tls: self.tls.clone(),
        })
    }
}

/// A connection checked out of the pool; see the module comment for its drop rule.
pub struct PgConn {
    obj: Option<Object>,
    idle: bool,
    handle: tokio::runtime::Handle,
    tls: MakeRustlsConnect,
}

impl PgConn {
    /// Returns the connection to the pool: the caller knows no statement or transaction is open.
    pub fn release(mut self) {
        self.idle = true;
    }
}

impl Deref for PgConn {
    type Target = tokio_postgres::Client;

    fn deref(&self) -> &tokio_postgres::Client {
        self.obj.as_ref().expect("connection present until drop")
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        let Some(obj) = self.obj.take() else { return };
        if self.idle {
            return;
        }
        let client = Object::take(obj);
        if client.is_closed() {
            return;
        }
        // The server keeps running a statement whose client went away until it next writes to
        // the socket, holding its locks; the cancel request stops it now.
        let token = client.cancel_token();
        let tls = self.tls.clone();
        self.handle.spawn(async move {
            let _ = token.cancel_query(tls).await;
        });
        drop(client);
    }
}
