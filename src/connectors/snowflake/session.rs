//! The Snowflake connector protocol the official drivers speak (and fakesnow's server
//! implements): `login-request` for a session token, `query-request` for each statement,
//! results as base64 Arrow inline plus result chunks on presigned URLs. Reqwest on the
//! project's rustls configuration (ring; no OpenSSL).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};
use sha2::Digest;

use super::config::{Auth, Settings};
use super::types::RowType;
use crate::connectors::jwt::Signer;
use crate::data::Value;

/// A logged-in session: its token and the HTTP client that carries it.
pub struct Session {
    http: reqwest::Client,
    base: String,
    token: String,
    sequence: AtomicU64,
    /// One statement at a time per session: tasks of a run share the connection, and
    /// fakesnow's sessions refuse concurrent statements. Chunk downloads do not take it.
    busy: tokio::sync::Mutex<()>,
}

/// One statement's response.
#[derive(Debug, Default, Deserialize)]
pub struct QueryData {
    #[serde(default)]
    pub rowtype: Vec<RowType>,
    #[serde(rename = "rowsetBase64", default)]
    pub rowset_base64: Option<String>,
    /// JSON results (what DML returns: the affected row counts).
    #[serde(default)]
    pub rowset: Option<Vec<Vec<Option<String>>>>,
    #[serde(default)]
    pub chunks: Vec<Chunk>,
    #[serde(rename = "chunkHeaders", default)]
    pub chunk_headers: Option<Map<String, Json>>,
    /// The key of result chunks encrypted with SSE-C, when there are no chunk headers.
    #[serde(default)]
    pub qrmk: Option<String>,
    #[serde(rename = "statementTypeId", default)]
    pub statement_type_id: Option<i64>,
    #[serde(default)]
    pub total: Option<u64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Chunk {
    pub url: String,
}

/// Statement type ids: 0x1000 is a SELECT (Snowflake's documented ranges).
pub fn is_select(type_id: Option<i64>) -> bool {
    matches!(type_id, Some(t) if (0x1000..0x2000).contains(&t))
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: Option<T>,
    #[serde(default)]
    success: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

pub fn client(timeout: Option<Duration>) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .tls_backend_preconfigured(crate::connectors::http::tls_config()?)
        .connect_timeout(Duration::from_secs(30))
        .user_agent(concat!("etl/", env!("CARGO_PKG_VERSION")));
    if let Some(t) = timeout {
        b = b.read_timeout(t);
    }
    b.build().map_err(|e| format!("HTTP client setup: {e}"))
}

fn failure<T>(env: Envelope<T>, what: &str) -> String {
    let code = env.code.map(|c| format!(" (code {c})")).unwrap_or_default();
    format!(
        "{what} failed{code}: {}",
        env.message.unwrap_or_else(|| "no message".into())
    )
}

/// A reqwest error without the URL (it may carry a presigned signature).
fn http_error(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg
}

impl Session {
    /// Logs in with the password or a key-pair JWT.
    pub async fn login(s: &Settings, timeout: Option<Duration>) -> Result<Session, String> {
        let http = client(timeout)?;
        let mut data = json!({
            "CLIENT_APP_ID": "etl",
            "CLIENT_APP_VERSION": env!("CARGO_PKG_VERSION"),
            "ACCOUNT_NAME": s.account,
            "LOGIN_NAME": s.user,
            // UTC sessions: TIMESTAMP_LTZ values and bound instants mean the same everywhere.
            "SESSION_PARAMETERS": { "TIMEZONE": "UTC", "QUERY_RESULT_FORMAT": "ARROW" },
        });
        match &s.auth {
            Auth::Password(p) => data["PASSWORD"] = json!(p),
            Auth::KeyPair { pem_file } => {
                data["AUTHENTICATOR"] = json!("SNOWFLAKE_JWT");
                data["TOKEN"] = json!(key_pair_jwt(s, pem_file)?);
            }
        }
        let mut url = url::Url::parse(&format!("{}/session/v1/login-request", s.base_url))
            .map_err(|e| format!("bad host: {e}"))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("databaseName", &s.database);
            if let Some(schema) = &s.schema {
                q.append_pair("schemaName", schema);
            }
            if let Some(w) = &s.warehouse {
                q.append_pair("warehouse", w);
            }
            if let Some(r) = &s.role {
                q.append_pair("roleName", r);
            }
            q.append_pair("requestId", &uuid::Uuid::new_v4().to_string());
        }
        let resp = http
            .post(url)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .body(json!({ "data": data }).to_string())
            .send()
            .await
            .map_err(|e| format!("cannot reach {}: {}", s.base_url, http_error(e)))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(http_error)?;
        let env: Envelope<Json> = serde_json::from_slice(&body)
            .map_err(|_| format!("login: the server answered HTTP {status} with no JSON"))?;
        if !env.success {
            return Err(failure(env, "login") + " (check the user, the password or the key registered with ALTER USER .. SET RSA_PUBLIC_KEY)");
        }
        let token = env
            .data
            .as_ref()
            .and_then(|d| d.get("token"))
            .and_then(Json::as_str)
            .ok_or("login: the answer holds no session token")?
            .to_string();
        Ok(Session {
            http,
            base: s.base_url.clone(),
            token,
            sequence: AtomicU64::new(0),
            busy: tokio::sync::Mutex::new(()),
        })
    }

