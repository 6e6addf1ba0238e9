//! `salesforce://HOST?api=v61.0&flow=...`: what a connection URL may say. Secrets are never
//! in it: the URL names environment variables (`client_secret_env=SF_SECRET`), and a secret
//! written in the URL itself is refused before anything else is read.

use std::time::Duration;

use url::Url;

/// How the connection logs in (OAuth 2.0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flow {
    /// A connected app's own credentials (`client_id_env`, `client_secret_env`).
    ClientCredentials,
    /// A JWT bearer assertion signed with the app's private key (`private_key_env`, PEM),
    /// for `username`.
    Jwt { username: String, audience: String },
    /// A refresh token from an earlier authorisation (`refresh_token_env`).
    RefreshToken,
}

#[derive(Clone, Debug)]
pub struct SfConfig {
    /// `https://HOST` (or `http://` on a loopback host with `tls=false`, for local servers).
    pub base: Url,
    /// Where tokens come from: the instance unless `login_host=` says otherwise.
    pub token_url: Url,
    /// `v61.0`
    pub api: String,
    pub flow: Flow,
    pub client_id_env: String,
    pub client_secret_env: Option<String>,
    pub refresh_token_env: Option<String>,
    pub private_key_env: Option<String>,
    /// Records per REST page (`Sforce-Query-Options: batchSize`), 200 to 2000.
    pub page_size: Option<u32>,
    /// How often a Bulk API 2.0 job's state is asked for.
    pub poll: Duration,
    /// Records per Bulk result set request (`maxRecords`); the server's default when None.
    pub bulk_max_records: Option<u64>,
    /// How long a Bulk job may take before the load gives up and aborts it.
    pub bulk_timeout: Duration,
    pub timeout: Duration,
}

/// URL options that would carry a secret; refused with the `_env` option to use instead.
const SECRET_OPTIONS: &[&str] = &[
    "client_secret",
    "refresh_token",
    "private_key",
    "password",
    "access_token",
    "token",
    "secret",
    "client_id",
];

const OPTIONS: &[&str] = &[
    "api",
    "flow",
    "client_id_env",
    "client_secret_env",
    "refresh_token_env",
    "private_key_env",
    "username",
    "audience",
    "login_host",
    "tls",
    "page_size",
    "poll_seconds",
    "bulk_max_records",
    "bulk_timeout_seconds",
    "timeout_seconds",
];

pub const EXAMPLE: &str =
    "salesforce://MYDOMAIN.my.salesforce.com?flow=client_credentials&client_id_env=SF_CLIENT_ID&client_secret_env=SF_CLIENT_SECRET";

