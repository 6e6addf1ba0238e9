//! Files in object storage (`s3://bucket/prefix/*.csv.gz`, `gs://`, `az://container/...`)
//! through the `object_store` crate.
//! Credentials, region and endpoint come from the standard environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`). An object is streamed: a task on a small runtime of
//! its own pulls the response body and hands chunks to the (synchronous) parser through a
//! bounded channel, so neither memory nor disk holds the whole object.

use std::io::Read;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::ClientConfigKey;

use super::storage::Storage;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

/// Chunks in flight between the download and the parser (each as the server sent it).
const CHUNKS_IN_FLIGHT: usize = 4;

/// One object to read.
#[derive(Debug)]
pub struct Object {
    store: Arc<dyn ObjectStore>,
    pub location: ObjectPath,
    pub size: u64,
    pub e_tag: Option<String>,
    pub modified: chrono::DateTime<chrono::Utc>,
}

/// Whether a path a script wrote is an object-store URL rather than a local path.
pub fn is_url(path: &str) -> bool {
    path.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

/// The runtime the object-store requests run on: scripts call from plain threads, and the
/// parser reads synchronously.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("etl-object-store")
            .enable_all()
            .build()
            .expect("a runtime for object storage")
    })
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The objects `url` names, sorted by key: one object, or every object a glob in its key
/// matches. Each comes with the URL that names it, for messages and `file_column`.
pub fn list(url: &str, storage: Option<&Storage>) -> Result<Vec<(String, Object)>, String> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() || key.is_empty() {
        return Err(format!(
            "an object URL names a bucket (container) and a key: {scheme}://bucket/path/file.csv"
        ));
    }
    // reqwest is built without a TLS provider of its own: it uses ring, like every other
    // TLS connection the program makes. Installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store = store(scheme, bucket, storage)?;
    let explain = |e: object_store::Error| explain(scheme, bucket, e);
    let rt = runtime();
    let mut found = Vec::new();
    if !has_wildcard(key) {
        let location = ObjectPath::from(key);
        let meta = rt.block_on(store.head(&location)).map_err(explain)?;
        found.push((url.to_string(), object(&store, meta)));
        return Ok(found);
    }
    let first = key.find(['*', '?', '[']).unwrap_or(key.len());
    let prefix = &key[..key[..first].rfind('/').map_or(0, |i| i + 1)];
    let pattern = glob::Pattern::new(key)
        .map_err(|e| format!("invalid pattern '{key}': {} at character {}", e.msg, e.pos))?;
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let listed: Vec<_> = rt.block_on(async {
        let prefix = (!prefix.is_empty()).then(|| ObjectPath::from(prefix.trim_end_matches('/')));
        store.list(prefix.as_ref()).collect::<Vec<_>>().await
    });
    for meta in listed {
        let meta = meta.map_err(explain)?;
        if pattern.matches_with(meta.location.as_ref(), options) {
            let shown = format!("{scheme}://{bucket}/{}", meta.location);
            found.push((shown, object(&store, meta)));
        }
    }
    found.sort_by(|a, b| a.1.location.as_ref().cmp(b.1.location.as_ref()));
    if found.is_empty() {
        return Err(format!(
            "no object matches '{url}' (listed {scheme}://{bucket}/{prefix}); check the bucket, the prefix and the pattern"
        ));
    }
    Ok(found)
}

fn object(store: &Arc<dyn ObjectStore>, meta: object_store::ObjectMeta) -> Object {
    Object {
        store: store.clone(),
        location: meta.location,
        size: meta.size,
        e_tag: meta.e_tag,
        modified: meta.last_modified,
    }
}

