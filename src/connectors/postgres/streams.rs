//! A full load written over several connections at once (`load(#{ parallel: N })`).
//!
//! PostgreSQL has no transaction shared between connections, so the replacement table cannot
//! be the load transaction's own: it is created and committed on a connection of its own (the
//! side table), the load's transaction writes one stream and N-1 more connections write the
//! others, each in its own transaction, committed only once every stream has all its rows.
//! Checks, the key and the swap then run in the load's transaction as for one stream, and the
//! audit record commits with the swap. Until then the target is untouched: a failure anywhere
//! drops the side table (`PgTxn`'s drop), and one a crash leaves behind is dropped by the next
//! load of the table, of any mode, once it holds the table's load lock (`PgTxn::begin`).

use std::time::Duration;

use super::copy_in::CopyIn;
use super::pool::PgConn;
use super::target::quoted;
use super::txn::PgTxn;
use crate::connectors::TableId;
use crate::error::Result;

/// How long dropping a failed load's side table waits for the locks of its dead transaction.
const CLEANUP_WAIT: Duration = Duration::from_secs(10);

/// How long a stream waits for a free connection before the load makes do with fewer.
const STREAM_CONNECTION_WAIT: Duration = Duration::from_secs(2);

/// One extra stream: its COPY and its connection (its transaction open). Dropped, the COPY
/// is abandoned first, then the connection is closed, which rolls the stream back.
pub(super) struct Stream {
    pub copy: CopyIn,
    conn: PgConn,
}

impl PgTxn {
    /// Runs `sql` committed on a connection of its own.
    pub(super) fn on_own_connection(&self, sql: &str, doing: &str) -> Result<()> {
        self.io.block_on(async {
            let c = self.shared.pool.get(&self.io.handle).await?;
            c.batch_execute(sql).await.map_err(|e| self.pg(&e, doing))?;
            c.release();
            Ok(())
        })
    }

    /// Opens up to `extra` more COPY streams into `table`, each on its own connection and
    /// transaction: fewer when the pool has no free connection for long (other tasks, or the
    /// source reading from the same database, hold them).
    pub(super) fn open_streams(&self, copy_sql: &str, extra: usize) -> Result<Vec<Stream>> {
        let mut streams = Vec::with_capacity(extra);
        for _ in 0..extra {
            let opened = self.io.block_on(async {
                let Ok(conn) = tokio::time::timeout(
                    STREAM_CONNECTION_WAIT,
                    self.shared.pool.get(&self.io.handle),
                )
                .await
                else {
                    return Ok(None);
                };
                let conn = conn?;
                // Its rows count only once the load's own transaction commits the swap, which
                // flushes the WAL up to there: waiting for this commit's flush buys nothing.
                conn.batch_execute("BEGIN; SET LOCAL synchronous_commit = off")
                    .await
                    .map_err(|e| self.pg(&e, "starting a COPY stream"))?;
                let sink = conn
                    .copy_in(copy_sql)
                    .await
                    .map_err(|e| self.pg(&e, "starting a COPY stream"))?;
                Ok(Some((conn, sink)))
            })?;
            let Some((conn, sink)) = opened else {
                tracing::warn!(
                    table = %self.table,
                    "parallel: {} asked, writing over {}: no more connections to {} were free within {}s (pool_size {} in the URL).",
                    extra + 1,
                    streams.len() + 1,
                    self.shared.name,
                    STREAM_CONNECTION_WAIT.as_secs(),
                    self.shared.pool.size()
                );
                break;
            };
            let copy = CopyIn::start(&self.io, sink, &self.table, &self.shared.name);
            streams.push(Stream { copy, conn });
        }
        Ok(streams)
    }

    /// Ends every extra stream's COPY and, once all have their rows, commits them; returns
    /// the rows of all streams (`own`: those of the load's own transaction).
    pub(super) fn finish_streams(&self, own: u64, mut streams: Vec<Stream>) -> Result<u64> {
        let mut counts = vec![own];
        for s in &mut streams {
            counts.push(s.copy.finish()?);
        }
        for s in streams {
            self.io.block_on(async {
                s.conn
                    .batch_execute("COMMIT")
                    .await
                    .map_err(|e| self.pg(&e, "committing a COPY stream"))
            })?;
            s.conn.release();
        }
        if counts.len() > 1 {
            let each: Vec<String> = counts.iter().map(u64::to_string).collect();
            tracing::debug!(table = %self.table, "Rows per COPY stream: {}.", each.join(", "));
        }
        Ok(counts.iter().sum())
    }

    /// Drops the side table of a load that did not commit. Best effort: the next load of
    /// the table drops it too.
    pub(super) fn drop_side_table(&self, side: &TableId) {
        let sql = format!(
            "BEGIN; SET LOCAL lock_timeout = {}; DROP TABLE IF EXISTS {}; COMMIT",
            CLEANUP_WAIT.as_millis(),
            quoted(side)
        );
        let shared = self.shared.clone();
        let handle = self.io.handle.clone();
        let work = async move {
            let c = shared.pool.get(&handle).await?;
            let r = tokio::time::timeout(CLEANUP_WAIT * 2, c.batch_execute(&sql)).await;
            match r {
                Ok(Ok(())) => {
                    c.release();
                    Ok(())
                }
                Ok(Err(e)) => Err(super::error::message(&e)),
                Err(_) => Err("it did not answer in time".to_string()),
            }
            .map_err(|m| crate::error::EtlError::db(&shared.name, m))
        };
        // Dropped on a script thread as a rule; from inside the runtime (a panic's unwinding)
        // the clean-up runs as a task of its own.
        let result = match tokio::runtime::Handle::try_current() {
            Ok(_) => {
                let table = quoted(side);
                self.io.handle.spawn(async move {
                    if let Err(e) = work.await {
                        tracing::warn!("Could not drop {table}, the new table of a load that did not finish: {e}; the next load of the table drops it.");
                    }
                });
                return;
            }
            Err(_) => self.io.handle.block_on(work),
        };
        match result {
            Ok(()) => {
                tracing::debug!(table = %self.table, "Dropped {}, the new table of a load that did not finish.", quoted(side))
            }
            Err(e) => tracing::warn!(
                table = %self.table,
                "Could not drop {}, the new table of a load that did not finish: {e}; the next load of the table drops it.",
                quoted(side)
            ),
        }
    }
}
