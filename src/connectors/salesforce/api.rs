//! Requests to one org: the OAuth 2.0 token (one of three flows, secrets read from the
//! variables the URL names), the bearer header, gzip, and one new login when the session
//! expired (`INVALID_SESSION_ID`). The HTTP client is the `http_json` one's (reqwest on our
//! own rustls with ring). Every message is masked: no secret or token is ever shown.

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use url::Url;

use super::config::{Flow, SfConfig};
use super::jwt;
use crate::connectors::http::client::{describe as chain, tls_config};
use crate::dotenv::DotEnv;

pub struct Api {
    pub cfg: Arc<SfConfig>,
    http: reqwest::Client,
    env: Arc<DotEnv>,
    token: tokio::sync::Mutex<Option<String>>,
    /// Every secret and token seen, to mask in messages.
    secrets: Mutex<Vec<String>>,
}

/// A successful response whose body is read by the caller (JSON whole, CSV in chunks).
pub struct Reply {
    pub resp: reqwest::Response,
    gzip: bool,
}

impl Api {
    pub fn new(cfg: Arc<SfConfig>, env: Arc<DotEnv>) -> Result<Api, String> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .connect_timeout(std::time::Duration::from_secs(30))
            .read_timeout(cfg.timeout)
            // Tokens go to the instance only: no redirects to follow.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("etl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client setup: {}", chain(&e)))?;
        Ok(Api {
            cfg,
            http,
            env,
            token: tokio::sync::Mutex::new(None),
            secrets: Mutex::new(Vec::new()),
        })
    }

    /// `text` with every secret and token replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.secrets.lock().expect("secrets").iter() {
            if s.len() >= 4 {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }

    fn remember(&self, secret: &str) {
        self.secrets
            .lock()
            .expect("secrets")
            .push(secret.to_string());
    }

    /// The value of the variable an option names: the process environment, then `.env`.
    fn secret(&self, option: &str, var: &str) -> Result<String, String> {
        let value = std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| self.env.get(var).filter(|v| !v.is_empty()).map(str::to_string))
            .ok_or_else(|| {
                format!("{option}={var} names an environment variable that is not set (set it, or put it in .env)")
            })?;
        self.remember(&value);
        Ok(value)
    }

    /// A new access token from the token endpoint.
    async fn login(&self) -> Result<String, String> {
        let cfg = &self.cfg;
        let client_id = self.secret("client_id_env", &cfg.client_id_env)?;
        let optional = |o: &Option<String>, name: &str| -> Result<Option<String>, String> {
            o.as_ref().map(|v| self.secret(name, v)).transpose()
        };
        // Built apart: the serializer is not Send, and the request below is awaited.
        let (form, flow) = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            let flow = match &cfg.flow {
                Flow::ClientCredentials => {
                    let secret =
                        optional(&cfg.client_secret_env, "client_secret_env")?.unwrap_or_default();
                    form.append_pair("grant_type", "client_credentials")
                        .append_pair("client_id", &client_id)
                        .append_pair("client_secret", &secret);
                    "client_credentials"
                }
                Flow::RefreshToken => {
                    let token =
                        optional(&cfg.refresh_token_env, "refresh_token_env")?.unwrap_or_default();
                    form.append_pair("grant_type", "refresh_token")
                        .append_pair("client_id", &client_id)
                        .append_pair("refresh_token", &token);
                    if let Some(secret) = optional(&cfg.client_secret_env, "client_secret_env")? {
                        form.append_pair("client_secret", &secret);
                    }
                    "refresh_token"
                }
                Flow::Jwt { username, audience } => {
                    let pem =
                        optional(&cfg.private_key_env, "private_key_env")?.unwrap_or_default();
                    let key = jwt::key_from_pem(&pem).map_err(|e| {
                        format!(
                            "private_key_env={}: {e}",
                            cfg.private_key_env.as_deref().unwrap_or_default()
                        )
                    })?;
                    let assertion = jwt::assertion(
                        &key,
                        &client_id,
                        username,
                        audience,
                        chrono::Utc::now().timestamp(),
                    )?;
                    self.remember(&assertion);
                    form.append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
                        .append_pair("assertion", &assertion);
                    "jwt"
                }
            };
            (form.finish(), flow)
        };
        let resp = self
            .http
            .post(cfg.token_url.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "login (flow={flow}) at {}: {}",
                    cfg.token_url,
                    self.mask(&chain(&e))
                )
            })?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if !status.is_success() {
            let what = match (json["error"].as_str(), json["error_description"].as_str()) {
                (Some(e), Some(d)) => format!("{e}: {d}"),
                _ => shorten(body.trim()),
            };
            return Err(self.mask(&format!(
                "login (flow={flow}) at {} was refused (HTTP {status}: {what}); check the connected app and the variables the URL names ({})",
                cfg.token_url,
                self.variables()
            )));
        }
        let token = json["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                format!(
                    "login (flow={flow}) at {}: the answer has no access_token",
                    cfg.token_url
                )
            })?
            .to_string();
        self.remember(&token);
        Ok(token)
    }

    /// "client_id_env=SF_ID, client_secret_env=SF_SECRET": names only.
    fn variables(&self) -> String {
        let c = &self.cfg;
        let mut v = vec![format!("client_id_env={}", c.client_id_env)];
        for (k, o) in [
            ("client_secret_env", &c.client_secret_env),
            ("refresh_token_env", &c.refresh_token_env),
            ("private_key_env", &c.private_key_env),
        ] {
            if let Some(name) = o {
                v.push(format!("{k}={name}"));
            }
        }
        v.join(", ")
    }

    async fn token(&self) -> Result<String, String> {
        let mut t = self.token.lock().await;
        if let Some(t) = t.as_ref() {
            return Ok(t.clone());
        }
        let new = self.login().await?;
        *t = Some(new.clone());
        Ok(new)
    }

    /// Drops `used` unless another request already replaced it.
    async fn expire(&self, used: &str) {
        let mut t = self.token.lock().await;
        if t.as_deref() == Some(used) {
            *t = None;
        }
    }

    /// Sends a request with the session; a 401 `INVALID_SESSION_ID` logs in once more and
    /// sends it again. Any other failure is an error with Salesforce's own words.
    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        json: Option<&serde_json::Value>,
        headers: &[(&str, String)],
    ) -> Result<Reply, String> {
        let what = format!("{method} {}", url.path());
        let mut relogged = false;
        loop {
            let token = self.token().await?;
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(&token)
                .header("accept-encoding", "gzip")
                .header("accept", "application/json, text/csv");
            for (k, v) in headers {
                req = req.header(*k, v.as_str());
            }
            if let Some(body) = json {
                req = req
                    .header("content-type", "application/json")
                    .body(body.to_string());
            }
            let resp = req
                .send()
                .await
                .map_err(|e| self.mask(&format!("{what}: {}", chain(&e))))?;
            let gzip = resp
                .headers()
                .get("content-encoding")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
            let status = resp.status();
            if status.is_success() {
                return Ok(Reply { resp, gzip });
            }
            let body = Reply { resp, gzip }.bytes().await.unwrap_or_default();
            let body = String::from_utf8_lossy(&body).into_owned();
            if status.as_u16() == 401 && body.contains("INVALID_SESSION_ID") && !relogged {
                // The session expired (or was revoked) mid-read: one new login, then a 401 is final.
                tracing::info!("{what}: the Salesforce session expired; logging in again.");
                relogged = true;
                self.expire(&token).await;
                continue;
            }
            return Err(self.mask(&format!("{what}: HTTP {status}: {}", error_text(&body))));
        }
    }

    /// GETs JSON (the whole body, gunzipped).
    pub async fn get_json(&self, url: &Url) -> Result<Vec<u8>, String> {
        let what = format!("GET {}", url.path());
        self.send(Method::GET, url, None, &[])
            .await?
            .bytes()
            .await
            .map_err(|e| self.mask(&format!("{what}: {e}")))
    }
}

