//! `bigquery://PROJECT/DATASET?credentials=KEY.json&location=EU` parsed into settings; nothing
//! connects here. Without `credentials=` the key file named by `GOOGLE_APPLICATION_CREDENTIALS`
//! is used (read on first use, so `etl check` needs neither).

use crate::connectors::url::{percent_decode, Url};

#[derive(Clone, Debug)]
pub struct Settings {
    pub project: String,
    pub dataset: String,
    /// The service-account key file; None: `GOOGLE_APPLICATION_CREDENTIALS` at first use.
    pub credentials: Option<String>,
    pub location: Option<String>,
    /// `https://bigquery.googleapis.com` unless `api=` says otherwise (an emulator).
    pub api: String,
    /// Rows per page of results.
    pub page_rows: usize,
    pub display: String,
}

pub fn parse(url: &str) -> Result<Settings, String> {
    let example = "bigquery://PROJECT/DATASET?credentials=/path/key.json";
    let u = Url::parse(url).ok_or_else(|| format!("not a URL (expected {example})"))?;
    if u.user.is_some() {
        return Err(format!(
            "a BigQuery URL holds no user or password; credentials come from a service-account key file (expected {example})"
        ));
    }
    let project = percent_decode(u.host);
    let dataset = u.path.map(percent_decode).unwrap_or_default();
    if project.is_empty() || dataset.is_empty() || dataset.contains('/') {
        return Err(format!("expected {example}"));
    }
    let (mut credentials, mut location, mut api) = (None, None, None);
    let mut page_rows = 10_000;
    for p in &u.params {
        let value = p.value.map(percent_decode).unwrap_or_default();
        match p.key {
            "credentials" => credentials = Some(value),
            "location" => location = Some(value),
            "api" => api = Some(value.trim_end_matches('/').to_string()),
            "page_rows" => {
                page_rows = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or_else(|| format!("page_rows={value}: expected 1 to 100000"))?
            }
            other => {
                return Err(format!(
                    "unknown URL parameter '{other}' (known: credentials, location, api, page_rows)"
                ))
            }
        }
    }
    Ok(Settings {
        display: format!("{project}/{dataset}"),
        project,
        dataset,
        credentials,
        location,
        api: api.unwrap_or_else(|| "https://bigquery.googleapis.com".into()),
        page_rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_dataset_and_options() {
        let s = parse("bigquery://my-proj/raw?credentials=%2Fk%2Fsa.json&location=EU").unwrap();
        assert_eq!((s.project.as_str(), s.dataset.as_str()), ("my-proj", "raw"));
        assert_eq!(s.credentials.as_deref(), Some("/k/sa.json"));
        assert_eq!(s.api, "https://bigquery.googleapis.com");
        assert!(parse("bigquery://u:pw@p/d")
            .unwrap_err()
            .contains("key file"));
        assert!(parse("bigquery://p").is_err());
        assert!(parse("bigquery://p/d?x=1").is_err());
    }
}
