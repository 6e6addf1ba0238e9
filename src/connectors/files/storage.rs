//! `[env.NAME.storage.NAME]` in etl.toml: per-environment settings of an object store that
//! replace the standard environment variables' (endpoint, region, plain HTTP, credentials).
//! Credentials are named by variable, never written in the file (as for SMTP's password).
//!
//! A section applies to the URLs that start with its `url` (`"s3://lake"`), the longest such
//! prefix winning; a section without `url` applies to every URL of the scheme it is named
//! after (`[env.prod.storage.s3]`).

use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// The URLs the section applies to (`s3://lake`, `gs://bucket/prefix`).
    pub url: Option<String>,
    /// S3-compatible or Azure endpoint; GCS base URL.
    pub endpoint: Option<String>,
    /// S3 region.
    pub region: Option<String>,
    /// Allows a plain `http://` endpoint (local test servers).
    pub allow_http: Option<bool>,
    /// S3: the variables holding the access key, its secret and a session token.
    pub access_key_id_env: Option<String>,
    pub secret_access_key_env: Option<String>,
    pub session_token_env: Option<String>,
    /// GCS: the variable holding a service account's JSON key.
    pub service_account_key_env: Option<String>,
    /// Azure: the storage account (not a secret) and the variable holding its access key.
    pub account: Option<String>,
    pub access_key_env: Option<String>,
}

/// A section with its credentials read from their variables.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Storage {
    /// The section's name, for messages.
    pub name: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub allow_http: Option<bool>,
    pub account: Option<String>,
    /// (what, value): `access_key_id`, `secret_access_key`, `session_token`,
    /// `service_account_key`, `access_key`.
    pub secrets: Vec<(&'static str, String)>,
}

impl Storage {
    pub fn secret(&self, what: &str) -> Option<&str> {
        self.secrets
            .iter()
            .find(|(w, _)| *w == what)
            .map(|(_, v)| v.as_str())
    }
}

/// The section for `url` among `sections`, credentials read with `var`; Err names the section
/// and the variable that is not set.
pub fn resolve<'a>(
    sections: impl IntoIterator<Item = (&'a String, &'a StorageSection)>,
    url: &str,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<Storage>, String> {
    let scheme = url.split_once("://").map_or("", |(s, _)| s);
    let mut best: Option<(usize, &String, &StorageSection)> = None;
    for (name, section) in sections {
        let rank = match &section.url {
            Some(prefix) if url.starts_with(prefix.trim_end_matches('/')) => prefix.len() + 1,
            Some(_) => continue,
            None if name == scheme => 0,
            None => continue,
        };
        if best.is_none_or(|(r, _, _)| rank > r) {
            best = Some((rank, name, section));
        }
    }
    let Some((_, name, s)) = best else {
        return Ok(None);
    };
    let mut secrets = Vec::new();
    for (what, env) in [
        ("access_key_id", &s.access_key_id_env),
        ("secret_access_key", &s.secret_access_key_env),
        ("session_token", &s.session_token_env),
        ("service_account_key", &s.service_account_key_env),
        ("access_key", &s.access_key_env),
    ] {
        if let Some(env) = env {
            let value = var(env).ok_or_else(|| {
                format!("[storage.{name}] {what}_env names the variable {env}, which is not set (in the environment or .env)")
            })?;
            secrets.push((what, value));
        }
    }
    Ok(Some(Storage {
        name: name.clone(),
        endpoint: s.endpoint.clone(),
        region: s.region.clone(),
        allow_http: s.allow_http,
        account: s.account.clone(),
        secrets,
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn the_longest_url_prefix_wins_then_the_scheme_and_secrets_come_from_variables() {
        let sections: BTreeMap<String, StorageSection> = toml::from_str(
            r#"
            [s3]
            region = "eu-west-1"
            [lake]
            url = "s3://lake"
            endpoint = "http://127.0.0.1:9000"
            allow_http = true
            access_key_id_env = "LAKE_KEY"
            secret_access_key_env = "LAKE_SECRET"
            [gcs]
            url = "gs://events/"
            service_account_key_env = "GCS_KEY"
            "#,
        )
        .unwrap();
        let var = |n: &str| (n != "GCS_KEY").then(|| format!("value of {n}"));
        let lake = resolve(&sections, "s3://lake/raw/*.csv", var)
            .unwrap()
            .unwrap();
        assert_eq!(lake.name, "lake");
        assert_eq!(lake.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(
            lake.secret("secret_access_key"),
            Some("value of LAKE_SECRET")
        );
        let other = resolve(&sections, "s3://other/x.csv", var)
            .unwrap()
            .unwrap();
        assert_eq!(
            (other.name.as_str(), other.region.as_deref()),
            ("s3", Some("eu-west-1"))
        );
        assert_eq!(resolve(&sections, "az://c/x.csv", var).unwrap(), None);
        let err = resolve(&sections, "gs://events/a.parquet", var).unwrap_err();
        assert_eq!(
            err,
            "[storage.gcs] service_account_key_env names the variable GCS_KEY, which is not set (in the environment or .env)"
        );
    }
}