impl Reply {
    /// The whole body, gunzipped when sent compressed.
    pub async fn bytes(self) -> Result<Vec<u8>, String> {
        let gzip = self.gzip;
        let raw = self
            .resp
            .bytes()
            .await
            .map_err(|e| format!("the body was cut off: {}", chain(&e)))?;
        if !gzip {
            return Ok(raw.to_vec());
        }
        let mut d = Gunzip::default();
        let mut out = d.feed(&raw)?;
        out.extend(d.finish()?);
        Ok(out)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.resp
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The next piece of the body, gunzipped; None at its end. A connection closed before
    /// the announced end is an error, never a short result.
    pub async fn chunk(&mut self, gunzip: &mut Gunzip) -> Result<Option<Vec<u8>>, String> {
        match self.resp.chunk().await {
            Err(e) => Err(format!("the result was cut off: {}", chain(&e))),
            Ok(None) if self.gzip => match gunzip.finish()? {
                out if out.is_empty() => Ok(None),
                out => Ok(Some(out)),
            },
            Ok(None) => Ok(None),
            Ok(Some(bytes)) if self.gzip => gunzip.feed(&bytes).map(Some),
            Ok(Some(bytes)) => Ok(Some(bytes.to_vec())),
        }
    }
}

/// Gzip decoded piece by piece, so a large result is never held whole.
pub struct Gunzip {
    d: Option<flate2::write::GzDecoder<Vec<u8>>>,
}

impl Default for Gunzip {
    fn default() -> Self {
        Gunzip {
            d: Some(flate2::write::GzDecoder::new(Vec::new())),
        }
    }
}

impl Gunzip {
    fn feed(&mut self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let d = self.d.as_mut().ok_or("gzip data after its end")?;
        d.write_all(bytes)
            .map_err(|e| format!("the gzip body is broken: {e}"))?;
        Ok(std::mem::take(d.get_mut()))
    }

    fn finish(&mut self) -> Result<Vec<u8>, String> {
        match self.d.take() {
            None => Ok(Vec::new()),
            Some(d) => d
                .finish()
                .map_err(|e| format!("the gzip body ends early: {e}")),
        }
    }
}

/// Salesforce's error list (`[{"message": ..., "errorCode": ...}]`) as one line.
fn error_text(body: &str) -> String {
    if let Ok(serde_json::Value::Array(items)) = serde_json::from_str(body) {
        let parts: Vec<String> = items
            .iter()
            .map(|i| {
                format!(
                    "{} {}",
                    i["errorCode"].as_str().unwrap_or_default(),
                    i["message"].as_str().unwrap_or_default()
                )
                .trim()
                .to_string()
            })
            .collect();
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    shorten(body.trim())
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 300 {
        format!("{}...", s.chars().take(300).collect::<String>())
    } else {
        s.to_string()
    }
}
