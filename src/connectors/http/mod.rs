//! `http_json(url, #{...})`: records of a JSON REST API, page after page, as a source on the
//! connector seam. One idea per file: what the script asked for (`options`), secrets kept out
//! of messages (`mask`), one request (`client`), authentication (`auth`), retries (`retry`),
//! the JSON body (`body`), column types (`columns`), the next page (`paging`), the page loop
//! (`read`) and the `Source` itself (`source`).

mod auth;
mod body;
pub(crate) mod client;
#[cfg(any(feature = "snowflake", feature = "bigquery"))]
pub(crate) use client::tls_config;
mod columns;
mod mask;
pub mod options;
mod paging;
mod read;
mod retry;
mod source;

pub use options::HttpOptions;
pub use source::HttpSource;
