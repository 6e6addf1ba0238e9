//! BigQuery's column types (a result's `schema.fields`) as portable types: the type map in
//! docs/operations.md#bigquery-sources.

use serde::Deserialize;

use crate::data::DataType;

#[derive(Clone, Debug, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub fields: Vec<Field>,
}

impl Field {
    pub fn repeated(&self) -> bool {
        self.mode.as_deref() == Some("REPEATED")
    }
}

/// How a cell's JSON is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    Float,
    Numeric,
    Bool,
    Text,
    Bytes,
    Date,
    Time,
    DateTime,
    Timestamp,
    Json,
    /// A RECORD (or a repeated RECORD): JSON built from the field names.
    Record,
}

fn scalar(t: &str) -> Option<(Kind, DataType)> {
    Some(match t {
        "INTEGER" | "INT64" => (Kind::Int, DataType::Int64),
        "FLOAT" | "FLOAT64" => (Kind::Float, DataType::Float64),
        "NUMERIC" => (
            Kind::Numeric,
            DataType::Decimal {
                precision: Some(38),
                scale: Some(9),
            },
        ),
        // 76.76 digits, 38 of them after the point.
        "BIGNUMERIC" | "BIGDECIMAL" => (
            Kind::Numeric,
            DataType::Decimal {
                precision: Some(77),
                scale: Some(38),
            },
        ),
        "BOOLEAN" | "BOOL" => (Kind::Bool, DataType::Bool),
        "STRING" => (Kind::Text, DataType::TEXT),
        "BYTES" => (Kind::Bytes, DataType::Bytes),
        "DATE" => (Kind::Date, DataType::Date),
        "TIME" => (Kind::Time, DataType::Time),
        "DATETIME" => (Kind::DateTime, DataType::Timestamp),
        "TIMESTAMP" => (Kind::Timestamp, DataType::TimestampTz),
        // WKT text.
        "GEOGRAPHY" => (Kind::Text, DataType::TEXT),
        "JSON" => (Kind::Json, DataType::Json),
        _ => return None,
    })
}

/// A column's kind (of its elements when repeated) and portable type.
pub fn map(f: &Field) -> Result<(Kind, DataType), String> {
    let t = f.type_name.to_ascii_uppercase();
    if t == "RECORD" || t == "STRUCT" {
        return Ok((Kind::Record, DataType::Json));
    }
    let (kind, dt) = scalar(&t).ok_or_else(|| {
        format!(
            "column '{}' has BigQuery type {t} which etl cannot read yet; cast it in the query (CAST(.. AS STRING))",
            f.name
        )
    })?;
    if f.repeated() {
        Ok((kind, DataType::Array(Box::new(dt))))
    } else {
        Ok((kind, dt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(t: &str, mode: &str) -> Field {
        Field {
            name: "c".into(),
            type_name: t.into(),
            mode: Some(mode.into()),
            fields: vec![],
        }
    }

    #[test]
    fn repeated_scalars_are_arrays_and_records_are_json() {
        assert_eq!(
            map(&f("INTEGER", "REPEATED")).unwrap().1,
            DataType::Array(Box::new(DataType::Int64))
        );
        assert_eq!(map(&f("RECORD", "REPEATED")).unwrap().1, DataType::Json);
        assert_eq!(
            map(&f("TIMESTAMP", "NULLABLE")).unwrap().1,
            DataType::TimestampTz
        );
        assert_eq!(
            map(&f("DATETIME", "NULLABLE")).unwrap().1,
            DataType::Timestamp
        );
        assert_eq!(
            map(&f("BIGNUMERIC", "NULLABLE")).unwrap().1,
            DataType::Decimal {
                precision: Some(77),
                scale: Some(38)
            }
        );
        assert_eq!(map(&f("GEOGRAPHY", "NULLABLE")).unwrap().1, DataType::TEXT);
        assert_eq!(
            map(&f("NUMERIC", "NULLABLE")).unwrap().1,
            DataType::Decimal {
                precision: Some(38),
                scale: Some(9)
            }
        );
        assert!(map(&f("RANGE", "NULLABLE")).unwrap_err().contains("RANGE"));
    }
}
