//! PostgreSQL's side of the type map (dialect data): which wire format a column uses, which
//! `DataType` it is, and the type name a new column gets.

use tokio_postgres::types::{Kind, Type};

use crate::data::DataType;

/// How values of a column travel in the binary protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wire {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    /// text, varchar, bpchar, name, citext, enums: the binary form is the UTF-8 text.
    Text,
    Json,
    /// jsonb: a version byte, then the text.
    Jsonb,
    Date,
    /// Fractional digits kept by the column (`time(p)`); finer values would be rounded.
    Time(u8),
    Timestamp(u8),
    TimestampTz(u8),
    Interval,
    Uuid,
    Bytea,
    Array {
        elem: Box<Wire>,
        elem_oid: u32,
    },
    /// A type this connector cannot read or write in binary (named for messages).
    Unsupported(String),
}

impl Wire {
    /// What a pass-through read compares (`EncodedTarget::columns`): two columns with the
    /// same signature take each other's binary values byte for byte.
    pub fn signature(&self) -> String {
        format!("{self:?}")
    }
}

/// A column's wire format and portable type.
#[derive(Clone, Debug)]
pub struct PgType {
    pub wire: Wire,
    pub data_type: DataType,
}

impl PgType {
    /// From a result or parameter description: the type and its modifier (-1 when none).
    pub fn from_type(ty: &Type, typmod: i32) -> PgType {
        let (wire, data_type) = match *ty {
            Type::BOOL => (Wire::Bool, DataType::Bool),
            Type::INT2 => (Wire::Int2, DataType::Int16),
            Type::INT4 => (Wire::Int4, DataType::Int32),
            Type::INT8 => (Wire::Int8, DataType::Int64),
            Type::FLOAT4 => (Wire::Float4, DataType::Float32),
            Type::FLOAT8 => (Wire::Float8, DataType::Float64),
            Type::NUMERIC => (Wire::Numeric, numeric_type(typmod)),
            Type::TEXT | Type::NAME | Type::UNKNOWN => (Wire::Text, DataType::TEXT),
            Type::VARCHAR | Type::BPCHAR => (
                Wire::Text,
                DataType::Text {
                    max_len: (typmod >= 4).then(|| (typmod - 4) as u32),
                },
            ),
            Type::JSON => (Wire::Json, DataType::Json),
            Type::JSONB => (Wire::Jsonb, DataType::Json),
            Type::DATE => (Wire::Date, DataType::Date),
            Type::TIME => (Wire::Time(frac_digits(typmod)), DataType::Time),
            Type::TIMESTAMP => (Wire::Timestamp(frac_digits(typmod)), DataType::Timestamp),
            Type::TIMESTAMPTZ => (
                Wire::TimestampTz(frac_digits(typmod)),
                DataType::TimestampTz,
            ),
            Type::INTERVAL => (Wire::Interval, DataType::Interval),
            Type::UUID => (Wire::Uuid, DataType::Uuid),
            Type::BYTEA => (Wire::Bytea, DataType::Bytes),
            _ => match ty.kind() {
                Kind::Enum(_) => (Wire::Text, DataType::TEXT),
                Kind::Domain(base) => return PgType::from_type(base, typmod),
                // Element typmods are the column's (`numeric(12,2)[]`).
                Kind::Array(elem) => {
                    let inner = PgType::from_type(elem, typmod);
                    if let Wire::Unsupported(_) = inner.wire {
                        (Wire::Unsupported(ty.name().to_string()), DataType::TEXT)
                    } else {
                        (
                            Wire::Array {
                                elem: Box::new(inner.wire),
                                elem_oid: elem.oid(),
                            },
                            DataType::Array(Box::new(inner.data_type)),
                        )
                    }
                }
                _ if ty.name() == "citext" => (Wire::Text, DataType::TEXT),
                _ => (Wire::Unsupported(ty.name().to_string()), DataType::TEXT),
            },
        };
        PgType { wire, data_type }
    }

    pub fn supported(&self) -> bool {
        !matches!(self.wire, Wire::Unsupported(_))
    }
}

/// `numeric(p,s)` from its typmod: `((p << 16) | s) + 4`, the scale an 11-bit signed number
/// since PostgreSQL 15. Negative or oversized scales have no `DataType`: unconstrained.
fn numeric_type(typmod: i32) -> DataType {
    if typmod < 4 {
        return DataType::NUMERIC;
    }
    let t = typmod - 4;
    let precision = ((t >> 16) & 0xffff) as u32;
    let scale = ((t & 0x7ff) ^ 1024) - 1024;
    if scale < 0 || scale as u32 > precision {
        return DataType::NUMERIC;
    }
    DataType::Decimal {
        precision: Some(precision),
        scale: Some(scale as u32),
    }
}

fn frac_digits(typmod: i32) -> u8 {
    if (0..6).contains(&typmod) {
        typmod as u8
    } else {
        6
    }
}

