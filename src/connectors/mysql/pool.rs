//! The connection pool of one named MySQL connection, error mapping, the read timeout, and
//! the bridge from script threads (synchronous) into the async client.
//!
//! mysql_async has no read timeout of its own, so every wait on the server goes through a
//! [`Guard`]: nothing back within the read limit ends the wait with an error saying which
//! connection and which setting, and the connection is closed instead of going back to the
//! pool (whose clean-up would wait on the stalled socket).

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;

use crate::connectors::timeouts::{show, Timeouts, RAISE};
use crate::error::{EtlError, Result};

/// How long a task waits for a connection: the server's handshake, or a free one when all
/// `pool_size` connections are busy.
const WAIT_FOR_CONNECTION: Duration = Duration::from_secs(120);

pub struct MyPool {
    pub pool: mysql_async::Pool,
    pub name: String,
    pub display: String,
    pub timeouts: Timeouts,
}

impl MyPool {
    pub async fn get(&self) -> Result<MyConn> {
        let conn = match tokio::time::timeout(WAIT_FOR_CONNECTION, self.pool.get_conn()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                let mut err = my_error(&self.name, &e);
                if let EtlError::Database { message, .. } = &mut err {
                    *message = format!("cannot connect to {}: {message}", self.display);
                }
                return Err(err);
            }
            Err(_) => {
                return Err(EtlError::db(
                    &self.name,
                    format!(
                        "no connection to {} within {}s: the server did not answer, or all pool_size connections stayed busy (raise pool_size in the URL or run fewer tasks at once)",
                        self.display,
                        WAIT_FOR_CONNECTION.as_secs()
                    ),
                ))
            }
        };
        Ok(MyConn {
            conn: Some(conn),
            guard: Guard {
                limit: self.timeouts.read_limit(),
                broken: Arc::new(AtomicBool::new(false)),
                what: Arc::from(format!(
                    "no answer from {} ({}) within {}",
                    self.display,
                    self.timeouts.describe(),
                    show(self.timeouts.read_limit().unwrap_or_default())
                )),
            },
        })
    }

    /// Stops the statement of connection `id` (a read abandoned half-way), so that the pool
    /// does not drain the rest of its result set. Best effort.
    pub fn kill_query(&self, handle: &tokio::runtime::Handle, id: u32) {
        let pool = self.pool.clone();
        handle.spawn(async move {
            let conn = tokio::time::timeout(WAIT_FOR_CONNECTION, pool.get_conn()).await;
            if let Ok(Ok(mut c)) = conn {
                let _ = c.query_drop(format!("KILL QUERY {id}")).await;
            }
        });
    }
}

/// A pooled connection; closed rather than pooled once a wait on it timed out.
pub struct MyConn {
    conn: Option<mysql_async::Conn>,
    guard: Guard,
}

impl MyConn {
    /// The read timeout of this connection, for waits that borrow it.
    pub fn guard(&self) -> Guard {
        self.guard.clone()
    }
}

impl Deref for MyConn {
    type Target = mysql_async::Conn;

    fn deref(&self) -> &mysql_async::Conn {
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl DerefMut for MyConn {
    fn deref_mut(&mut self) -> &mut mysql_async::Conn {
        self.conn.as_mut().expect("connection present until drop")
    }
}

impl Drop for MyConn {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if !self.guard.broken.load(Ordering::Relaxed) {
            return;
        }
        // Marked disconnected first thing, so even a disconnect cut short leaves the pool
        // dropping the connection instead of draining it.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(2), conn.disconnect()).await;
            });
        }
    }
}

/// The read limit of one connection.
#[derive(Clone)]
pub struct Guard {
    limit: Option<Duration>,
    broken: Arc<AtomicBool>,
    what: Arc<str>,
}

impl Guard {
    /// Awaits `wait` (a statement, the next row), giving up after the read limit.
    pub async fn run<T>(
        &self,
        wait: impl Future<Output = mysql_async::Result<T>>,
    ) -> mysql_async::Result<T> {
        let Some(limit) = self.limit else {
            return wait.await;
        };
        match tokio::time::timeout(limit, wait).await {
            Ok(r) => r,
            Err(_) => {
                self.broken.store(true, Ordering::Relaxed);
                let reason = format!(
                    "{}: the network or the server stalled, and the connection was closed; {RAISE}",
                    self.what
                );
                Err(mysql_async::Error::Io(mysql_async::IoError::Io(
                    std::io::Error::new(std::io::ErrorKind::TimedOut, reason),
                )))
            }
        }
    }
}

/// A database error with the server's SQLSTATE and error code kept.
pub fn my_error(connection: &str, e: &mysql_async::Error) -> EtlError {
    match e {
        mysql_async::Error::Server(s) => {
            let mut message = format!("{} (MySQL error {})", s.message, s.code);
            // 1969: MariaDB's max_statement_time; 3024: MySQL's max_execution_time.
            if s.code == 1969 || s.code == 3024 {
                message.push_str(&format!(
                    "; the statement ran longer than the connection's statement_timeout; {RAISE}"
                ));
            }
            EtlError::Database {
                connection: connection.to_string(),
                message,
                sqlstate: Some(s.state.clone()).filter(|s| !s.is_empty()),
            }
        }
        mysql_async::Error::Io(mysql_async::IoError::Io(io))
            if io.kind() == std::io::ErrorKind::TimedOut =>
        {
            EtlError::db(connection, io)
        }
        mysql_async::Error::Io(io) => {
            EtlError::db(connection, format!("connection lost or refused: {io}"))
        }
        other => EtlError::db(connection, other),
    }
}

/// The same, with what was being read in front of the message.
pub fn my_error_in(connection: &str, what: &str, e: &mysql_async::Error) -> EtlError {
    let mut err = my_error(connection, e);
    if let EtlError::Database { message, .. } = &mut err {
        *message = format!("{what}: {message}");
    }
    err
}
