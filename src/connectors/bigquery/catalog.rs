//! Introspection over BigQuery's REST API rather than INFORMATION_SCHEMA: `tables.list` for the
//! tables of a dataset (type `TABLE`: views, materialized views, external tables and snapshots
//! are left out) and `tables.get` for a table's schema and its unenforced primary key
//! (`tableConstraints.primaryKey`). These are plain GETs: no query job, nothing billed (an
//! INFORMATION_SCHEMA query is billed at least 10 MB, and two jobs per call in a read-only
//! context), and the names travel as URL path segments, never inside SQL.
//!
//! Types are written in BigQuery's standard SQL words from the schema's fields (`INTEGER` is
//! `INT64`, `RECORD` is `STRUCT<..>`, a REPEATED field `ARRAY<..>`, `NUMERIC(12,2)` and
//! `STRING(20)` when the table declares them); a column is nullable unless its mode is REQUIRED.

use std::sync::Arc;

use serde::Deserialize;

use super::connect::Shared;
use crate::connectors::roles::{Catalog, CatalogColumn, TableId};
use crate::connectors::Io;
use crate::error::{EtlError, Result};

pub struct BqCatalog(pub Arc<Shared>);

#[derive(Deserialize)]
struct TableList {
    #[serde(default)]
    tables: Vec<ListedTable>,
    #[serde(rename = "nextPageToken", default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ListedTable {
    #[serde(rename = "tableReference")]
    reference: TableReference,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct TableReference {
    #[serde(rename = "tableId")]
    table_id: String,
}

/// The parts of a `tables.get` answer the catalog reads.
#[derive(Debug, Deserialize)]
struct Table {
    #[serde(default)]
    schema: Option<Fields>,
    #[serde(rename = "tableConstraints", default)]
    constraints: Option<Constraints>,
}

#[derive(Debug, Default, Deserialize)]
struct Fields {
    #[serde(default)]
    fields: Vec<RestField>,
}

#[derive(Debug, Deserialize)]
struct Constraints {
    #[serde(rename = "primaryKey", default)]
    primary_key: Option<PrimaryKey>,
}

#[derive(Debug, Deserialize)]
struct PrimaryKey {
    #[serde(default)]
    columns: Vec<String>,
}

/// A schema field as `tables.get` describes it (precision, scale and maxLength are strings).
#[derive(Debug, Deserialize)]
struct RestField {
    name: String,
    #[serde(rename = "type")]
    type_name: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    fields: Vec<RestField>,
    #[serde(default)]
    precision: Option<String>,
    #[serde(default)]
    scale: Option<String>,
    #[serde(rename = "maxLength", default)]
    max_length: Option<String>,
    #[serde(rename = "rangeElementType", default)]
    range_element: Option<RangeElement>,
}

#[derive(Debug, Deserialize)]
struct RangeElement {
    #[serde(rename = "type")]
    type_name: String,
}

impl RestField {
    fn required(&self) -> bool {
        self.mode.as_deref() == Some("REQUIRED")
    }

    /// The column's type as BigQuery's DDL writes it.
    fn declared(&self) -> String {
        let t = self.type_name.to_ascii_uppercase();
        let base = match t.as_str() {
            "INTEGER" => "INT64".to_string(),
            "FLOAT" => "FLOAT64".to_string(),
            "BOOLEAN" => "BOOL".to_string(),
            "BIGDECIMAL" => "BIGNUMERIC".to_string(),
            "RECORD" | "STRUCT" => {
                let inner: Vec<String> = self
                    .fields
                    .iter()
                    .map(|f| {
                        let not_null = if f.required() { " NOT NULL" } else { "" };
                        format!("{} {}{not_null}", field_name(&f.name), f.declared())
                    })
                    .collect();
                format!("STRUCT<{}>", inner.join(", "))
            }
            "RANGE" => match &self.range_element {
                Some(e) => format!("RANGE<{}>", e.type_name.to_ascii_uppercase()),
                None => t.clone(),
            },
            _ => t.clone(),
        };
        let sized = match (
            base.as_str(),
            &self.precision,
            &self.scale,
            &self.max_length,
        ) {
            ("NUMERIC" | "BIGNUMERIC", Some(p), Some(s), _) => format!("{base}({p},{s})"),
            ("NUMERIC" | "BIGNUMERIC", Some(p), None, _) => format!("{base}({p})"),
            ("STRING" | "BYTES", _, _, Some(n)) => format!("{base}({n})"),
            _ => base,
        };
        if self.mode.as_deref() == Some("REPEATED") {
            format!("ARRAY<{sized}>")
        } else {
            sized
        }
    }
}

/// A STRUCT field's name, in backticks unless it is a plain identifier.
fn field_name(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        name.to_string()
    } else {
        super::source::quote_ident(name)
    }
}

