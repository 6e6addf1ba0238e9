//! Service-account credentials: the key file's RSA key signs a JWT grant (RS256, ring) that
//! the key's `token_uri` exchanges for an access token, kept until a minute before it expires.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::json;

use crate::connectors::jwt::Signer;

const SCOPE: &str = "https://www.googleapis.com/auth/bigquery";

#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: String,
    private_key: String,
    #[serde(default = "default_token_uri")]
    token_uri: String,
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".into()
}

pub struct Credentials {
    email: String,
    token_uri: String,
    signer: Signer,
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
}

impl Credentials {
    /// Reads the key file named by the URL, else by `GOOGLE_APPLICATION_CREDENTIALS`.
    pub fn load(path: Option<&str>) -> Result<Credentials, String> {
        let path = match path {
            Some(p) => p.to_string(),
            None => std::env::var("GOOGLE_APPLICATION_CREDENTIALS").map_err(|_| {
                "no credentials: add credentials=/path/key.json to the URL or set GOOGLE_APPLICATION_CREDENTIALS".to_string()
            })?,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "cannot read the service-account key file {path}: {e}; check credentials= in the URL or GOOGLE_APPLICATION_CREDENTIALS"
            )
        })?;
        let key: KeyFile = serde_json::from_str(&text)
            .map_err(|e| format!("{path} is not a service-account key file ({e}); download a JSON key for the service account"))?;
        if key.kind.as_deref().is_some_and(|k| k != "service_account") {
            return Err(format!(
                "{path} holds '{}' credentials; etl needs a service-account key file (type service_account)",
                key.kind.unwrap_or_default()
            ));
        }
        let signer =
            Signer::from_pem(&key.private_key).map_err(|e| format!("credentials {path}: {e}"))?;
        Ok(Credentials {
            email: key.client_email,
            token_uri: key.token_uri,
            signer,
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// A valid access token, fetched when there is none or it is about to expire.
    pub async fn token(&self, http: &reqwest::Client) -> Result<String, String> {
        let mut cached = self.token.lock().await;
        if let Some((t, until)) = cached.as_ref() {
            if Instant::now() < *until {
                return Ok(t.clone());
            }
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let assertion = self.signer.sign(&json!({
            "iss": self.email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + 3600,
        }))?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", &assertion)
            .finish();
        let resp = http
            .post(&self.token_uri)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "token request to {}: {}",
                    self.token_uri,
                    super::client::causes(&e.without_url())
                )
            })?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| e.without_url().to_string())?;
        let answer: serde_json::Value = serde_json::from_str(&text)
            .map_err(|_| format!("token request: HTTP {status} with no JSON"))?;
        let Some(token) = answer.get("access_token").and_then(|t| t.as_str()) else {
            let why = answer
                .get("error_description")
                .or_else(|| answer.get("error"))
                .and_then(|e| e.as_str())
                .unwrap_or("no access token in the answer");
            return Err(format!(
                "the service account {} was refused a token (HTTP {status}): {why}; check the key file and that the key is not disabled",
                self.email
            ));
        };
        let lifetime = answer
            .get("expires_in")
            .and_then(|e| e.as_u64())
            .unwrap_or(3600);
        let until = Instant::now() + Duration::from_secs(lifetime.saturating_sub(60));
        *cached = Some((token.to_string(), until));
        Ok(token.to_string())
    }
}
