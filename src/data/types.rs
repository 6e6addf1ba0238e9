use std::fmt;

/// A column type, independent of any database. Each connector maps it to and from its own
/// type names (dialect data), so the same schema can be created in SQLite or PostgreSQL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// `numeric(p, s)`; `None` precision means unconstrained numeric.
    Decimal {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    /// `varchar(n)` when a length is known, otherwise unbounded text.
    Text {
        max_len: Option<u32>,
    },
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Json,
    Uuid,
    Bytes,
    /// PostgreSQL's interval: months, days and microseconds kept apart.
    Interval,
    /// A one-level array type; multi-dimensional values nest `Value::Array`s of the same
    /// element type (PostgreSQL's `int[]` and `int[][]` are one type).
    Array(Box<DataType>),
}

impl DataType {
    pub const TEXT: DataType = DataType::Text { max_len: None };
    pub const NUMERIC: DataType = DataType::Decimal {
        precision: None,
        scale: None,
    };

    /// Parses the portable type names scripts use in `types: #{ col: "numeric(12,2)" }`.
    /// PostgreSQL spellings and common aliases are accepted.
    pub fn parse(input: &str) -> Result<DataType, String> {
        let lower = input.trim().to_ascii_lowercase();
        if let Some(elem) = lower.strip_suffix("[]") {
            let elem = elem.trim_end();
            let elem = elem.trim_end_matches("[]").trim_end();
            return match DataType::parse(elem)? {
                DataType::Array(_) => Err(format!(
                    "'{input}': arrays of arrays are one array type; write '{elem}[]'"
                )),
                t => Ok(DataType::Array(Box::new(t))),
            };
        }
        let (name, args) = match lower.find('(') {
            Some(i) if lower.ends_with(')') => {
                let args: Vec<&str> = lower[i + 1..lower.len() - 1]
                    .split(',')
                    .map(str::trim)
                    .collect();
                (lower[..i].trim().to_string(), args)
            }
            _ => (lower.clone(), Vec::new()),
        };
        let num = |i: usize| -> Result<Option<u32>, String> {
            match args.get(i) {
                None => Ok(None),
                Some(a) => a
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("'{input}': '{a}' is not a number")),
            }
        };
        let t = match name.as_str() {
            "bool" | "boolean" => DataType::Bool,
            "smallint" | "int2" | "i16" => DataType::Int16,
            "int" | "integer" | "int4" | "i32" => DataType::Int32,
            "bigint" | "int8" | "i64" => DataType::Int64,
            "real" | "float4" | "f32" => DataType::Float32,
            "double" | "double precision" | "float" | "float8" | "f64" => DataType::Float64,
            "numeric" | "decimal" => {
                let precision = num(0)?;
                let scale = if precision.is_some() { Some(num(1)?.unwrap_or(0)) } else { None };
                if let (Some(p), Some(s)) = (precision, scale) {
                    if p == 0 || s > p {
                        return Err(format!("'{input}': scale must be between 0 and precision, precision above 0"));
                    }
                }
                DataType::Decimal { precision, scale }
            }
            "text" | "string" | "str" => DataType::TEXT,
            "varchar" | "character varying" | "char" | "character" => DataType::Text { max_len: num(0)? },
            "date" => DataType::Date,
            "time" => DataType::Time,
            "timestamp" | "datetime" | "timestamp without time zone" => DataType::Timestamp,
            "timestamptz" | "timestamp with time zone" => DataType::TimestampTz,
            "json" | "jsonb" => DataType::Json,
            "uuid" => DataType::Uuid,
            "bytes" | "bytea" | "blob" | "binary" => DataType::Bytes,
            "interval" => DataType::Interval,
            _ => {
                return Err(format!(
                    "unknown type '{input}' (expected one of: boolean, smallint, integer, bigint, real, double, \
                     numeric(p,s), text, varchar(n), date, time, timestamp, timestamptz, interval, json, uuid, bytea, or TYPE[])"
                ))
            }
        };
        Ok(t)
    }

    /// Whether every value of `self` can be stored in a column of `target` without loss.
    pub fn widens_to(&self, target: &DataType) -> bool {
        use DataType::*;
        if self == target {
            return true;
        }
        match (self, target) {
            (Int16, Int32 | Int64) | (Int32, Int64) | (Float32, Float64) => true,
            (
                Int16 | Int32 | Int64,
                Decimal {
                    precision: None, ..
                },
            ) => true,
            (
                Int16,
                Decimal {
                    precision: Some(p),
                    scale: Some(s),
                },
            ) => p - s >= 5,
            (
                Int32,
                Decimal {
                    precision: Some(p),
                    scale: Some(s),
                },
            ) => p - s >= 10,
            (
                Int64,
                Decimal {
                    precision: Some(p),
                    scale: Some(s),
                },
            ) => p - s >= 19,
            (
                Decimal { .. },
                Decimal {
                    precision: None, ..
                },
            ) => true,
            (
                Decimal {
                    precision: Some(p1),
                    scale: Some(s1),
                },
                Decimal {
                    precision: Some(p2),
                    scale: Some(s2),
                },
            ) => s1 <= s2 && p1 - s1 <= p2 - s2,
            (Text { .. }, Text { max_len: None }) => true,
            (Text { max_len: Some(a) }, Text { max_len: Some(b) }) => a <= b,
            (Timestamp, TimestampTz) => false,
            (Array(a), Array(b)) => a.widens_to(b),
            _ => false,
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Bool => f.write_str("boolean"),
            DataType::Int16 => f.write_str("smallint"),
            DataType::Int32 => f.write_str("integer"),
            DataType::Int64 => f.write_str("bigint"),
            DataType::Float32 => f.write_str("real"),
            DataType::Float64 => f.write_str("double precision"),
            DataType::Decimal {
                precision: Some(p),
                scale: Some(s),
            } => write!(f, "numeric({p},{s})"),
            DataType::Decimal {
                precision: Some(p),
                scale: None,
            } => write!(f, "numeric({p})"),
            DataType::Decimal { .. } => f.write_str("numeric"),
            DataType::Text { max_len: Some(n) } => write!(f, "varchar({n})"),
            DataType::Text { max_len: None } => f.write_str("text"),
            DataType::Date => f.write_str("date"),
            DataType::Time => f.write_str("time"),
            DataType::Timestamp => f.write_str("timestamp"),
            DataType::TimestampTz => f.write_str("timestamptz"),
            DataType::Json => f.write_str("json"),
            DataType::Uuid => f.write_str("uuid"),
            DataType::Bytes => f.write_str("bytea"),
            DataType::Interval => f.write_str("interval"),
            DataType::Array(elem) => write!(f, "{elem}[]"),
        }
    }
}

