//! What the script asked for: `http_json(url, #{ ... })` as plain data. The script API
//! (`script/api/http.rs`) fills it in; nothing here knows Rhai.

use std::time::Duration;

use crate::data::DataType;

#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub url: String,
    /// Where the records are in each page: `$.data.items`; `$` for a page that is the array.
    pub records: String,
    /// Query parameters added to the first request (and kept on offset/page/cursor pages).
    pub query: Vec<(String, QueryValue)>,
    /// Extra request headers (never secrets: those come through `auth`).
    pub headers: Vec<(String, String)>,
    /// Declared column types; the other columns are inferred from the first page.
    pub columns: Vec<(String, DataType)>,
    pub paging: Paging,
    pub auth: Auth,
    pub retry: RetryPolicy,
    /// At most this many requests per second (0: no limit).
    pub max_requests_per_second: f64,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Records looked at to infer types (the first page at most).
    pub infer_rows: usize,
}

/// A query parameter's value: text, or the load window's lower / upper bound.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryValue {
    Text(String),
    /// `":since"`: the watermark; the parameter is left out when the window has no lower end.
    Since,
    /// `":until"`: the upper end of a backfill window.
    Until,
}

/// How the next page is found.
#[derive(Clone, Debug, PartialEq)]
pub enum Paging {
    /// One request.
    None,
    /// A URL in a body field (`$.links.next`), absolute or relative to the page's.
    NextField { path: String },
    /// `Link: <...>; rel="next"`.
    LinkHeader,
    /// A token in a body field, sent back as the query parameter `param`.
    Cursor { path: String, param: String },
    /// `offset=N&limit=SIZE`, the offset advanced by the records that came back.
    Offset {
        param: String,
        limit_param: String,
        size: u64,
    },
    /// `page=N` (from `start`), optionally with `per_page=SIZE`.
    Page {
        param: String,
        start: u64,
        size_param: Option<String>,
        size: Option<u64>,
    },
}

/// Credentials, each read from an environment variable the options name.
#[derive(Clone, Debug, PartialEq)]
pub enum Auth {
    None,
    Bearer {
        token_env: String,
    },
    Basic {
        user: String,
        password_env: String,
    },
    ApiKey {
        name: String,
        in_query: bool,
        key_env: String,
    },
    OAuth2 {
        token_url: String,
        client_id_env: String,
        client_secret_env: String,
        scope: Option<String>,
    },
}

impl Auth {
    pub fn is_none(&self) -> bool {
        matches!(self, Auth::None)
    }
}

/// Retries of transient failures: 429, 5xx, connection errors, timeouts, cut bodies.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Tries after the first.
    pub retries: u32,
    /// The first back-off; each next one doubles.
    pub initial: Duration,
    /// No back-off is longer; a `Retry-After` beyond it fails at once.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 5,
            initial: Duration::from_millis(500),
            max_wait: Duration::from_secs(60),
        }
    }
}

impl HttpOptions {
    pub fn new(url: &str) -> HttpOptions {
        HttpOptions {
            url: url.to_string(),
            records: "$".into(),
            query: Vec::new(),
            headers: Vec::new(),
            columns: Vec::new(),
            paging: Paging::None,
            auth: Auth::None,
            retry: RetryPolicy::default(),
            max_requests_per_second: 0.0,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            infer_rows: 10_000,
        }
    }

    /// True when a query parameter binds the load window: the source then filters by it.
    pub fn binds_window(&self) -> bool {
        self.query
            .iter()
            .any(|(_, v)| matches!(v, QueryValue::Since | QueryValue::Until))
    }
}