/// Where a table named by a script lives: `table`, `dataset.table` or `project.dataset.table`.
struct Located {
    project: String,
    dataset: String,
    table: String,
}

impl BqCatalog {
    fn locate(&self, table: &str) -> Result<Located> {
        let s = &self.0.client.settings;
        let parts: Vec<&str> = table.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(self.not_a_name(table));
        }
        let (project, dataset, name) = match parts.as_slice() {
            [t] => (s.project.as_str(), s.dataset.as_str(), *t),
            [d, t] => (s.project.as_str(), *d, *t),
            [p, d, t] => (*p, *d, *t),
            _ => return Err(self.not_a_name(table)),
        };
        Ok(Located {
            project: project.to_string(),
            dataset: dataset.to_string(),
            table: name.to_string(),
        })
    }

    fn not_a_name(&self, table: &str) -> EtlError {
        EtlError::Config(format!(
            "connection '{}': '{table}' is not a table name (TABLE, DATASET.TABLE or PROJECT.DATASET.TABLE)",
            self.0.name
        ))
    }

    /// `tables.get` of `table`; a missing table is an error naming it.
    fn table(&self, io: &Io, table: &str) -> Result<Table> {
        let at = self.locate(table)?;
        let shared = self.0.clone();
        let body = io.block_on(async move {
            let segments = [
                at.project.as_str(),
                "datasets",
                &at.dataset,
                "tables",
                &at.table,
            ];
            shared
                .client
                .get(&segments, &[])
                .await
                .map_err(|e| shared.err(format!("reading the schema of table '{table}': {e}")))
        })?;
        let Some(body) = body else {
            let list = if table.contains('.') {
                format!("{}.tables(#{{ schema: \"DATASET\" }})", self.0.name)
            } else {
                format!("{}.tables()", self.0.name)
            };
            return Err(EtlError::Config(format!(
                "connection '{}': there is no table '{table}' (list them with {list})",
                self.0.name
            )));
        };
        serde_json::from_slice(&body).map_err(|e| {
            self.0.err(format!(
                "table '{table}': a table description etl cannot read: {e}"
            ))
        })
    }
}

