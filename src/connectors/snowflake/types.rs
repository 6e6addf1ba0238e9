//! Snowflake's column types (the `rowtype` of a query response) as portable types: the type
//! map in docs/operations.md#snowflake-sources.

use serde::Deserialize;

use crate::data::DataType;

/// One column of a result as the server describes it.
#[derive(Clone, Debug, Deserialize)]
pub struct RowType {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub precision: Option<u32>,
    pub scale: Option<u32>,
}

/// A result column's name as etl uses it: Snowflake upper-cases unquoted names, so an
/// all-upper-case name (`UPDATED_AT`) becomes lower case (`updated_at`) and matches the
/// script's names and PostgreSQL's convention; any other name is kept as written.
pub fn column_name(raw: &str) -> String {
    if raw.chars().any(|c| c.is_lowercase()) {
        raw.to_string()
    } else {
        raw.to_lowercase()
    }
}

/// How a column's Arrow values are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// NUMBER(p,0) with p <= 18: bigint.
    Int,
    /// NUMBER(p,s) otherwise: exact numeric, the Arrow integer scaled by `s`.
    Decimal,
    Real,
    Text,
    Binary,
    Bool,
    Date,
    Time,
    Timestamp,
    /// TIMESTAMP_TZ and TIMESTAMP_LTZ: an instant.
    TimestampTz,
    /// VARIANT, OBJECT, ARRAY: JSON text.
    Json,
}

/// A column's kind, its portable type and its scale (of numbers, times and timestamps).
pub fn map(col: &RowType) -> Result<(Kind, DataType, u32), String> {
    let scale = col.scale.unwrap_or(0);
    let t = col.type_name.to_ascii_lowercase();
    let (kind, data_type) = match t.as_str() {
        "fixed" => {
            let precision = col.precision.unwrap_or(38);
            if scale == 0 && precision <= 18 {
                (Kind::Int, DataType::Int64)
            } else {
                (
                    Kind::Decimal,
                    DataType::Decimal {
                        precision: Some(precision),
                        scale: Some(scale),
                    },
                )
            }
        }
        "real" => (Kind::Real, DataType::Float64),
        "text" => (Kind::Text, DataType::TEXT),
        "binary" => (Kind::Binary, DataType::Bytes),
        "boolean" => (Kind::Bool, DataType::Bool),
        "date" => (Kind::Date, DataType::Date),
        "time" => (Kind::Time, DataType::Time),
        "timestamp_ntz" => (Kind::Timestamp, DataType::Timestamp),
        "timestamp_ltz" | "timestamp_tz" => (Kind::TimestampTz, DataType::TimestampTz),
        "variant" | "object" | "array" => (Kind::Json, DataType::Json),
        // GeoJSON text.
        "geography" | "geometry" => (Kind::Text, DataType::TEXT),
        other => {
            return Err(format!(
                "column '{}' has Snowflake type {} which etl cannot read yet; cast it in the query (::text)",
                col.name,
                other.to_ascii_uppercase()
            ))
        }
    };
    Ok((kind, data_type, scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(t: &str, p: Option<u32>, s: Option<u32>) -> RowType {
        RowType {
            name: "c".into(),
            type_name: t.into(),
            precision: p,
            scale: s,
        }
    }

    #[test]
    fn numbers_stay_exact_and_small_integers_become_bigint() {
        assert_eq!(
            map(&col("fixed", Some(18), Some(0))).unwrap().1,
            DataType::Int64
        );
        assert_eq!(
            map(&col("fixed", Some(38), Some(0))).unwrap().1,
            DataType::Decimal {
                precision: Some(38),
                scale: Some(0)
            }
        );
        assert_eq!(
            map(&col("FIXED", Some(12), Some(2))).unwrap().0,
            Kind::Decimal
        );
    }

    #[test]
    fn semi_structured_is_json_and_zoned_timestamps_are_instants() {
        for t in ["variant", "object", "array"] {
            assert_eq!(map(&col(t, None, None)).unwrap().1, DataType::Json);
        }
        assert_eq!(
            map(&col("timestamp_ltz", None, Some(9))).unwrap().1,
            DataType::TimestampTz
        );
        assert_eq!(
            map(&col("timestamp_ntz", None, Some(9))).unwrap().1,
            DataType::Timestamp
        );
        let e = map(&col("vector", None, None)).unwrap_err();
        assert!(e.contains("VECTOR") && e.contains("'c'"), "{e}");
    }
}
