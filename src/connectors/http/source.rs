//! `http_json` as a `Source` on the connector seam. The client (and with it the secrets) is
//! made on first use, so declaring the source needs no credentials; the first page typed the
//! columns and is not fetched twice.

use std::sync::{Arc, Mutex, OnceLock};

use url::Url;

use super::body::{records, JsonPath};
use super::client::{Client, Fetched};
use super::columns::infer_schema;
use super::mask::MASK;
use super::options::{Auth, HttpOptions, QueryValue};
use super::paging::{with_param, Pager};
use super::read::PageLoop;
use crate::connectors::{BatchStream, CursorWindow, Io, ReadOptions, Source, SourceStatement};
use crate::data::{Schema, Value};
use crate::error::{EtlError, Result};

pub struct HttpSource {
    opts: Arc<HttpOptions>,
    base: Url,
    client: OnceLock<Arc<Client>>,
    schema: OnceLock<Schema>,
    /// The page fetched to type the columns, for the read that starts at the same URL.
    first_page: Mutex<Option<Fetched>>,
}

impl HttpSource {
    /// Checks the URL and the paths; nothing is fetched until the rows are needed.
    pub fn new(opts: HttpOptions) -> std::result::Result<HttpSource, String> {
        let base =
            Url::parse(&opts.url).map_err(|e| format!("'{}' is not a URL: {e}", opts.url))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(format!("'{}' is not an http:// or https:// URL", opts.url));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(
                "credentials in the URL would show in logs; use auth: #{ type: \"basic\", user: ..., password_env: ... }"
                    .into(),
            );
        }
        JsonPath::parse(&opts.records).map_err(|e| format!("records: {e}"))?;
        Pager::new(&opts.paging)?;
        Ok(HttpSource {
            opts: Arc::new(opts),
            base,
            client: OnceLock::new(),
            schema: OnceLock::new(),
            first_page: Mutex::new(None),
        })
    }

    fn client(&self) -> Result<Arc<Client>> {
        if let Some(c) = self.client.get() {
            return Ok(c.clone());
        }
        let c = Client::new(self.opts.clone(), &self.base)
            .map_err(|e| EtlError::Config(format!("{}: {e}", self.describe())))?;
        Ok(self.client.get_or_init(|| Arc::new(c)).clone())
    }

    /// The first request's URL: the query options (the window bound where they ask for it),
    /// then the paging parameters, all through the URL query serializer.
    fn first_url(&self, window: Option<&CursorWindow>) -> Url {
        let mut url = self.base.clone();
        for (name, v) in &self.opts.query {
            let value = match v {
                QueryValue::Text(t) => Some(t.clone()),
                QueryValue::Since => window.and_then(|w| w.since.as_ref()).map(query_text),
                QueryValue::Until => window.and_then(|w| w.until.as_ref()).map(query_text),
            };
            if let Some(value) = value {
                url = with_param(&url, name, &value);
            }
        }
        let pager = Pager::new(&self.opts.paging).expect("checked in new");
        for (name, value) in pager.first_params() {
            url = with_param(&url, &name, &value);
        }
        url
    }

    fn fetch_first(&self, io: &Io, client: &Client, url: &Url) -> Result<Fetched> {
        let cached = self.first_page.lock().expect("first page").take();
        if let Some(f) = cached.filter(|f| f.url == *url) {
            return Ok(f);
        }
        io.block_on(async {
            client.get(url).await.map_err(|e| {
                EtlError::Other(format!("http_json page 1 (GET {}): {e}", client.show(url)))
            })
        })
    }

    /// Columns typed from `page` (declared types win); an error when the page has no records.
    fn schema_from(&self, client: &Client, page: &Fetched) -> Result<Schema> {
        let fail = |e: String| {
            EtlError::Other(client.secrets.mask(&format!(
                "http_json page 1 (GET {}): {e}",
                client.show(&page.url)
            )))
        };
        let root = page.root().map_err(|e| fail(format!("not JSON: {e}")))?;
        let path = JsonPath::parse(&self.opts.records).map_err(fail)?;
        let recs = records(root, &path).map_err(fail)?;
        let sample = &recs[..recs.len().min(self.opts.infer_rows.max(1))];
        infer_schema(sample, &self.opts.columns).map_err(fail)
    }
}

/// A window bound as an API expects it in a query: ISO 8601 (`2024-01-31T10:00:00Z`).
fn query_text(v: &Value) -> String {
    match v {
        Value::TimestampTz(t) => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        Value::Timestamp(t) => t.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
        v => v.to_text().unwrap_or_default(),
    }
}

impl Source for HttpSource {
    fn describe(&self) -> String {
        format!("http_json {}", self.base)
    }

    fn schema(&self, io: &Io) -> Result<Schema> {
        if let Some(s) = self.schema.get() {
            return Ok(s.clone());
        }
        let client = self.client()?;
        let url = self.first_url(None);
        let page = self.fetch_first(io, &client, &url)?;
        let schema = self.schema_from(&client, &page)?;
        *self.first_page.lock().expect("first page") = Some(page);
        Ok(self.schema.get_or_init(|| schema).clone())
    }

    fn open(&self, io: &Io, opts: &ReadOptions) -> Result<BatchStream> {
        let client = self.client()?;
        let first = self.first_url(opts.window.as_ref());
        let page = self.fetch_first(io, &client, &first)?;
        let schema = match self.schema.get() {
            Some(s) => s.clone(),
            None => match self.schema_from(&client, &page) {
                Ok(s) => self.schema.get_or_init(|| s).clone(),
                // An incremental read with nothing new: the columns come from the whole first page.
                Err(_) if opts.window.is_some() => self.schema(io)?,
                Err(e) => return Err(e),
            },
        };
        let run = PageLoop {
            client,
            opts: self.opts.clone(),
            schema: schema.clone(),
            first,
            prefetched: Some(page),
            read: opts.clone(),
        };
        Ok(BatchStream::spawn(io, schema, move |tx| run.run(tx)))
    }

    fn applies_window(&self) -> bool {
        true
    }

    fn statement(&self, _io: &Io, opts: &ReadOptions) -> Result<Option<SourceStatement>> {
        let mut url = self.first_url(opts.window.as_ref());
        if let Auth::ApiKey {
            name,
            in_query: true,
            ..
        } = &self.opts.auth
        {
            url = with_param(&url, name, MASK);
        }
        let shown = match self.client.get() {
            Some(c) => c.show(&url),
            None => url.to_string(),
        };
        Ok(Some(SourceStatement {
            dialect: "HTTP",
            sql: format!("GET {shown}"),
            // The window's bounds are already in the URL, as the read sends them.
            params: Vec::new(),
            unbounded: Vec::new(),
        }))
    }
}