    /// Runs one statement with positional bindings (`?`). `describe_only` asks for the
    /// statement's type and columns without running it.
    pub async fn query(
        &self,
        sql: &str,
        binds: &[Value],
        describe_only: bool,
    ) -> Result<QueryData, String> {
        let mut bindings = Map::new();
        for (i, v) in binds.iter().enumerate() {
            bindings.insert((i + 1).to_string(), binding(v)?);
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let mut body = json!({
            "sqlText": sql,
            "asyncExec": false,
            "sequenceId": self.sequence.fetch_add(1, Ordering::Relaxed) + 1,
            "querySubmissionTime": now,
            "describeOnly": describe_only,
        });
        if !bindings.is_empty() {
            body["bindings"] = Json::Object(bindings);
        }
        let url = format!(
            "{}/queries/v1/query-request?requestId={}",
            self.base,
            uuid::Uuid::new_v4()
        );
        let _turn = self.busy.lock().await;
        let resp = self
            .http
            .post(url)
            .header(
                "Authorization",
                format!("Snowflake Token=\"{}\"", self.token),
            )
            .header("Accept", "application/snowflake")
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("cannot reach {}: {}", self.base, http_error(e)))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(http_error)?;
        let env: Envelope<QueryData> = serde_json::from_slice(&bytes).map_err(|e| {
            format!("the server answered HTTP {status} with a response etl cannot read: {e}")
        })?;
        if !env.success {
            return Err(failure(env, "the statement"));
        }
        env.data.ok_or_else(|| "the answer holds no data".into())
    }

    /// Downloads one result chunk as it is sent (an Arrow IPC stream, gzip'd or not: see
    /// [`is_gzip`]). A gzip'd chunk stays compressed until it is decoded, so the chunks
    /// fetched ahead of the decoder cost their compressed size.
    pub async fn chunk(&self, data: &QueryData, chunk: &Chunk) -> Result<Vec<u8>, String> {
        let mut req = self.http.get(&chunk.url);
        match (&data.chunk_headers, &data.qrmk) {
            (Some(h), _) => {
                for (k, v) in h {
                    if let Some(v) = v.as_str() {
                        req = req.header(k.as_str(), v);
                    }
                }
            }
            (None, Some(key)) => {
                req = req
                    .header("x-amz-server-side-encryption-customer-algorithm", "AES256")
                    .header("x-amz-server-side-encryption-customer-key", key.as_str());
            }
            _ => {}
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| format!("downloading a result chunk failed: {}", http_error(e)))?;
        if !resp.status().is_success() {
            return Err(format!(
                "downloading a result chunk: HTTP {}",
                resp.status()
            ));
        }
        // Collected frame by frame into one buffer of the announced size (`bytes()` would
        // hold the frames and their copy at once).
        let announced = resp.content_length().unwrap_or(0).min(MAX_PRESIZE) as usize;
        let mut body = Vec::with_capacity(announced);
        while let Some(frame) = resp.chunk().await.map_err(http_error)? {
            body.extend_from_slice(&frame);
        }
        Ok(body)
    }
}

