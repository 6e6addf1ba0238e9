//! Files in object storage (`s3://bucket/prefix/*.csv.gz`) through the `object_store` crate.
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
pub fn list(url: &str) -> Result<Vec<(String, Object)>, String> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    if scheme != "s3" {
        return Err(format!(
            "{scheme}:// URLs are not supported by this build (s3:// is; gs:// and az:// are planned)"
        ));
    }
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() || key.is_empty() {
        return Err("an S3 URL names a bucket and a key: s3://bucket/path/file.csv".into());
    }
    // reqwest is built without a TLS provider of its own: it uses ring, like every other
    // TLS connection the program makes. Installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store: Arc<dyn ObjectStore> = Arc::new(
        AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| format!("S3 is not configured: {e}; set AWS_REGION and credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) in the environment"))?,
    );
    let explain = |e: object_store::Error| explain(bucket, e);
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
            let shown = format!("s3://{bucket}/{}", meta.location);
            found.push((shown, object(&store, meta)));
        }
    }
    found.sort_by(|a, b| a.1.location.as_ref().cmp(b.1.location.as_ref()));
    if found.is_empty() {
        return Err(format!(
            "no object matches '{url}' (listed s3://{bucket}/{prefix}); check the bucket, the prefix and the pattern"
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
    }
}

/// An object-store error as a sentence: what failed and what to check. The crate's messages
/// carry no secrets (requests are signed, keys are never echoed).
fn explain(bucket: &str, e: object_store::Error) -> String {
    match e {
        object_store::Error::NotFound { path, .. } => {
            format!("s3://{bucket}/{path} does not exist (or the bucket does not)")
        }
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => format!(
            "access to bucket '{bucket}' was refused: {e}; check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)"
        ),
        other => format!("bucket '{bucket}': {other}"),
    }
}

impl Object {
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
