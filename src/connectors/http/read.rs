//! The page loop: pages one after another, their records typed into bounded batches handed to
//! the load as they fill, stopping when the consumer goes away or the run is cancelled.

use std::sync::Arc;

use url::Url;

use super::body::{self, JsonPath};
use super::client::{Client, Fetched};
use super::columns::to_row;
use super::options::HttpOptions;
use super::paging::{PageInfo, Pager};
use crate::connectors::{BatchSender, CursorWindow, ReadOptions};
use crate::data::{bounded_record, Batch, Reject, Schema, Value};
use crate::error::{EtlError, Result};

pub struct PageLoop {
    pub client: Arc<Client>,
    pub opts: Arc<HttpOptions>,
    pub schema: Schema,
    pub first: Url,
    /// The first page when it was already fetched (to type the columns).
    pub prefetched: Option<Fetched>,
    pub read: ReadOptions,
}

impl PageLoop {
    pub async fn run(mut self, tx: BatchSender) -> Result<()> {
        let path = JsonPath::parse(&self.opts.records).map_err(|e| self.fail(None, e))?;
        let mut pager = Pager::new(&self.opts.paging).map_err(|e| self.fail(None, e))?;
        let width = self.schema.len();
        let window = self.read.window.clone();
        let cursor = window
            .as_ref()
            .and_then(|w| self.schema.index_of(&w.column));
        let mut url = self.first.clone();
        let mut page_no = 1u64;
        let mut row = 0u64;
        let mut sent = 0u64;
        let mut batch = Batch::new(width, 1, self.read.batch_rows);
        loop {
            let fetched = match self.prefetched.take() {
                Some(f) => f,
                None => self
                    .client
                    .get(&url)
                    .await
                    .map_err(|e| self.fail(Some((page_no, &url)), e))?,
            };
            let root = fetched
                .root()
                .map_err(|e| self.fail(Some((page_no, &url)), format!("not JSON: {e}")))?;
            let records =
                body::records(root, &path).map_err(|e| self.fail(Some((page_no, &url)), e))?;
            let mut values: Vec<Value> = Vec::with_capacity(width);
            for (n, rec) in records.iter().enumerate() {
                row += 1;
                values.clear();
                if let Err(m) = to_row(rec, &self.schema, &mut values) {
                    if !self.read.keep_going {
                        let column = m
                            .column
                            .as_ref()
                            .map(|c| format!(", column '{c}'"))
                            .unwrap_or_default();
                        return Err(self.fail(
                            Some((page_no, &url)),
                            format!(
                                "row {row}{column} (record {} of the page): {}; declare the column's type with columns: #{{...}} or allow bad records with max_errors",
                                n + 1,
                                m.reason
                            ),
                        ));
                    }
                    let reason = format!("page {page_no}, record {}: {}", n + 1, m.reason);
                    batch.rejects.push(Reject {
                        line: None,
                        row,
                        column: m.column,
                        reason,
                        record: bounded_record(rec.get()),
                    });
                    continue;
                }
                if let (Some(w), Some(i)) = (&window, cursor) {
                    if !in_window(w, &values[i]) {
                        continue;
                    }
                }
                batch.push_row(values.drain(..));
                sent += 1;
                if batch.len() >= self.read.batch_rows {
                    let next = Batch::new(width, row + 1, self.read.batch_rows);
                    tx.send(std::mem::replace(&mut batch, next)).await?;
                }
                if self.read.limit.is_some_and(|l| sent >= l) {
                    return send_rest(&tx, batch).await;
                }
            }
            let info = PageInfo {
                url: &fetched.url,
                root,
                link_header: fetched.link.as_deref(),
                records: records.len(),
            };
            match pager
                .next(&info)
                .map_err(|e| self.fail(Some((page_no, &url)), e))?
            {
                None => break,
                Some(next) => {
                    url = next;
                    page_no += 1;
                }
            }
        }
        tracing::debug!(
            pages = page_no,
            rows = row,
            "Read {} records in {page_no} pages from {}.",
            row,
            self.client.show(&self.first)
        );
        send_rest(&tx, batch).await
    }

    fn fail(&self, page: Option<(u64, &Url)>, message: String) -> EtlError {
        let at = match page {
            Some((n, url)) => format!("page {n} (GET {})", self.client.show(url)),
            None => format!("GET {}", self.client.show(&self.first)),
        };
        EtlError::Other(
            self.client
                .secrets
                .mask(&format!("http_json {at}: {message}")),
        )
    }
}

async fn send_rest(tx: &BatchSender, batch: Batch) -> Result<()> {
    if !batch.is_empty() || !batch.rejects.is_empty() {
        tx.send(batch).await?;
    }
    Ok(())
}

/// The window's condition as SQL applies it: an open-ended (incremental) window keeps NULL
/// cursors for the load to count; a bounded one does not.
fn in_window(w: &CursorWindow, v: &Value) -> bool {
    match v {
        Value::Null => w.until.is_none(),
        v => w.contains(v),
    }
}

impl Fetched {
    pub fn root(&self) -> std::result::Result<&serde_json::value::RawValue, serde_json::Error> {
        serde_json::from_str(&self.body)
    }
}
