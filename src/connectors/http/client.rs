//! One GET, tried again on transient failures: reqwest on our own rustls configuration (ring,
//! the Mozilla roots from webpki-roots; no aws-lc, no OpenSSL), paced to the configured
//! request rate, every message masked.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use url::Url;

use super::auth::Authenticator;
use super::mask::Secrets;
use super::options::HttpOptions;
use super::retry;

/// A page as it arrived.
pub struct Fetched {
    pub url: Url,
    pub link: Option<String>,
    pub body: String,
}

pub struct Client {
    http: reqwest::Client,
    opts: Arc<HttpOptions>,
    pub secrets: Secrets,
    auth: Authenticator,
    origin: url::Origin,
    last_request: tokio::sync::Mutex<Option<Instant>>,
}

/// Why one try failed, and whether another may succeed.
enum Failure {
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    Fatal(String),
}

impl Client {
    pub fn new(opts: Arc<HttpOptions>, base: &Url) -> Result<Client, String> {
        let secrets = Secrets::default();
        let auth = Authenticator::new(&opts.auth, &secrets)?;
        let guarded = !opts.auth.is_none();
        let origin = base.origin();
        let redirect_origin = origin.clone();
        // With credentials, a redirect to another host would hand them over: refused.
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 10 {
                attempt.error("more than 10 redirects")
            } else if guarded && attempt.url().origin() != redirect_origin {
                let to = attempt.url().origin().ascii_serialization();
                attempt.error(format!(
                    "redirected to another host ({to}); credentials are only sent to {}",
                    redirect_origin.ascii_serialization()
                ))
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .connect_timeout(opts.connect_timeout)
            .read_timeout(opts.read_timeout)
            .redirect(policy)
            .user_agent(concat!("etl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client setup: {}", describe(&e)))?;
        Ok(Client {
            http,
            opts,
            secrets,
            auth,
            origin,
            last_request: tokio::sync::Mutex::new(None),
        })
    }

    /// `url` with its credentials hidden, for messages.
    pub fn show(&self, url: &Url) -> String {
        self.secrets.mask(url.as_str())
    }

    /// GETs `url`, retrying transient failures as the options say. Errors are masked.
    pub async fn get(&self, url: &Url) -> Result<Fetched, String> {
        if !self.opts.auth.is_none() && url.origin() != self.origin {
            return Err(format!(
                "the next page is on another host ({}); credentials are only sent to {}, so the read stops here",
                url.origin().ascii_serialization(),
                self.origin.ascii_serialization()
            ));
        }
        let mut attempt = 0u32;
        let mut replaced_token = false;
        loop {
            let failure = match self.try_get(url).await {
                Ok(f) => return Ok(f),
                Err(f) => f,
            };
            let (reason, retry_after) = match failure {
                Failure::Fatal(reason)
                    if reason.starts_with("HTTP 401")
                        && self.auth.is_oauth2()
                        && !replaced_token =>
                {
                    // An expired or revoked token: one new token, then a 401 is final.
                    replaced_token = true;
                    self.auth.invalidate().await;
                    continue;
                }
                Failure::Fatal(reason) => return Err(self.secrets.mask(&reason)),
                Failure::Transient {
                    reason,
                    retry_after,
                } => (self.secrets.mask(&reason), retry_after),
            };
            attempt += 1;
            let policy = &self.opts.retry;
            if attempt > policy.retries {
                return Err(format!(
                    "{reason} (gave up after {} tries; raise retries to try longer)",
                    attempt
                ));
            }
            let wait = match retry_after {
                Some(w) if w > policy.max_wait => {
                    return Err(format!(
                        "{reason}, and the server asks to wait {}s (Retry-After), longer than retry_max_wait_seconds = {}",
                        w.as_secs(),
                        policy.max_wait.as_secs()
                    ))
                }
                Some(w) => w,
                None => retry::backoff(policy, attempt),
            };
            tracing::warn!(
                "GET {}: {reason}; trying again in {:.1}s (retry {attempt} of {}).",
                self.show(url),
                wait.as_secs_f64(),
                policy.retries
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn try_get(&self, url: &Url) -> Result<Fetched, Failure> {
        // Paced before the credentials: a token checked after the wait is fresh when sent.
        self.pace().await;
        let target = self.auth.url(url);
        let mut req = self.http.get(target).header("accept", "application/json");
        for (k, v) in &self.opts.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let req = self
            .auth
            .apply(&self.http, req, &self.secrets)
            .await
            .map_err(Failure::Fatal)?;
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_redirect() => return Err(Failure::Fatal(describe(&e))),
            Err(e) => {
                return Err(Failure::Transient {
                    reason: describe(&e),
                    retry_after: None,
                })
            }
        };
        let status = resp.status();
        let link = resp
            .headers()
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::retry_after(v, SystemTime::now()));
        let final_url = resp.url().clone();
        let body = match resp.text().await {
            Ok(b) => b,
            Err(e) => {
                return Err(Failure::Transient {
                    reason: format!("the body was cut off: {}", describe(&e)),
                    retry_after: None,
                })
            }
        };
        if !status.is_success() {
            let reason = format!("HTTP {status}: {}", super::body::shorten(body.trim()));
            return Err(if retry::transient_status(status.as_u16()) {
                Failure::Transient {
                    reason,
                    retry_after,
                }
            } else {
                Failure::Fatal(reason)
            });
        }
        // A body that ends mid-value came through a cut connection without a length.
        if let Err(e) = serde_json::from_str::<&serde_json::value::RawValue>(&body) {
            let reason = format!("the body is not JSON: {e}");
            return Err(if e.is_eof() {
                Failure::Transient {
                    reason: format!("the body was cut off ({e})"),
                    retry_after: None,
                }
            } else {
                Failure::Fatal(reason)
            });
        }
        Ok(Fetched {
            url: final_url,
            link: (!link.is_empty()).then_some(link),
            body,
        })
    }

    /// Waits until the next request keeps to `max_requests_per_second`.
    async fn pace(&self) {
        let rps = self.opts.max_requests_per_second;
        if rps <= 0.0 {
            return;
        }
        let gap = Duration::from_secs_f64(1.0 / rps);
        let mut last = self.last_request.lock().await;
        if let Some(at) = *last {
            let due = at + gap;
            let now = Instant::now();
            if due > now {
                tokio::time::sleep(due - now).await;
            }
        }
        *last = Some(Instant::now());
    }
}

/// An error with its causes ("error sending request: connection refused").
pub fn describe(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// TLS as the PostgreSQL connector does it: rustls with the ring provider, the Mozilla roots.
pub(crate) fn tls_config() -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS setup: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
