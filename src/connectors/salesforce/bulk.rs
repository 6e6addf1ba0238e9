//! Bulk API 2.0 query jobs for large objects: create the job, poll its state, then read its
//! CSV result sets one after the other by `Sforce-Locator`, parsed as they arrive (a result
//! set is never held whole). The job is deleted after a read, and aborted first when the read
//! fails. A result set with fewer records than `Sforce-NumberOfRecords` says (a cut
//! connection) fails the read.

use std::time::Instant;

use reqwest::Method;
use serde_json::json;

use super::api::Gunzip;
use super::rows::{bad_value, from_text, Emitter};
use super::source::Read;
use crate::connectors::BatchSender;
use crate::data::Value;
use crate::error::{EtlError, Result};

pub async fn read(r: &Read, tx: &BatchSender) -> Result<u64> {
    let api = &r.api;
    let jobs = r.shared.cfg.data_url("jobs/query");
    let operation = if r.deleted { "queryAll" } else { "query" };
    let body = json!({
        "operation": operation,
        "query": r.soql,
        "contentType": "CSV",
        "columnDelimiter": "COMMA",
        "lineEnding": "LF",
    });
    let created = api
        .send(Method::POST, &jobs, Some(&body), &[])
        .await
        .and_then_async_json()
        .await
        .map_err(|e| EtlError::Other(format!("creating the Bulk API 2.0 {operation} job: {e}")))?;
    let id = created["id"]
        .as_str()
        .filter(|id| id.bytes().all(|c| c.is_ascii_alphanumeric()) && !id.is_empty())
        .ok_or_else(|| EtlError::Other("the Bulk API answered without a job id".into()))?
        .to_string();
    tracing::info!("Salesforce Bulk API 2.0 job {id} ({operation}) created.");
    let job = r.shared.cfg.data_url(&format!("jobs/query/{id}"));
    let guard = AbortOnDrop {
        api: Some(r.api.clone()),
        job: job.clone(),
    };
    let result = run_job(r, tx, &id).await;
    guard.disarm();
    if result.is_err() {
        // A failed or cut read must not leave the job running in the org.
        let abort = json!({ "state": "Aborted" });
        if let Err(e) = api.send(Method::PATCH, &job, Some(&abort), &[]).await {
            tracing::debug!("aborting Bulk job {id}: {e}");
        }
    }
    if let Err(e) = api.send(Method::DELETE, &job, None, &[]).await {
        tracing::warn!("Bulk API 2.0 job {id} could not be deleted ({e}); delete it in Setup > Bulk Data Load Jobs.");
    }
    result.map_err(|e| match e {
        EtlError::Other(m) => EtlError::Other(format!("Bulk API 2.0 job {id}: {m}")),
        e => e,
    })
}

/// A cancelled run drops the read mid-job: the job is then aborted and deleted on the
/// runtime, so it does not keep running in the org.
struct AbortOnDrop {
    api: Option<std::sync::Arc<super::api::Api>>,
    job: url::Url,
}