/// One spelling of every portable type (arrays included): the connectors' type-map tests
/// round-trip each of them.
#[cfg(test)]
pub(crate) const EVERY_TYPE: &[&str] = &[
    "boolean",
    "smallint",
    "integer",
    "bigint",
    "real",
    "double precision",
    "numeric(12,2)",
    "numeric",
    "text",
    "varchar(20)",
    "date",
    "time",
    "timestamp",
    "timestamptz",
    "json",
    "uuid",
    "bytea",
    "interval",
    "integer[]",
    "text[]",
    "numeric(12,2)[]",
    "varchar(5)[]",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        for name in EVERY_TYPE.iter().copied() {
            assert_eq!(DataType::parse(name).unwrap().to_string(), name);
        }
        assert_eq!(
            DataType::parse("DECIMAL(5)").unwrap().to_string(),
            "numeric(5,0)"
        );
        assert!(DataType::parse("numeric(2,3)").is_err());
        assert!(DataType::parse("money")
            .unwrap_err()
            .contains("unknown type 'money'"));
    }

    #[test]
    fn widening_is_lossless_only() {
        let n = |s| DataType::parse(s).unwrap();
        assert!(n("integer").widens_to(&n("bigint")));
        assert!(!n("bigint").widens_to(&n("integer")));
        assert!(n("numeric(10,2)").widens_to(&n("numeric(12,4)")));
        assert!(!n("numeric(10,2)").widens_to(&n("numeric(12,1)")));
        assert!(n("varchar(10)").widens_to(&n("text")));
        assert!(!n("text").widens_to(&n("varchar(10)")));
    }
}