impl SfConfig {
    pub fn parse(text: &str) -> Result<SfConfig, String> {
        let url = Url::parse(text).map_err(|e| format!("not a salesforce:// URL: {e}"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("a user or secret written in the URL is refused: name environment variables instead (client_id_env=, client_secret_env=, ...)".into());
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("the URL names no host: salesforce://MYDOMAIN.my.salesforce.com?...")?
            .to_string();
        let mut get = std::collections::BTreeMap::new();
        for (k, v) in url.query_pairs() {
            let k = k.to_ascii_lowercase();
            if SECRET_OPTIONS.contains(&k.as_str()) {
                return Err(format!(
                    "'{k}=' would put a secret in the URL, which shows in configuration files and logs; \
                     put it in an environment variable and write {k}_env=VARIABLE"
                ));
            }
            if !OPTIONS.contains(&k.as_str()) {
                return Err(format!(
                    "unknown option '{k}' (known: {})",
                    OPTIONS.join(", ")
                ));
            }
            get.insert(k, v.into_owned());
        }
        let take = |k: &str| get.get(k).cloned();
        let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]" | "::1");
        let scheme = match take("tls").as_deref() {
            None | Some("true") => "https",
            Some("false") if loopback => "http",
            Some("false") => {
                return Err(
                    "tls=false is only for a local test server on a loopback host; Salesforce is reached over TLS"
                        .into(),
                )
            }
            Some(v) => return Err(format!("tls must be true or false, not '{v}'")),
        };
        let origin = |h: &str| -> Result<Url, String> {
            Url::parse(&format!("{scheme}://{h}/")).map_err(|e| format!("host '{h}': {e}"))
        };
        let hostport = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let base = origin(&hostport)?;
        let token_url = origin(take("login_host").as_deref().unwrap_or(&hostport))?
            .join("services/oauth2/token")
            .map_err(|e| e.to_string())?;
        let api = take("api").unwrap_or_else(|| "v61.0".into());
        let valid_api = api
            .strip_prefix('v')
            .and_then(|n| n.split_once('.'))
            .is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit())
            });
        if !valid_api {
            return Err(format!("api must look like v61.0, not '{api}'"));
        }
        let need = |k: &str, why: &str| -> Result<String, String> {
            take(k).ok_or_else(|| {
                format!("{why} needs {k}=VARIABLE (the environment variable holding it)")
            })
        };
        let flow_name = take("flow").unwrap_or_else(|| "client_credentials".into());
        let client_id_env = need("client_id_env", &format!("flow={flow_name}"))?;
        let flow = match flow_name.as_str() {
            "client_credentials" => {
                need("client_secret_env", "flow=client_credentials")?;
                Flow::ClientCredentials
            }
            "jwt" => {
                need("private_key_env", "flow=jwt")?;
                let username = take("username")
                    .ok_or("flow=jwt needs username= (the user the token is for)")?;
                let audience =
                    take("audience").unwrap_or_else(|| "https://login.salesforce.com".into());
                Flow::Jwt { username, audience }
            }
            "refresh_token" => {
                need("refresh_token_env", "flow=refresh_token")?;
                Flow::RefreshToken
            }
            other => {
                return Err(format!(
                    "flow must be client_credentials, jwt or refresh_token, not '{other}'"
                ))
            }
        };
        let number = |k: &str| -> Result<Option<f64>, String> {
            take(k)
                .map(|v| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|n| n.is_finite() && *n >= 0.0)
                        .ok_or(format!("{k} must be a number, not '{v}'"))
                })
                .transpose()
        };
        let page_size = match number("page_size")? {
            None => None,
            Some(n) if (200.0..=2000.0).contains(&n) => Some(n as u32),
            Some(n) => return Err(format!("page_size must be from 200 to 2000, not {n}")),
        };
        Ok(SfConfig {
            base,
            token_url,
            api,
            flow,
            client_id_env,
            client_secret_env: take("client_secret_env"),
            refresh_token_env: take("refresh_token_env"),
            private_key_env: take("private_key_env"),
            page_size,
            poll: Duration::from_secs_f64(number("poll_seconds")?.unwrap_or(2.0).max(0.01)),
            bulk_max_records: number("bulk_max_records")?.map(|n| n.max(1.0) as u64),
            bulk_timeout: Duration::from_secs_f64(
                number("bulk_timeout_seconds")?.unwrap_or(3600.0).max(1.0),
            ),
            timeout: Duration::from_secs_f64(number("timeout_seconds")?.unwrap_or(120.0).max(1.0)),
        })
    }

    /// `https://HOST/services/data/v61.0/` + `rest`.
    pub fn data_url(&self, rest: &str) -> Url {
        self.base
            .join(&format!("services/data/{}/{rest}", self.api))
            .expect("a relative path joins")
    }

    /// The instance without anything secret, for messages ("salesforce HOST (v61.0)").
    pub fn display(&self) -> String {
        format!(
            "salesforce {} ({})",
            self.base.host_str().unwrap_or_default(),
            self.api
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_variables_and_never_holds_a_secret() {
        let c = SfConfig::parse(
            "salesforce://acme.my.salesforce.com?client_id_env=ID&client_secret_env=SECRET",
        )
        .unwrap();
        assert_eq!(c.flow, Flow::ClientCredentials);
        assert_eq!(
            c.data_url("query").as_str(),
            "https://acme.my.salesforce.com/services/data/v61.0/query"
        );
        assert_eq!(
            c.token_url.as_str(),
            "https://acme.my.salesforce.com/services/oauth2/token"
        );
        for bad in [
            "salesforce://acme.my.salesforce.com?client_id_env=ID&client_secret=hunter2",
            "salesforce://me:hunter2@acme.my.salesforce.com?client_id_env=ID&client_secret_env=S",
        ] {
            let e = SfConfig::parse(bad).unwrap_err();
            assert!(e.contains("refused") || e.contains("secret"), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
        let e = SfConfig::parse(
            "salesforce://h.example.com?client_id_env=ID&flow=jwt&private_key_env=K",
        )
        .unwrap_err();
        assert!(e.contains("username="), "{e}");
        let e = SfConfig::parse(
            "salesforce://h.example.com?client_id_env=ID&client_secret_env=S&tls=false",
        )
        .unwrap_err();
        assert!(e.contains("loopback"), "{e}");
        let c = SfConfig::parse("salesforce://127.0.0.1:9999?client_id_env=ID&flow=refresh_token&refresh_token_env=R&tls=false&api=v60.0").unwrap();
        assert_eq!(
            c.data_url("x").as_str(),
            "http://127.0.0.1:9999/services/data/v60.0/x"
        );
    }
}
