//! The connections of one named PostgreSQL connection, shared by every task of a run, and the
//! bridge from script threads (synchronous) to the async client.
//!
//! A connection goes back to the pool only when the code that used it says it is idle
//! (`release`). One dropped mid-query (an error, a cancelled run, a panic) is taken out of the
//! pool instead, its query cancelled on the server and its socket closed, so an open transaction
//! can never leak into the next user and the server rolls it back.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, Pool, PoolError, RecycleError, RecycleResult};

use super::config::Settings;
use super::socket::{Opener, Session};
use crate::error::{EtlError, Result};

/// How long a task waits for a free connection before it says so.
const WAIT_FOR_CONNECTION: Duration = Duration::from_secs(120);

/// Opens sessions for the pool and tells a closed one from a usable one.
pub struct Manager(Arc<Opener>);

impl managed::Manager for Manager {
    type Type = Session;
    type Error = EtlError;

    async fn create(&self) -> Result<Session> {
        self.0.open().await
    }

    async fn recycle(&self, s: &mut Session, _: &Metrics) -> RecycleResult<EtlError> {
        if s.client.is_closed() {
            return Err(RecycleError::message("connection closed"));
        }
        // Another session to the server stalled or was lost since this one was opened: the
        // same fault may hold this idle one, and a statement on it would wait for the read
        // timeout. A new connection costs a handshake.
        if s.losses_seen < self.0.losses.load(Ordering::Relaxed) {
            return Err(RecycleError::message(
                "a connection to the server was lost since",
            ));
        }
        Ok(())
    }
}

pub struct PgPool {
    pool: Pool<Manager>,
    opener: Arc<Opener>,
    name: String,
    display: String,
    size: usize,
}

impl PgPool {
    pub fn new(name: &str, settings: Settings) -> Result<PgPool> {
        let opener = Arc::new(Opener {
            name: name.to_string(),
            pg: settings.pg,
            tls: settings.tls,
            timeouts: settings.timeouts,
            display: settings.display.clone(),
            losses: Arc::new(AtomicU64::new(0)),
        });
        let pool = Pool::builder(Manager(opener.clone()))
            .max_size(settings.pool_size)
            .runtime(deadpool::Runtime::Tokio1)
            .wait_timeout(Some(WAIT_FOR_CONNECTION))
            .build()
            .map_err(|e| EtlError::Config(format!("connection '{name}': {e}")))?;
        Ok(PgPool {
            pool,
            opener,
            name: name.to_string(),
            display: settings.display,
            size: settings.pool_size,
        })
    }

    /// Connections the pool holds at most.
    pub fn size(&self) -> usize {
        self.size
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    /// A connection from the pool. (`_handle`: the callers' runtime; a dropped connection's
    /// cancel request is sent synchronously now, so it is not needed.)
    pub async fn get(&self, _handle: &tokio::runtime::Handle) -> Result<PgConn> {
        let obj = self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(mut err) => {
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
            opener: self.opener.clone(),
        })
    }
}

/// A connection checked out of the pool; see the module comment for its drop rule.
pub struct PgConn {
    obj: Option<Object<Manager>>,
    idle: bool,
    opener: Arc<Opener>,
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
        &self
            .obj
            .as_ref()
            .expect("connection present until drop")
            .client
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        let Some(obj) = self.obj.take() else { return };
        if self.idle {
            return;
        }
        let session = Object::take(obj);
        if session.client.is_closed() {
            return;
        }
        // The server keeps running a statement whose client went away until it next writes to
        // the socket, holding its locks; the cancel request stops it now.
        if let Some(key) = session.watch.backend_key() {
            self.opener.cancel(key);
        }
        drop(session);
    }
}
