//! Plain SQL in one transaction on PostgreSQL (`SqlExec::begin`): a migration and its record
//! commit together. Dropping it without commit discards its connection, so the server rolls
//! everything back.

use std::sync::Arc;

use super::bind;
use super::error::pg_error;
use super::pool::PgConn;
use super::sql::{query_rows, run_statements};
use super::Shared;
use crate::connectors::{Io, Params, Rows, SqlTxn};
use crate::error::{EtlError, Result};

pub struct PgSqlTxn {
    io: Io,
    shared: Arc<Shared>,
    conn: Option<PgConn>,
}

impl PgSqlTxn {
    pub fn begin(shared: &Arc<Shared>, io: &Io) -> Result<PgSqlTxn> {
        let conn = io.block_on(async {
            let c = shared.pool.get(&io.handle).await?;
            c.batch_execute("BEGIN")
                .await
                .map_err(|e| pg_error(&shared.name, &e))?;
            Ok(c)
        })?;
        Ok(PgSqlTxn {
            io: io.clone(),
            shared: shared.clone(),
            conn: Some(conn),
        })
    }

    fn conn(&self) -> &PgConn {
        self.conn.as_ref().expect("connection held until commit")
    }
}

impl SqlTxn for PgSqlTxn {
    fn execute(&mut self, sql: &str, params: &Params) -> Result<u64> {
        let name = &self.shared.name;
        let (text, binds) = bind::prepare(sql, params).map_err(|e| EtlError::db(name, e))?;
        let c = self.conn();
        self.io.block_on(async {
            c.execute_raw(text.as_str(), bind::refs(&binds))
                .await
                .map_err(|e| pg_error(name, &e))
        })
    }

    fn run_script(&mut self, _file: &str, sql: &str, params: &Params) -> Result<u64> {
        let c = self.conn();
        self.io
            .block_on(run_statements(c, &self.shared.name, sql, params))
    }

    fn query(&mut self, sql: &str, params: &Params, max_rows: usize) -> Result<Rows> {
        let c = self.conn();
        self.io
            .block_on(query_rows(c, &self.shared.name, sql, params, max_rows))
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        let conn = self.conn.take().expect("connection held until commit");
        let name = &self.shared.name;
        self.io.block_on(async {
            conn.batch_execute("COMMIT")
                .await
                .map_err(|e| pg_error(name, &e))
        })?;
        conn.release();
        Ok(())
    }
}
