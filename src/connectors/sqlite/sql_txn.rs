//! Plain SQL in one transaction on SQLite (`SqlExec::begin`): BEGIN IMMEDIATE takes the
//! database's write lock at once, so a second writer waits for the commit instead of failing
//! half-way. Dropping it without commit closes the connection, which rolls back.

use rusqlite::Connection;

use super::db::{bind, SqliteDb};
use super::sql::{query_rows, run_statements};
use crate::connectors::{Io, Params, Rows, SqlTxn};
use crate::error::Result;

pub struct SqliteSqlTxn {
    conn: Connection,
    db: SqliteDb,
    io: Io,
}

impl SqliteSqlTxn {
    pub fn begin(db: &SqliteDb, io: &Io) -> Result<SqliteSqlTxn> {
        let conn = db.connect()?;
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| db.err(e))?;
        Ok(SqliteSqlTxn {
            conn,
            db: db.clone(),
            io: io.clone(),
        })
    }
}

impl SqlTxn for SqliteSqlTxn {
    fn execute(&mut self, sql: &str, params: &Params) -> Result<u64> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.db.err(e))?;
        bind(&mut stmt, params).map_err(|e| self.db.err(e))?;
        Ok(stmt.raw_execute().map_err(|e| self.db.err(e))? as u64)
    }

    fn run_script(&mut self, _file: &str, sql: &str, params: &Params) -> Result<u64> {
        run_statements(&self.conn, &self.db, &self.io, sql, params)
    }

    fn query(&mut self, sql: &str, params: &Params, max_rows: usize) -> Result<Rows> {
        query_rows(&self.conn, &self.db, sql, params, max_rows)
    }

    fn commit(self: Box<Self>) -> Result<()> {
        self.conn
            .execute_batch("COMMIT")
            .map_err(|e| self.db.err(e))
    }
}
