//! BigQuery's REST API: `jobs.query` and paged `jobs.getQueryResults`, with the access token
//! of the service account. Pages come back as bytes, parsed by the caller with borrowed cells.

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value as Json};

use super::auth::Credentials;
use super::config::Settings;
use super::rows::Row;
use super::types::Field;
use crate::data::Value;

pub struct Client {
    http: reqwest::Client,
    pub settings: Settings,
    creds: tokio::sync::OnceCell<Credentials>,
}

#[derive(Deserialize)]
pub struct Page<'a> {
    #[serde(borrow, default)]
    pub rows: Vec<Row<'a>>,
    #[serde(rename = "pageToken", default)]
    pub page_token: Option<String>,
    #[serde(rename = "jobComplete", default)]
    pub job_complete: Option<bool>,
    #[serde(default)]
    pub schema: Option<TableSchema>,
    #[serde(rename = "jobReference", default)]
    pub job: Option<JobRef>,
    #[serde(default)]
    pub errors: Option<Vec<ErrorProto>>,
    #[serde(rename = "statementType", default)]
    pub statement_type: Option<String>,
    #[serde(rename = "numDmlAffectedRows", default)]
    pub dml_rows: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct TableSchema {
    #[serde(default)]
    pub fields: Vec<Field>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct JobRef {
    #[serde(rename = "projectId")]
    pub project: String,
    #[serde(rename = "jobId", default)]
    pub job_id: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ErrorProto {
    #[serde(default)]
    pub message: String,
}

impl<'a> Page<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Page<'a>, String> {
        let page: Page = serde_json::from_slice(body)
            .map_err(|e| format!("a result page etl cannot read: {e}"))?;
        if let Some(errors) = page.errors.as_ref().filter(|e| !e.is_empty()) {
            let msgs: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
            return Err(msgs.join("; "));
        }
        Ok(page)
    }
}

impl Client {
    pub fn new(settings: Settings, timeout: Option<Duration>) -> Result<Client, String> {
        let mut b = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::connectors::http::tls_config()?)
            .connect_timeout(Duration::from_secs(30))
            .user_agent(concat!("etl/", env!("CARGO_PKG_VERSION")));
        if let Some(t) = timeout {
            b = b.read_timeout(t);
        }
        let http = b.build().map_err(|e| format!("HTTP client setup: {e}"))?;
        Ok(Client {
            http,
            settings,
            creds: tokio::sync::OnceCell::new(),
        })
    }

    async fn token(&self) -> Result<String, String> {
        let creds = self
            .creds
            .get_or_try_init(|| async { Credentials::load(self.settings.credentials.as_deref()) })
            .await?;
        creds.token(&self.http).await
    }

    /// `jobs.query`: the first page (or the job, when it has not finished yet).
    pub async fn query(
        &self,
        sql: &str,
        params: &[(String, Value)],
        dry_run: bool,
    ) -> Result<Bytes, String> {
        let s = &self.settings;
        let mut body = json!({
            "query": sql,
            "useLegacySql": false,
            "maxResults": s.page_rows,
            "timeoutMs": 10_000,
            "dryRun": dry_run,
            "defaultDataset": { "projectId": s.project, "datasetId": s.dataset },
            "formatOptions": { "useInt64Timestamp": true },
        });
        if let Some(l) = &s.location {
            body["location"] = json!(l);
        }
        if !params.is_empty() {
            body["parameterMode"] = json!("NAMED");
            body["queryParameters"] = Json::Array(
                params
                    .iter()
                    .map(|(n, v)| parameter(n, v))
                    .collect::<Result<_, _>>()?,
            );
        }
        let url = format!("{}/bigquery/v2/projects/{}/queries", s.api, s.project);
        let token = self.token().await?;
        let req = self
            .http
            .post(url)
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        self.send(req).await
    }

    /// `jobs.getQueryResults`: the page after `page_token` (the first without one).
    pub async fn results(&self, job: &JobRef, page_token: Option<&str>) -> Result<Bytes, String> {
        let s = &self.settings;
        let id = job
            .job_id
            .as_deref()
            .ok_or("the query returned no job to page through")?;
        let mut url = url::Url::parse(&format!(
            "{}/bigquery/v2/projects/{}/queries/{}",
            s.api, job.project, id
        ))
        .map_err(|e| e.to_string())?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("maxResults", &s.page_rows.to_string());
            q.append_pair("timeoutMs", "10000");
            q.append_pair("formatOptions.useInt64Timestamp", "true");
            if let Some(t) = page_token {
                q.append_pair("pageToken", t);
            }
            if let Some(l) = job.location.as_ref().or(s.location.as_ref()) {
                q.append_pair("location", l);
            }
        }
        let token = self.token().await?;
        self.send(self.http.get(url).bearer_auth(token)).await
    }

    /// A GET of the REST resource at `segments` under `/bigquery/v2/projects/` (each segment
    /// percent-encoded), with `query`; `None` when it is not there (HTTP 404).
    pub async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Option<Bytes>, String> {
        let s = &self.settings;
        let mut url = url::Url::parse(&format!("{}/bigquery/v2/projects", s.api))
            .map_err(|e| format!("api={}: {e}", s.api))?;
        url.path_segments_mut()
            .map_err(|_| format!("api={} is not an http(s) URL", s.api))?
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let token = self.token().await?;
        let (status, body) = self.exchange(self.http.get(url).bearer_auth(token)).await?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Self::checked(status, body).map(Some)
    }

    /// The answer's body as received (one copy of the page: it is parsed in place).
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Bytes, String> {
        let (status, body) = self.exchange(req).await?;
        Self::checked(status, body)
    }

    async fn exchange(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, Bytes), String> {
        let resp = req.send().await.map_err(|e| {
            format!(
                "cannot reach {}: {}; check the network (and api= in the URL)",
                self.settings.api,
                causes(&e.without_url())
            )
        })?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| e.without_url().to_string())?;
        Ok((status, body))
    }

    /// The body of a successful answer, else the error BigQuery gave.
    fn checked(status: reqwest::StatusCode, body: Bytes) -> Result<Bytes, String> {
        if status.is_success() {
            return Ok(body);
        }
        let message = serde_json::from_slice::<Json>(&body)
            .ok()
            .and_then(|j| j["error"]["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
        Err(format!("HTTP {status}: {message}"))
    }
}

/// An error with its causes ("error sending request: connection refused").
pub(super) fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(c) = next {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = c.source();
    }
    out
}

