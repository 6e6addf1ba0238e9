//! SQL Server column types → ours (the mapping table of docs/operations.md, "SQL Server
//! sources"). The types come from `sp_describe_first_result_set`'s `system_type_name`
//! (`decimal(38,10)`, `datetime2(7)`, `nvarchar(max)`): tiberius' own column metadata lacks
//! precision and scale.

use crate::data::DataType;

/// How a column's TDS values become ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Decimal,
    /// money/smallmoney: tiberius decodes them as f64. Table reads cast them to
    /// decimal(19,4) on the server; in a `sql(...)` source the f64 is turned back into the
    /// exact 4-decimal value where that is provably exact.
    Money,
    Text,
    Json,
    Bytes,
    Uuid,
    Date,
    Time,
    Timestamp,
    TimestampTz,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MsType {
    pub kind: Kind,
    pub data_type: DataType,
    /// The declared type as SQL Server names it.
    pub declared: String,
}

/// PostgreSQL's varchar limit.
const MAX_VARCHAR: u32 = 10_485_760;

impl MsType {
    /// From a `system_type_name`. Unknown types (CLR types, sql_variant) are refused by the
    /// caller's read with the column's name; here they map to text.
    pub fn parse(declared: &str) -> MsType {
        let d = declared.trim().to_ascii_lowercase();
        let (base, args) = match d.split_once('(') {
            Some((b, rest)) => (b.trim(), rest.trim_end_matches(')')),
            None => (d.as_str(), ""),
        };
        let nums: Vec<u32> = args
            .split(',')
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        let t = |kind: Kind, data_type: DataType| MsType {
            kind,
            data_type,
            declared: declared.trim().to_string(),
        };
        let text_of = |n: Option<u32>| DataType::Text {
            max_len: n.filter(|n| (1..=MAX_VARCHAR).contains(n)),
        };
        match base {
            "bit" => t(Kind::Bool, DataType::Bool),
            "tinyint" | "smallint" => t(Kind::Int16, DataType::Int16),
            "int" => t(Kind::Int32, DataType::Int32),
            "bigint" => t(Kind::Int64, DataType::Int64),
            "real" => t(Kind::Float32, DataType::Float32),
            "float" if nums.first().is_some_and(|p| *p <= 24) => {
                t(Kind::Float32, DataType::Float32)
            }
            "float" => t(Kind::Float64, DataType::Float64),
            "decimal" | "numeric" => {
                let p = nums.first().copied().unwrap_or(18);
                let s = nums.get(1).copied().unwrap_or(0);
                t(Kind::Decimal, numeric(p, s))
            }
            "money" => t(Kind::Money, numeric(19, 4)),
            "smallmoney" => t(Kind::Money, numeric(10, 4)),
            "char" | "varchar" | "nchar" | "nvarchar" => {
                t(Kind::Text, text_of(nums.first().copied()))
            }
            "sysname" => t(Kind::Text, text_of(Some(128))),
            "text" | "ntext" | "xml" => t(Kind::Text, DataType::TEXT),
            "json" => t(Kind::Json, DataType::Json),
            "binary" | "varbinary" | "image" | "timestamp" | "rowversion" => {
                t(Kind::Bytes, DataType::Bytes)
            }
            "uniqueidentifier" => t(Kind::Uuid, DataType::Uuid),
            "date" => t(Kind::Date, DataType::Date),
            "time" => t(Kind::Time, DataType::Time),
            "datetime" | "smalldatetime" | "datetime2" => t(Kind::Timestamp, DataType::Timestamp),
            "datetimeoffset" => t(Kind::TimestampTz, DataType::TimestampTz),
            _ => t(Kind::Text, DataType::TEXT),
        }
    }

    /// The expression a table read selects for this column: money cast to an exact decimal
    /// on the server, everything else as it is.
    pub fn select_expr(&self, column: &str) -> String {
        let q = quote_ident(column);
        match self.kind {
            Kind::Money => format!("CAST({q} AS decimal(19,4)) AS {q}"),
            _ => q,
        }
    }
}

fn numeric(precision: u32, scale: u32) -> DataType {
    DataType::Decimal {
        precision: Some(precision),
        scale: Some(scale),
    }
}

/// `name` in brackets (`]` doubled).
pub fn quote_ident(name: &str) -> String {
    format!("[{}]", name.replace(']', "]]"))
}

/// `db.schema.table`, `schema.table` or `table`, each part bracketed; parts already in
/// brackets or double quotes are kept as written.
pub fn quote_table(name: &str) -> Result<String, String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut close: Option<char> = None;
    let mut chars = name.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match (close, c) {
            (Some(q), c) if c == q && chars.peek() == Some(&q) => {
                chars.next();
                cur.push(q);
            }
            (Some(q), c) if c == q => close = None,
            (Some(_), c) => cur.push(c),
            (None, '[') => close = Some(']'),
            (None, '"') => close = Some('"'),
            (None, '.') => parts.push(std::mem::take(&mut cur)),
            (None, c) => cur.push(c),
        }
    }
    parts.push(cur);
    if close.is_some() || parts.iter().any(String::is_empty) || parts.len() > 3 {
        return Err(format!(
            "table name '{name}': expected TABLE, SCHEMA.TABLE or DATABASE.SCHEMA.TABLE"
        ));
    }
    Ok(parts
        .iter()
        .map(|p| quote_ident(p))
        .collect::<Vec<_>>()
        .join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> String {
        MsType::parse(s).data_type.to_string()
    }

    #[test]
    fn declared_types_map_to_exact_types() {
        assert_eq!(dt("decimal(38,10)"), "numeric(38,10)");
        assert_eq!(dt("numeric(5,0)"), "numeric(5,0)");
        assert_eq!(dt("money"), "numeric(19,4)");
        assert_eq!(dt("smallmoney"), "numeric(10,4)");
        assert_eq!(dt("datetime2(7)"), "timestamp");
        assert_eq!(dt("datetimeoffset(3)"), "timestamptz");
        assert_eq!(dt("uniqueidentifier"), "uuid");
        assert_eq!(dt("nvarchar(40)"), "varchar(40)");
        assert_eq!(dt("nvarchar(max)"), "text");
        assert_eq!(dt("varbinary(max)"), "bytea");
        assert_eq!(dt("bit"), "boolean");
        assert_eq!(dt("tinyint"), "smallint");
        assert_eq!(dt("float"), "double precision");
        assert_eq!(dt("float(24)"), "real");
        assert_eq!(dt("rowversion"), "bytea");
        assert_eq!(MsType::parse("money").kind, Kind::Money);
    }

    #[test]
    fn money_is_cast_to_an_exact_decimal_in_table_reads() {
        assert_eq!(
            MsType::parse("money").select_expr("a]b"),
            "CAST([a]]b] AS decimal(19,4)) AS [a]]b]"
        );
        assert_eq!(MsType::parse("int").select_expr("n"), "[n]");
    }

    #[test]
    fn table_names_are_bracketed() {
        assert_eq!(quote_table("dbo.orders").unwrap(), "[dbo].[orders]");
        assert_eq!(
            quote_table("[my db].dbo.[a]]b]").unwrap(),
            "[my db].[dbo].[a]]b]"
        );
        assert_eq!(quote_table("\"x.y\"").unwrap(), "[x.y]");
        assert!(quote_table("a.b.c.d").is_err());
    }
}
