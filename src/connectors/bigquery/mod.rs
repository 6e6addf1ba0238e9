//! BigQuery: a source of relations and a place to run SQL over the REST API (jobs.query and
//! paged getQueryResults), authenticated with a service-account key (OAuth JWT grant signed
//! with ring), with a catalog from tables.list / tables.get. Not a load target. See
//! docs/operations.md#bigquery-sources.

mod auth;
mod catalog;
mod client;
mod config;
mod connect;
mod rows;
mod source;
mod sql;
mod types;

pub use connect::CONNECTOR;