/// The client for `bucket` (an Azure container), from the scheme's standard environment
/// variables with `storage`'s settings over them.
fn store(
    scheme: &str,
    bucket: &str,
    storage: Option<&Storage>,
) -> Result<Arc<dyn ObjectStore>, String> {
    let s = storage.cloned().unwrap_or_default();
    let built: Result<Arc<dyn ObjectStore>, object_store::Error> = match scheme {
        "s3" => {
            let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Some(v) = &s.endpoint {
                b = b.with_endpoint(v);
            }
            if let Some(v) = &s.region {
                b = b.with_region(v);
            }
            if let Some(v) = s.allow_http {
                b = b.with_allow_http(v);
            }
            if let Some(v) = s.secret("access_key_id") {
                b = b.with_access_key_id(v);
            }
            if let Some(v) = s.secret("secret_access_key") {
                b = b.with_secret_access_key(v);
            }
            if let Some(v) = s.secret("session_token") {
                b = b.with_token(v);
            }
            b.build().map(|b| Arc::new(b) as _)
        }
        "gs" => {
            let mut b = GoogleCloudStorageBuilder::from_env().with_bucket_name(bucket);
            if let Some(v) = &s.endpoint {
                b = b.with_config(GoogleConfigKey::BaseUrl, v);
            }
            if let Some(v) = s.allow_http {
                b = b.with_config(
                    GoogleConfigKey::Client(ClientConfigKey::AllowHttp),
                    v.to_string(),
                );
            }
            if let Some(v) = s.secret("service_account_key") {
                b = b.with_service_account_key(v);
            }
            b.build().map(|b| Arc::new(b) as _)
        }
        "az" => {
            let mut b = MicrosoftAzureBuilder::from_env().with_container_name(bucket);
            if let Some(v) = &s.account {
                b = b.with_account(v);
            }
            if let Some(v) = &s.endpoint {
                b = b.with_endpoint(v.clone());
            }
            if let Some(v) = s.allow_http {
                b = b.with_allow_http(v);
            }
            if let Some(v) = s.secret("access_key") {
                b = b.with_access_key(v);
            }
            b.build().map(|b| Arc::new(b) as _)
        }
        other => {
            return Err(format!(
                "{other}:// URLs are not supported (s3://, gs:// and az:// are)"
            ))
        }
    };
    let variables = match scheme {
        "s3" => "AWS_REGION and credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)",
        "gs" => "GOOGLE_SERVICE_ACCOUNT (a key file) or GOOGLE_SERVICE_ACCOUNT_KEY (its JSON)",
        _ => "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (or a SAS/token variable)",
    };
    let section = storage.map_or(String::new(), |s| format!(" or in [storage.{}]", s.name));
    built.map_err(|e| {
        format!("{scheme}:// is not configured: {e}; set {variables} in the environment{section}")
    })
}

/// An object-store error as a sentence: what failed and what to check. The crate's messages
/// carry no secrets (requests are signed, keys are never echoed).
fn explain(scheme: &str, bucket: &str, e: object_store::Error) -> String {
    let credentials = match scheme {
        "s3" => "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)",
        "gs" => "the service account (GOOGLE_SERVICE_ACCOUNT or GOOGLE_SERVICE_ACCOUNT_KEY)",
        _ => "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY",
    };
    match e {
        object_store::Error::NotFound { path, .. } => {
            format!("{scheme}://{bucket}/{path} does not exist (or the bucket does not)")
        }
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            format!("access to bucket '{bucket}' was refused: {e}; check {credentials}")
        }
        other => format!("bucket '{bucket}': {other}"),
    }
}

/// Runs `fut` on the object-store runtime and waits for it from any thread (a script's, or a
/// blocking producer inside another runtime, where `block_on` would panic).
pub fn wait<T: Send + 'static>(fut: impl std::future::Future<Output = T> + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv()
        .expect("the object-store runtime dropped a request")
}

/// Spawns `fut` on the object-store runtime without waiting.
pub fn spawn(fut: impl std::future::Future<Output = ()> + Send + 'static) {
    runtime().spawn(fut);
}

impl Object {
    /// The store the object is in, for readers that fetch byte ranges (Parquet).
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// The object's bytes, streamed.
    pub fn reader(&self) -> Box<dyn Read + Send> {
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
        let (store, location) = (self.store.clone(), self.location.clone());
        runtime().spawn(async move {
            let mut body = match store.get(&location).await {
                Ok(got) => got.into_stream(),
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e))).await;
                    return;
                }
            };
            while let Some(chunk) = body.next().await {
                let failed = chunk.is_err();
                // A closed channel: the reader was dropped (the read ended or was cancelled).
                if tx.send(chunk.map_err(std::io::Error::other)).await.is_err() || failed {
                    return;
                }
            }
        });
        Box::new(ChunkReader {
            rx,
            chunk: Bytes::new(),
        })
    }
}

struct ChunkReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    chunk: Bytes,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(chunk) => self.chunk = chunk?,
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}