/// The most a chunk's announced length reserves up front (a larger chunk grows as it arrives).
const MAX_PRESIZE: u64 = 256 * 1024 * 1024;

/// Whether a result chunk is gzip'd (Snowflake compresses chunks unless the storage already
/// decompressed them, so the body says which).
pub fn is_gzip(body: &[u8]) -> bool {
    body.starts_with(&[0x1f, 0x8b])
}

/// A bound value as Snowflake's `{type, value}` (values travel as text).
fn binding(v: &Value) -> Result<Json, String> {
    let (t, value) = match v {
        Value::Null => ("TEXT", Json::Null),
        Value::Bool(b) => ("BOOLEAN", json!(b.to_string())),
        Value::Int16(n) => ("FIXED", json!(n.to_string())),
        Value::Int32(n) => ("FIXED", json!(n.to_string())),
        Value::Int64(n) => ("FIXED", json!(n.to_string())),
        Value::Float32(f) => ("REAL", json!(f.to_string())),
        Value::Float64(f) => ("REAL", json!(f.to_string())),
        Value::Decimal(d) => ("TEXT", json!(d.as_str())),
        Value::Text(s) | Value::Json(s) => ("TEXT", json!(s)),
        Value::Uuid(u) => ("TEXT", json!(u.to_string())),
        Value::Date(d) => {
            let ms = d
                .and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
                .timestamp_millis();
            ("DATE", json!(ms.to_string()))
        }
        Value::Time(t) => {
            use chrono::Timelike;
            let ns = t.num_seconds_from_midnight() as i64 * 1_000_000_000 + t.nanosecond() as i64;
            ("TIME", json!(ns.to_string()))
        }
        Value::Timestamp(ts) => (
            "TIMESTAMP_NTZ",
            json!(epoch_nanos(
                ts.and_utc().timestamp(),
                ts.and_utc().timestamp_subsec_nanos()
            )),
        ),
        // An instant with offset 0 (Snowflake writes offsets as minutes + 1440).
        Value::TimestampTz(ts) => (
            "TIMESTAMP_TZ",
            json!(format!(
                "{} 1440",
                epoch_nanos(ts.timestamp(), ts.timestamp_subsec_nanos())
            )),
        ),
        Value::Bytes(b) => (
            "BINARY",
            json!(b.iter().map(|x| format!("{x:02X}")).collect::<String>()),
        ),
        other => {
            return Err(format!(
                "cannot bind a {other:?} value to a Snowflake parameter"
            ))
        }
    };
    Ok(json!({ "type": t, "value": value }))
}

fn epoch_nanos(secs: i64, nanos: u32) -> String {
    (secs as i128 * 1_000_000_000 + nanos as i128).to_string()
}

/// The key-pair login token: issuer `ACCOUNT.USER.SHA256:<fingerprint of the public key>`,
/// valid for a minute (it is used once, at login).
fn key_pair_jwt(s: &Settings, pem_file: &str) -> Result<String, String> {
    let pem = std::fs::read_to_string(pem_file)
        .map_err(|e| format!("private_key_file {pem_file}: {e}"))?;
    let signer = Signer::from_pem(&pem).map_err(|e| format!("private_key_file {pem_file}: {e}"))?;
    let fingerprint = STANDARD.encode(sha2::Sha256::digest(signer.public_key_spki()));
    // Snowflake compares the account without its region suffix, upper case.
    let account = s
        .account
        .split('.')
        .next()
        .unwrap_or(&s.account)
        .to_ascii_uppercase();
    let user = s.user.to_ascii_uppercase();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    signer.sign(&json!({
        "iss": format!("{account}.{user}.SHA256:{fingerprint}"),
        "sub": format!("{account}.{user}"),
        "iat": now,
        "exp": now + 60,
    }))
}

/// The base64 Arrow of the first part of a result (empty when there are no inline rows).
pub fn inline_arrow(data: &QueryData) -> Result<Vec<u8>, String> {
    match data.rowset_base64.as_deref() {
        None | Some("") => Ok(Vec::new()),
        Some(b64) => STANDARD
            .decode(b64)
            .map_err(|e| format!("the inline result is not base64: {e}")),
    }
}
