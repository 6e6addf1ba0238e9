//! The connection pool of one named MySQL connection, error mapping, and the bridge from
//! script threads (synchronous) into the async client.

use mysql_async::prelude::Queryable;

use crate::error::{EtlError, Result};

pub struct MyPool {
    pub pool: mysql_async::Pool,
    pub name: String,
    pub display: String,
}

impl MyPool {
    pub async fn get(&self) -> Result<mysql_async::Conn> {
        self.pool.get_conn().await.map_err(|e| {
            let mut err = my_error(&self.name, &e);
            if let EtlError::Database { message, .. } = &mut err {
                *message = format!("cannot connect to {}: {message}", self.display);
            }
            err
        })
    }

    /// Stops the statement of connection `id` (a read abandoned half-way), so that the pool
    /// does not drain the rest of its result set. Best effort.
    pub fn kill_query(&self, handle: &tokio::runtime::Handle, id: u32) {
        let pool = self.pool.clone();
        handle.spawn(async move {
            if let Ok(mut c) = pool.get_conn().await {
                let _ = c.query_drop(format!("KILL QUERY {id}")).await;
            }
        });
    }
}

/// A database error with the server's SQLSTATE and error code kept.
pub fn my_error(connection: &str, e: &mysql_async::Error) -> EtlError {
    match e {
        mysql_async::Error::Server(s) => EtlError::Database {
            connection: connection.to_string(),
            message: format!("{} (MySQL error {})", s.message, s.code),
            sqlstate: Some(s.state.clone()).filter(|s| !s.is_empty()),
        },
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