/// A named query parameter with BigQuery's type for the value.
fn parameter(name: &str, v: &Value) -> Result<Json, String> {
    let (t, value) = match v {
        Value::Null => ("STRING", Json::Null),
        Value::Bool(b) => ("BOOL", json!(b.to_string())),
        Value::Int16(n) => ("INT64", json!(n.to_string())),
        Value::Int32(n) => ("INT64", json!(n.to_string())),
        Value::Int64(n) => ("INT64", json!(n.to_string())),
        Value::Float32(f) => ("FLOAT64", json!(f.to_string())),
        Value::Float64(f) => ("FLOAT64", json!(f.to_string())),
        Value::Decimal(d) if d.integer_digits() <= 29 && d.scale() <= 9 => {
            ("NUMERIC", json!(d.as_str()))
        }
        Value::Decimal(d) => ("BIGNUMERIC", json!(d.as_str())),
        Value::Text(s) => ("STRING", json!(s)),
        Value::Json(s) => ("JSON", json!(s)),
        Value::Uuid(u) => ("STRING", json!(u.to_string())),
        Value::Date(d) => ("DATE", json!(d.to_string())),
        Value::Time(t) => ("TIME", json!(t.format("%H:%M:%S%.f").to_string())),
        Value::Timestamp(t) => (
            "DATETIME",
            json!(t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
        ),
        Value::TimestampTz(t) => (
            "TIMESTAMP",
            json!(t.format("%Y-%m-%d %H:%M:%S%.f+00").to_string()),
        ),
        Value::Bytes(b) => (
            "BYTES",
            json!(base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                b
            )),
        ),
        other => {
            return Err(format!(
                ":{name}: cannot bind a {other:?} value to a BigQuery parameter"
            ))
        }
    };
    Ok(json!({
        "name": name,
        "parameterType": { "type": t },
        "parameterValue": { "value": value },
    }))
}
