//! The REST query API: `GET query?q=SOQL` (or `queryAll` for deleted records), then each
//! `nextRecordsUrl` until `done`. One page (at most 2000 records) is held at a time.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::rows::{bad_value, from_json, Emitter};
use super::source::Read;
use crate::connectors::BatchSender;
use crate::data::Value;
use crate::error::{EtlError, Result};

#[derive(Deserialize)]
struct Page<'a> {
    done: bool,
    #[serde(rename = "nextRecordsUrl")]
    next: Option<String>,
    #[serde(borrow)]
    records: Vec<&'a RawValue>,
}

type Record<'a> = HashMap<&'a str, &'a RawValue>;

pub async fn read(r: &Read, tx: &BatchSender) -> Result<u64> {
    let cfg = &r.shared.cfg;
    let endpoint = if r.deleted { "queryAll" } else { "query" };
    let mut url = cfg.data_url(endpoint);
    url.query_pairs_mut().append_pair("q", &r.soql);
    let headers: Vec<(&str, String)> = cfg
        .page_size
        .map(|n| ("sforce-query-options", format!("batchSize={n}")))
        .into_iter()
        .collect();
    let mut out = Emitter::new(
        tx,
        r.plan.columns.len(),
        r.batch_rows,
        r.limit,
        r.window.clone(),
    );
    let mut seen = 0u64;
    let mut page_no = 1;
    loop {
        let what = format!("{endpoint} page {page_no}");
        let body = r
            .api
            .send(reqwest::Method::GET, &url, None, &headers)
            .await
            .map_err(|e| EtlError::Other(format!("{what}: {e}")))?
            .bytes()
            .await
            .map_err(|e| EtlError::Other(format!("{what}: {e}")))?;
        let page: Page = serde_json::from_slice(&body).map_err(|e| {
            EtlError::Other(format!("{what}: the answer is not a query result: {e}"))
        })?;
        for raw in &page.records {
            seen += 1;
            let rec: Record = serde_json::from_str(raw.get()).map_err(|e| {
                EtlError::Other(format!("{what}: record {seen} is not an object: {e}"))
            })?;
            let mut row = Vec::with_capacity(r.plan.columns.len());
            for c in &r.plan.columns {
                let v = value_at(&rec, &c.path)
                    .and_then(|raw| match raw {
                        None => Ok(Value::Null),
                        Some(raw) => from_json(raw, &c.data_type),
                    })
                    .map_err(|e| bad_value(&what, &c.name, seen, e))?;
                row.push(v);
            }
            if !out.push(row).await? {
                return out.finish().await;
            }
        }
        match (page.done, page.next) {
            (true, _) => break,
            (false, Some(next)) => {
                // A relative path on the instance: credentials never go elsewhere.
                url = cfg.base.join(&next).map_err(|e| {
                    EtlError::Other(format!(
                        "{what}: nextRecordsUrl '{next}' is not a path: {e}"
                    ))
                })?;
                if url.origin() != cfg.base.origin() {
                    return Err(EtlError::Other(format!(
                        "{what}: nextRecordsUrl points to another host; the read stops here"
                    )));
                }
            }
            (false, None) => {
                return Err(EtlError::Other(format!(
                    "{what}: the answer says more records follow but gives no nextRecordsUrl"
                )))
            }
        }
        page_no += 1;
    }
    out.finish().await
}

/// The value at `path` in a record: parent fields are nested objects, or null when the
/// lookup is empty.
fn value_at<'a>(
    rec: &Record<'a>,
    path: &[String],
) -> std::result::Result<Option<&'a RawValue>, String> {
    let Some(raw) = rec.get(path[0].as_str()).copied() else {
        return Err(format!("the record has no field {}", path[0]));
    };
    if path.len() == 1 {
        return Ok(Some(raw));
    }
    if raw.get().trim() == "null" {
        return Ok(None);
    }
    let parent: Record<'a> = serde_json::from_str(raw.get())
        .map_err(|e| format!("{} is not a parent record: {e}", path[0]))?;
    value_at(&parent, &path[1..])
}