/// The column type a new table gets for `t`. JSON becomes `json`, which keeps the text as
/// given (key order, number formats), as the rest of the tool does.
pub fn type_name(t: &DataType) -> String {
    match t {
        DataType::Bool => "boolean".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "integer".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Float32 => "real".into(),
        DataType::Float64 => "double precision".into(),
        DataType::Decimal {
            precision: Some(p),
            scale,
        } if *p <= 1000 => format!("numeric({p},{})", scale.unwrap_or(0)),
        DataType::Decimal { .. } => "numeric".into(),
        DataType::Text { max_len: Some(n) } if *n <= 10_485_760 => format!("varchar({n})"),
        DataType::Text { .. } => "text".into(),
        DataType::Date => "date".into(),
        DataType::Time => "time".into(),
        DataType::Timestamp => "timestamp".into(),
        DataType::TimestampTz => "timestamptz".into(),
        DataType::Json => "json".into(),
        DataType::Uuid => "uuid".into(),
        DataType::Bytes => "bytea".into(),
        DataType::Interval => "interval".into(),
        DataType::Array(elem) => format!("{}[]", type_name(elem)),
    }
}

/// A double-quoted identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `schema.table` (or `table`, in the connection's current schema) as written by scripts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableName {
    pub schema: Option<String>,
    pub table: String,
}

impl TableName {
    /// Splits at the first dot outside double quotes; quoted parts lose their quotes.
    pub fn parse(name: &str) -> Result<TableName, String> {
        let mut parts = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        let mut chars = name.trim().chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' if quoted && chars.peek() == Some(&'"') => {
                    chars.next();
                    cur.push('"');
                }
                '"' => quoted = !quoted,
                '.' if !quoted => parts.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        parts.push(cur);
        let bad = |why: &str| format!("table name '{name}': {why}");
        if quoted {
            return Err(bad("unbalanced double quote"));
        }
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad("empty part"));
        }
        if let Some(long) = parts.iter().find(|p| p.len() > 63) {
            return Err(bad(&format!(
                "'{long}' is longer than PostgreSQL's 63-byte limit for names"
            )));
        }
        match parts.len() {
            1 => Ok(TableName {
                schema: None,
                table: parts.remove(0),
            }),
            2 => Ok(TableName {
                table: parts.remove(1),
                schema: Some(parts.remove(0)),
            }),
            _ => Err(bad("expected table or schema.table")),
        }
    }

    /// The quoted name with its schema when one is known.
    pub fn quoted(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&self.table)),
            None => quote_ident(&self.table),
        }
    }

    /// A sibling table in the same schema.
    pub fn sibling(&self, table: String) -> TableName {
        TableName {
            schema: self.schema.clone(),
            table,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_builtin_types_with_modifiers() {
        let t = |ty: &Type, m: i32| PgType::from_type(ty, m).data_type.to_string();
        assert_eq!(t(&Type::NUMERIC, (12 << 16 | 2) + 4), "numeric(12,2)");
        assert_eq!(t(&Type::NUMERIC, -1), "numeric");
        // numeric(5,-2), PostgreSQL 15: no DataType for a negative scale.
        assert_eq!(
            t(&Type::NUMERIC, (5 << 16 | (0x7ff & -2i32)) + 4),
            "numeric"
        );
        assert_eq!(t(&Type::VARCHAR, 14), "varchar(10)");
        assert_eq!(t(&Type::BPCHAR, 5), "varchar(1)");
        assert_eq!(t(&Type::INT4_ARRAY, -1), "integer[]");
        assert_eq!(
            t(&Type::NUMERIC_ARRAY, (12 << 16 | 2) + 4),
            "numeric(12,2)[]"
        );
        assert_eq!(t(&Type::JSONB, -1), "json");
        assert_eq!(t(&Type::INTERVAL, -1), "interval");
        assert_eq!(
            PgType::from_type(&Type::TIMESTAMP, 0).wire,
            Wire::Timestamp(0)
        );
        assert!(!PgType::from_type(&Type::INET, -1).supported());
        assert!(!PgType::from_type(&Type::INET_ARRAY, -1).supported());
    }

    #[test]
    fn every_portable_type_maps_back_to_itself() {
        for name in crate::data::EVERY_TYPE.iter().copied() {
            let t = DataType::parse(name).unwrap();
            assert_eq!(DataType::parse(&type_name(&t)).unwrap(), t, "{name}");
        }
    }

    #[test]
    fn splits_and_quotes_table_names() {
        assert_eq!(
            TableName::parse("staging.orders").unwrap().quoted(),
            "\"staging\".\"orders\""
        );
        assert_eq!(TableName::parse("Orders").unwrap().quoted(), "\"Orders\"");
        assert_eq!(
            TableName::parse("\"a.b\".\"c\"\"d\"").unwrap(),
            TableName {
                schema: Some("a.b".into()),
                table: "c\"d".into()
            }
        );
        assert!(TableName::parse("a.b.c").is_err());
        assert!(TableName::parse("a.").is_err());
        assert!(TableName::parse(&"x".repeat(64)).is_err());
    }
}
