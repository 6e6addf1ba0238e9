//! Credentials on each request. Secrets come only from environment variables the options
//! name, are read when the source is first used (so `etl check` needs none of them), and are
//! registered with `Secrets` before anything can print them. An OAuth2 token is fetched once,
//! reused for the run, renewed shortly before it expires and replaced once after a 401.

use std::time::{Duration, Instant};

use serde::Deserialize;
use url::Url;

use super::mask::Secrets;
use super::options::Auth;
use super::paging::with_param;

enum Creds {
    None,
    Bearer(String),
    Basic {
        user: String,
        password: String,
    },
    ApiKey {
        name: String,
        in_query: bool,
        key: String,
    },
    OAuth2 {
        token_url: String,
        client_id: String,
        client_secret: String,
        scope: Option<String>,
    },
}

struct Token {
    value: String,
    renew_at: Option<Instant>,
}

pub struct Authenticator {
    creds: Creds,
    token: tokio::sync::Mutex<Option<Token>>,
}

fn env(var: &str, option: &str) -> Result<String, String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(format!(
            "auth option '{option}' names the environment variable {var}, which is not set (set it, or put it in .env)"
        )),
    }
}

impl Authenticator {
    pub fn new(auth: &Auth, secrets: &Secrets) -> Result<Authenticator, String> {
        let creds = match auth {
            Auth::None => Creds::None,
            Auth::Bearer { token_env } => {
                let t = env(token_env, "token_env")?;
                secrets.add(&t);
                Creds::Bearer(t)
            }
            Auth::Basic { user, password_env } => {
                let password = env(password_env, "password_env")?;
                secrets.add_basic(user, &password);
                Creds::Basic {
                    user: user.clone(),
                    password,
                }
            }
            Auth::ApiKey {
                name,
                in_query,
                key_env,
            } => {
                let key = env(key_env, "key_env")?;
                secrets.add(&key);
                Creds::ApiKey {
                    name: name.clone(),
                    in_query: *in_query,
                    key,
                }
            }
            Auth::OAuth2 {
                token_url,
                client_id_env,
                client_secret_env,
                scope,
            } => {
                let client_id = env(client_id_env, "client_id_env")?;
                let client_secret = env(client_secret_env, "client_secret_env")?;
                secrets.add(&client_secret);
                Creds::OAuth2 {
                    token_url: token_url.clone(),
                    client_id,
                    client_secret,
                    scope: scope.clone(),
                }
            }
        };
        Ok(Authenticator {
            creds,
            token: tokio::sync::Mutex::new(None),
        })
    }

    pub fn is_oauth2(&self) -> bool {
        matches!(self.creds, Creds::OAuth2 { .. })
    }

    /// The URL a request goes to: with the API key when it travels in the query.
    pub fn url(&self, url: &Url) -> Url {
        match &self.creds {
            Creds::ApiKey {
                name,
                in_query: true,
                key,
            } => with_param(url, name, key),
            _ => url.clone(),
        }
    }

    /// Adds the credentials' headers (sensitive: never shown by reqwest's own debug output).
    pub async fn apply(
        &self,
        http: &reqwest::Client,
        req: reqwest::RequestBuilder,
        secrets: &Secrets,
    ) -> Result<reqwest::RequestBuilder, String> {
        Ok(match &self.creds {
            Creds::None => req,
            Creds::Bearer(t) => req.bearer_auth(t),
            Creds::Basic { user, password } => req.basic_auth(user, Some(password)),
            Creds::ApiKey {
                name,
                in_query: false,
                key,
            } => {
                let mut v = reqwest::header::HeaderValue::from_str(key)
                    .map_err(|_| "the API key is not a valid header value".to_string())?;
                v.set_sensitive(true);
                req.header(name.as_str(), v)
            }
            Creds::ApiKey { .. } => req,
            Creds::OAuth2 { .. } => req.bearer_auth(self.token(http, secrets).await?),
        })
    }

    /// Forgets the OAuth2 token (the server refused it); the next request fetches another.
    pub async fn invalidate(&self) {
        *self.token.lock().await = None;
    }

    async fn token(&self, http: &reqwest::Client, secrets: &Secrets) -> Result<String, String> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref() {
            if t.renew_at.is_none_or(|at| Instant::now() < at) {
                return Ok(t.value.clone());
            }
        }
        let Creds::OAuth2 {
            token_url,
            client_id,
            client_secret,
            scope,
        } = &self.creds
        else {
            unreachable!("token() is for OAuth2")
        };
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.as_str()),
        ];
        if let Some(s) = scope {
            form.push(("scope", s.as_str()));
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let fail = |what: String| {
            secrets.mask(&format!(
                "OAuth2 token request to {token_url} failed: {what}"
            ))
        };
        let resp = http
            .post(token_url.as_str())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| fail(super::client::describe(&e)))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| fail(super::client::describe(&e)))?;
        if !status.is_success() {
            return Err(fail(format!(
                "HTTP {status}: {}",
                super::body::shorten(&text)
            )));
        }
        #[derive(Deserialize)]
        struct Reply {
            access_token: String,
            expires_in: Option<serde_json::Number>,
        }
        let reply: Reply = serde_json::from_str(&text)
            .map_err(|e| fail(format!("the reply has no access_token ({e})")))?;
        secrets.add(&reply.access_token);
        let lifetime = reply
            .expires_in
            .and_then(|n| n.as_f64())
            .filter(|s| *s > 0.0)
            .map(Duration::from_secs_f64);
        // Renewed before it expires: a minute early, or halfway for short-lived tokens.
        let renew_at = lifetime
            .map(|l| Instant::now() + l.saturating_sub((l / 2).min(Duration::from_secs(60))));
        let value = reply.access_token;
        *cached = Some(Token {
            value: value.clone(),
            renew_at,
        });
        tracing::debug!("Fetched an OAuth2 token from {token_url}.");
        Ok(value)
    }
}