impl Catalog for BqCatalog {
    fn kind(&self) -> &'static str {
        "BigQuery"
    }

    fn tables(&self, io: &Io, schema: Option<&str>) -> Result<Vec<TableId>> {
        let s = &self.0.client.settings;
        let dataset = schema.unwrap_or(&s.dataset).to_string();
        if dataset.is_empty() || dataset.contains('.') {
            return Err(EtlError::Config(format!(
                "connection '{}': '{dataset}' is not a dataset name",
                self.0.name
            )));
        }
        let shared = self.0.clone();
        let project = s.project.clone();
        let names = io.block_on(async move {
            let mut names = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let mut query = vec![("maxResults", "1000")];
                if let Some(t) = &token {
                    query.push(("pageToken", t.as_str()));
                }
                let body = shared
                    .client
                    .get(&[&project, "datasets", &dataset, "tables"], &query)
                    .await
                    .map_err(|e| {
                        shared.err(format!("listing the tables of dataset '{dataset}': {e}"))
                    })?
                    .ok_or_else(|| {
                        EtlError::Config(format!(
                            "connection '{}': there is no dataset '{dataset}' in project '{}' (check the URL's dataset or the schema: given)",
                            shared.name, shared.client.settings.project
                        ))
                    })?;
                let page: TableList = serde_json::from_slice(&body)
                    .map_err(|e| shared.err(format!("a table list etl cannot read: {e}")))?;
                names.extend(
                    page.tables
                        .into_iter()
                        .filter(|t| t.kind.as_deref() == Some("TABLE"))
                        .map(|t| t.reference.table_id),
                );
                match page.next_page_token.filter(|t| !t.is_empty()) {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
            Ok::<_, EtlError>(names)
        })?;
        let mut out: Vec<TableId> = names
            .into_iter()
            .map(|name| TableId {
                schema: schema.map(str::to_string),
                name,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn columns(&self, io: &Io, table: &str) -> Result<Vec<CatalogColumn>> {
        let t = self.table(io, table)?;
        Ok(columns_of(t.schema.unwrap_or_default().fields))
    }

    fn primary_key(&self, io: &Io, table: &str) -> Result<Vec<String>> {
        Ok(key_of(self.table(io, table)?))
    }
}

fn columns_of(fields: Vec<RestField>) -> Vec<CatalogColumn> {
    fields
        .iter()
        .map(|f| CatalogColumn {
            name: f.name.clone(),
            declared: f.declared(),
            nullable: !f.required(),
        })
        .collect()
}

fn key_of(t: Table) -> Vec<String> {
    t.constraints
        .and_then(|c| c.primary_key)
        .map(|k| k.columns)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `tables.get` answer shaped as BigQuery's reference documents the Table resource
    /// (bqemulator keeps neither declared sizes nor constraints, so this is their only test).
    const TABLE: &str = r#"{
      "kind": "bigquery#table",
      "schema": {"fields": [
        {"name": "order_id", "type": "INTEGER", "mode": "REQUIRED"},
        {"name": "line", "type": "INT64", "mode": "REQUIRED"},
        {"name": "amount", "type": "NUMERIC", "mode": "NULLABLE", "precision": "12", "scale": "2"},
        {"name": "big", "type": "BIGNUMERIC", "precision": "50"},
        {"name": "note", "type": "STRING", "maxLength": "20"},
        {"name": "f", "type": "FLOAT"},
        {"name": "ok", "type": "BOOLEAN"},
        {"name": "tags", "type": "STRING", "mode": "REPEATED"},
        {"name": "addr", "type": "RECORD", "mode": "REPEATED", "fields": [
          {"name": "zip", "type": "STRING", "mode": "REQUIRED"},
          {"name": "my field", "type": "INTEGER", "mode": "REPEATED"}
        ]},
        {"name": "period", "type": "RANGE", "rangeElementType": {"type": "DATE"}}
      ]},
      "tableConstraints": {"primaryKey": {"columns": ["order_id", "line"]},
                           "foreignKeys": []}
    }"#;

    #[test]
    fn types_are_written_in_bigquery_words_and_the_key_is_read() {
        let mut t: Table = serde_json::from_str(TABLE).unwrap();
        let cols: Vec<String> = columns_of(t.schema.take().unwrap().fields)
            .into_iter()
            .map(|c| format!("{} {} {}", c.name, c.declared, c.nullable))
            .collect();
        assert_eq!(
            cols,
            [
                "order_id INT64 false",
                "line INT64 false",
                "amount NUMERIC(12,2) true",
                "big BIGNUMERIC(50) true",
                "note STRING(20) true",
                "f FLOAT64 true",
                "ok BOOL true",
                "tags ARRAY<STRING> true",
                "addr ARRAY<STRUCT<zip STRING NOT NULL, `my field` ARRAY<INT64>>> true",
                "period RANGE<DATE> true",
            ]
        );
        assert_eq!(key_of(t), ["order_id", "line"]);
        let keyless: Table = serde_json::from_str(r#"{"schema": {"fields": []}}"#).unwrap();
        assert!(key_of(keyless).is_empty());
    }
}