impl AbortOnDrop {
    fn disarm(mut self) {
        self.api = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        let (Some(api), Ok(rt)) = (self.api.take(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        let job = self.job.clone();
        rt.spawn(async move {
            let abort = json!({ "state": "Aborted" });
            let _ = api.send(Method::PATCH, &job, Some(&abort), &[]).await;
            let _ = api.send(Method::DELETE, &job, None, &[]).await;
        });
    }
}

async fn run_job(r: &Read, tx: &BatchSender, id: &str) -> Result<u64> {
    let cfg = &r.shared.cfg;
    let job = cfg.data_url(&format!("jobs/query/{id}"));
    let started = Instant::now();
    loop {
        let state = r
            .api
            .send(Method::GET, &job, None, &[])
            .await
            .and_then_async_json()
            .await
            .map_err(|e| EtlError::Other(format!("asking for the job's state: {e}")))?;
        match state["state"].as_str().unwrap_or_default() {
            "JobComplete" => break,
            "Failed" | "Aborted" => {
                return Err(EtlError::Other(format!(
                    "the job ended {}: {}",
                    state["state"].as_str().unwrap_or_default(),
                    state["errorMessage"].as_str().unwrap_or("no reason given")
                )))
            }
            _ if started.elapsed() > cfg.bulk_timeout => {
                return Err(EtlError::Other(format!(
                    "the job did not finish within bulk_timeout_seconds = {} (it is aborted)",
                    cfg.bulk_timeout.as_secs()
                )))
            }
            _ => tokio::time::sleep(cfg.poll).await,
        }
    }
    let mut out = Emitter::new(
        tx,
        r.plan.columns.len(),
        r.batch_rows,
        r.limit,
        r.window.clone(),
    );
    let mut locator: Option<String> = None;
    let mut set = 1;
    loop {
        let mut url = cfg.data_url(&format!("jobs/query/{id}/results"));
        {
            let mut q = url.query_pairs_mut();
            if let Some(l) = &locator {
                q.append_pair("locator", l);
            }
            if let Some(n) = cfg.bulk_max_records {
                q.append_pair("maxRecords", &n.to_string());
            }
        }
        let what = format!("result set {set}");
        let reply = r
            .api
            .send(Method::GET, &url, None, &[])
            .await
            .map_err(|e| EtlError::Other(format!("{what}: {e}")))?;
        let next = reply.header("sforce-locator");
        let announced = reply
            .header("sforce-numberofrecords")
            .and_then(|n| n.trim().parse::<u64>().ok());
        let got = read_set(r, reply, &mut out, &what).await?;
        if !out.wants_more() {
            break;
        }
        if let Some(n) = announced {
            if n != got {
                return Err(EtlError::Other(format!(
                    "{what}: {got} records arrived but Sforce-NumberOfRecords says {n}: the result was cut off; nothing of it is loaded"
                )));
            }
        }
        match next.as_deref().map(str::trim) {
            None | Some("") | Some("null") => break,
            Some(l) => locator = Some(l.to_string()),
        }
        set += 1;
    }
    out.finish().await
}

/// One result set's CSV, parsed chunk by chunk; returns its records.
async fn read_set(
    r: &Read,
    mut reply: super::api::Reply,
    out: &mut Emitter<'_>,
    what: &str,
) -> Result<u64> {
    let fail = |m: String| EtlError::Other(format!("{what}: {m}"));
    let mut csv = csv_core::Reader::new();
    let mut gunzip = Gunzip::default();
    let mut field_buf = vec![0u8; 64 * 1024];
    let mut ends = vec![0usize; 256];
    let (mut used, mut nends) = (0usize, 0usize);
    // Column position of each CSV field, from the header.
    let mut order: Option<Vec<Option<usize>>> = None;
    let mut records = 0u64;
    let mut finished = false;
    while !finished {
        let chunk = reply.chunk(&mut gunzip).await.map_err(fail)?;
        let ended = chunk.is_none();
        let data = chunk.unwrap_or_default();
        let mut input: &[u8] = &data;
        loop {
            // An empty input tells the reader the CSV has ended: only at the body's end.
            if input.is_empty() && !ended {
                break;
            }
            // End positions count from the record's start, across calls.
            let (res, nin, nout, nend) =
                csv.read_record(input, &mut field_buf[used..], &mut ends[nends..]);
            input = &input[nin..];
            used += nout;
            nends += nend;
            use csv_core::ReadRecordResult::*;
            match res {
                InputEmpty if ended => {
                    // The end of the body: let the reader close the last record.
                    continue_end(&mut csv, &mut field_buf, &mut used, &mut ends, &mut nends);
                    if nends > 0 {
                        records += take_record(
                            r,
                            out,
                            &mut order,
                            &field_buf,
                            &ends[..nends],
                            records,
                            what,
                        )
                        .await?;
                        used = 0;
                        nends = 0;
                    }
                    finished = true;
                    break;
                }
                InputEmpty => break,
                OutputFull => field_buf.resize(field_buf.len() * 2, 0),
                OutputEndsFull => ends.resize(ends.len() * 2, 0),
                Record => {
                    records += take_record(
                        r,
                        out,
                        &mut order,
                        &field_buf,
                        &ends[..nends],
                        records,
                        what,
                    )
                    .await?;
                    used = 0;
                    nends = 0;
                    if !out.wants_more() {
                        return Ok(records);
                    }
                }
                End => {
                    finished = true;
                    break;
                }
            }
        }
    }
    Ok(records)
}

/// Ends the CSV reader's input, completing a last record without a line break.
fn continue_end(
    csv: &mut csv_core::Reader,
    buf: &mut Vec<u8>,
    used: &mut usize,
    ends: &mut Vec<usize>,
    nends: &mut usize,
) {
    loop {
        let (res, _, nout, nend) = csv.read_record(&[], &mut buf[*used..], &mut ends[*nends..]);
        *used += nout;
        *nends += nend;
        match res {
            csv_core::ReadRecordResult::OutputFull => buf.resize(buf.len() * 2, 0),
            csv_core::ReadRecordResult::OutputEndsFull => ends.resize(ends.len() * 2, 0),
            _ => return,
        }
    }
}

/// The header (first record) or one data record; returns 1 for a data record.
async fn take_record(
    r: &Read,
    out: &mut Emitter<'_>,
    order: &mut Option<Vec<Option<usize>>>,
    buf: &[u8],
    ends: &[usize],
    records: u64,
    what: &str,
) -> Result<u64> {
    let fields = ends.iter().scan(0usize, |start, &end| {
        let f = &buf[*start..end];
        *start = end;
        Some(f)
    });
    let Some(order) = order.as_ref() else {
        let header: Vec<String> = fields
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        let map = header
            .iter()
            .map(|h| {
                r.plan
                    .columns
                    .iter()
                    .position(|c| c.path.join(".").eq_ignore_ascii_case(h.trim()))
            })
            .collect::<Vec<_>>();
        for c in &r.plan.columns {
            let p = c.path.join(".");
            if !header.iter().any(|h| h.trim().eq_ignore_ascii_case(&p)) {
                return Err(EtlError::Other(format!(
                    "{what}: the CSV header has no column {p} ({})",
                    header.join(",")
                )));
            }
        }
        *order = Some(map);
        return Ok(0);
    };
    let record = records + 1;
    let mut row = vec![Value::Null; r.plan.columns.len()];
    let mut n = 0;
    for (f, slot) in fields.zip(order.iter()) {
        n += 1;
        let Some(i) = slot else { continue };
        // Salesforce keeps no empty strings: an empty field is NULL.
        if f.is_empty() {
            continue;
        }
        let c = &r.plan.columns[*i];
        let text = std::str::from_utf8(f)
            .map_err(|_| bad_value(what, &c.name, record, "not UTF-8".into()))?;
        row[*i] = from_text(text, &c.data_type).map_err(|e| bad_value(what, &c.name, record, e))?;
    }
    if n != order.len() {
        return Err(EtlError::Other(format!(
            "{what}: record {record} has {n} fields, the header {} (the result is damaged or cut off)",
            order.len()
        )));
    }
    out.push(row).await?;
    Ok(1)
}

/// The JSON body of a reply.
trait JsonReply {
    async fn and_then_async_json(self) -> std::result::Result<serde_json::Value, String>;
}

impl JsonReply for std::result::Result<super::api::Reply, String> {
    async fn and_then_async_json(self) -> std::result::Result<serde_json::Value, String> {
        let body = self?.bytes().await?;
        serde_json::from_slice(&body).map_err(|e| format!("the answer is not JSON: {e}"))
    }
}
