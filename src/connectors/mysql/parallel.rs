//! `conn.table(name, #{ parallel: N })`: a table split into N primary-key ranges, each read on
//! its own connection into the one bounded `BatchStream` (row order does not matter to a load).
//! Needs a single-column integer primary key; the ranges cover `min..=max` of the key.

use std::sync::Arc;

use futures_util::stream::{FuturesUnordered, StreamExt};
use mysql_async::prelude::Queryable;

use super::pool::my_error_in;
use super::reader::{is_integer, Reader};
use super::source::MySource;
use super::statement::Statement;
use super::types::{quote_ident, quote_table, split_name, MyType};
use crate::connectors::{BatchStream, Io, Source};
use crate::data::Schema;
use crate::error::{EtlError, Result};

/// `lo <= key < hi`, or `lo <= key <= hi` for the last range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    pub column: String,
    pub lo: i64,
    pub hi: i64,
    pub last: bool,
}

impl Range {
    /// The range as a condition with named parameters (`:range_lo`, `:range_hi`).
    pub fn condition(&self, params: &mut crate::connectors::Params) -> String {
        params.push(("range_lo".into(), crate::data::Value::Int64(self.lo)));
        params.push(("range_hi".into(), crate::data::Value::Int64(self.hi)));
        let col = quote_ident(&self.column);
        format!(
            "{col} >= :range_lo AND {col} {} :range_hi",
            if self.last { "<=" } else { "<" }
        )
    }
}

/// `n` ranges of about equal key width over `min..=max` (fewer when the keys are fewer).
pub fn split(column: &str, min: i64, max: i64, n: usize) -> Vec<Range> {
    let span = i128::from(max) - i128::from(min) + 1;
    let n = (n as i128).clamp(1, span.max(1));
    let step = (span + n - 1) / n;
    (0..n)
        .map(|i| {
            // Clamped: the last ranges may be empty, never out of i64.
            let lo = (i128::from(min) + i * step).min(i128::from(max));
            let last = i == n - 1;
            let hi = if last {
                i128::from(max)
            } else {
                (lo + step).min(i128::from(max))
            };
            Range {
                column: column.to_string(),
                lo: lo as i64,
                hi: hi as i64,
                last,
            }
        })
        .collect()
}

/// The ranges to read, or None when the table cannot be split (no single-column integer
/// primary key, or no rows).
pub fn plan(
    src: &MySource,
    io: &Io,
    table: &str,
    cols: &[(String, MyType)],
    n: usize,
) -> Result<Option<Vec<Range>>> {
    let parts = split_name(table).map_err(|e| src.err(e))?;
    let (schema, name) = match parts.as_slice() {
        [t] => (None, t.clone()),
        [s, t] => (Some(s.clone()), t.clone()),
        _ => return Ok(None),
    };
    let quoted = quote_table(table).map_err(|e| src.err(e))?;
    let shared = src.shared.clone();
    let what = src.describe();
    let cols = cols.to_vec();
    io.block_on(async move {
        let mut conn = shared.pool.get().await?;
        let guard = conn.guard();
        let keys: Vec<String> = guard
            .run(conn.exec(
                "SELECT COLUMN_NAME FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' \
                 ORDER BY SEQ_IN_INDEX",
                (schema, name),
            ))
            .await
            .map_err(|e| my_error_in(&shared.name, &what, &e))?;
        let [key] = keys.as_slice() else {
            return Ok(None);
        };
        let integer = cols
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(key))
            .is_some_and(|(_, t)| is_integer(&t.data_type));
        if !integer {
            return Ok(None);
        }
        let col = quote_ident(key);
        let bounds: Option<(Option<i64>, Option<i64>)> = guard
            .run(conn.query_first(format!("SELECT MIN({col}), MAX({col}) FROM {quoted}")))
            .await
            .map_err(|e| my_error_in(&shared.name, &what, &e))?;
        Ok(match bounds {
            Some((Some(min), Some(max))) => Some(split(key, min, max, n)),
            _ => None,
        })
    })
}

/// Reads every statement on its own connection, all into one stream. The first error stops
/// the other readers (their queries are killed) and ends the stream.
pub fn open(io: &Io, schema: Schema, reader: Reader, stmts: Vec<Statement>) -> BatchStream {
    BatchStream::spawn(io, schema, move |tx| async move {
        let tx = Arc::new(tx);
        let mut tasks: Vec<tokio::task::JoinHandle<Result<()>>> = Vec::new();
        for stmt in stmts {
            let reader = reader.clone();
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move { reader.stream(stmt, &tx).await }));
        }
        let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
        let mut pending: FuturesUnordered<_> = tasks.into_iter().collect();
        while let Some(done) = pending.next().await {
            let outcome = done.unwrap_or_else(|e| {
                Err(EtlError::db(
                    &reader.shared.name,
                    format!("{}: a parallel reader stopped: {e}", reader.what),
                ))
            });
            if let Err(e) = outcome {
                for a in &aborts {
                    a.abort();
                }
                return Err(e);
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_keys_once() {
        let r = split("id", 1, 10, 4);
        assert_eq!(
            r.iter().map(|r| (r.lo, r.hi, r.last)).collect::<Vec<_>>(),
            [(1, 4, false), (4, 7, false), (7, 10, false), (10, 10, true)]
        );
        assert_eq!(split("id", 5, 5, 4).len(), 1);
        let r = split("id", i64::MIN, i64::MAX, 3);
        assert_eq!(r[0].lo, i64::MIN);
        assert_eq!(r[2].hi, i64::MAX);
        assert!(r[2].last);
    }
}
