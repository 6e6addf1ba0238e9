//! MySQL/MariaDB column metadata → our column types (the mapping table of docs/operations.md,
//! "MySQL / MariaDB sources"). Dialect data: one function, no scattered `if`s.

use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::Column;

use crate::data::DataType;

/// How a column's wire values become ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int16,
    Int32,
    Int64,
    /// bigint unsigned: numeric(20,0).
    UInt64,
    Float32,
    Float64,
    /// Exact decimal text from the server.
    Decimal,
    Text,
    Json,
    Bytes,
    Date,
    Timestamp,
    TimestampTz,
    /// TIME: signed and up to 838 hours, so an interval.
    Time,
    /// bit(n), big-endian bytes: bigint (n < 64) or numeric(20,0) (n = 64).
    Bit,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MyType {
    pub kind: Kind,
    pub data_type: DataType,
}

/// The binary pseudo-charset: varbinary/blob rather than varchar/text.
const BINARY_CHARSET: u16 = 63;

/// PostgreSQL's varchar limit; longer declared lengths become text.
const MAX_VARCHAR: u32 = 10_485_760;

/// Bytes per character of the result charset (the connection's, utf8mb4, for text columns).
fn max_bytes_per_char(charset: u16) -> u32 {
    match charset {
        // latin1, ascii, ... single-byte charsets (the common ones).
        5 | 8 | 11 | 31 | 47 | 48 | 49 | 94 => 1,
        // utf8mb3
        33 | 76 | 83 | 192..=215 | 223 => 3,
        // ucs2 / utf16 / utf32 are not result charsets here; utf8mb4 and unknown: 4.
        _ => 4,
    }
}

impl MyType {
    pub fn of(col: &Column, tinyint1_as_bool: bool) -> MyType {
        use ColumnType::*;
        let flags = col.flags();
        let unsigned = flags.contains(ColumnFlags::UNSIGNED_FLAG);
        let binary = col.character_set() == BINARY_CHARSET;
        let len = col.column_length();
        let t = |kind: Kind, data_type: DataType| MyType { kind, data_type };
        match col.column_type() {
            MYSQL_TYPE_TINY if tinyint1_as_bool && len == 1 && !unsigned => {
                t(Kind::Bool, DataType::Bool)
            }
            MYSQL_TYPE_TINY => t(Kind::Int16, DataType::Int16),
            MYSQL_TYPE_SHORT if unsigned => t(Kind::Int32, DataType::Int32),
            MYSQL_TYPE_SHORT => t(Kind::Int16, DataType::Int16),
            MYSQL_TYPE_INT24 => t(Kind::Int32, DataType::Int32),
            MYSQL_TYPE_LONG if unsigned => t(Kind::Int64, DataType::Int64),
            MYSQL_TYPE_LONG => t(Kind::Int32, DataType::Int32),
            MYSQL_TYPE_LONGLONG if unsigned => t(Kind::UInt64, numeric(20, 0)),
            MYSQL_TYPE_LONGLONG => t(Kind::Int64, DataType::Int64),
            MYSQL_TYPE_YEAR => t(Kind::Int16, DataType::Int16),
            MYSQL_TYPE_FLOAT => t(Kind::Float32, DataType::Float32),
            MYSQL_TYPE_DOUBLE => t(Kind::Float64, DataType::Float64),
            MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => {
                let scale = u32::from(col.decimals());
                // The display length counts the sign (signed columns) and the point.
                let precision = len
                    .saturating_sub(u32::from(scale > 0))
                    .saturating_sub(u32::from(!unsigned))
                    .clamp(scale.max(1), 1000);
                t(Kind::Decimal, numeric(precision, scale))
            }
            MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => t(Kind::Date, DataType::Date),
            MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2 => t(Kind::Timestamp, DataType::Timestamp),
            MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => {
                t(Kind::TimestampTz, DataType::TimestampTz)
            }
            MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => t(Kind::Time, DataType::Interval),
            MYSQL_TYPE_BIT if len >= 64 => t(Kind::Bit, numeric(20, 0)),
            MYSQL_TYPE_BIT => t(Kind::Bit, DataType::Int64),
            MYSQL_TYPE_JSON => t(Kind::Json, DataType::Json),
            MYSQL_TYPE_GEOMETRY => t(Kind::Bytes, DataType::Bytes),
            MYSQL_TYPE_ENUM | MYSQL_TYPE_SET => t(Kind::Text, DataType::TEXT),
            MYSQL_TYPE_VAR_STRING | MYSQL_TYPE_STRING | MYSQL_TYPE_VARCHAR => {
                if binary {
                    t(Kind::Bytes, DataType::Bytes)
                } else if flags.intersects(ColumnFlags::ENUM_FLAG | ColumnFlags::SET_FLAG) {
                    t(Kind::Text, DataType::TEXT)
                } else {
                    let chars = len / max_bytes_per_char(col.character_set());
                    let max_len = Some(chars).filter(|n| (1..=MAX_VARCHAR).contains(n));
                    t(Kind::Text, DataType::Text { max_len })
                }
            }
            MYSQL_TYPE_TINY_BLOB
            | MYSQL_TYPE_MEDIUM_BLOB
            | MYSQL_TYPE_LONG_BLOB
            | MYSQL_TYPE_BLOB => {
                if binary {
                    t(Kind::Bytes, DataType::Bytes)
                } else {
                    t(Kind::Text, DataType::TEXT)
                }
            }
            // NULL literals, vectors, anything newer: their text.
            _ if binary => t(Kind::Bytes, DataType::Bytes),
            _ => t(Kind::Text, DataType::TEXT),
        }
    }

    /// A text column MariaDB declares JSON (LONGTEXT with a json_valid check).
    pub fn json() -> MyType {
        MyType {
            kind: Kind::Json,
            data_type: DataType::Json,
        }
    }
}

fn numeric(precision: u32, scale: u32) -> DataType {
    DataType::Decimal {
        precision: Some(precision),
        scale: Some(scale),
    }
}

/// `name` as a MySQL identifier in backticks.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `db.table` or `table`, each part quoted. Backticks in the script's name are honoured.
pub fn quote_table(name: &str) -> Result<String, String> {
    let parts = split_name(name)?;
    Ok(parts
        .iter()
        .map(|p| quote_ident(p))
        .collect::<Vec<_>>()
        .join("."))
}

/// The parts of `db.table`, `` `my db`.`t` `` or `t`.
pub fn split_name(name: &str) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = name.trim().chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '`' if quoted && chars.peek() == Some(&'`') => {
                chars.next();
                cur.push('`');
            }
            '`' => {
                quoted = !quoted;
                was_quoted = true;
            }
            '.' if !quoted => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(format!("table name '{name}': unclosed backtick"));
    }
    parts.push(cur);
    if parts.iter().any(|p| p.is_empty() && !was_quoted) || parts.len() > 2 {
        return Err(format!(
            "table name '{name}': expected TABLE or DATABASE.TABLE"
        ));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_quoted() {
        assert_eq!(quote_table("orders").unwrap(), "`orders`");
        assert_eq!(quote_table("shop.orders").unwrap(), "`shop`.`orders`");
        assert_eq!(quote_table("`my.db`.`a``b`").unwrap(), "`my.db`.`a``b`");
        assert!(quote_table("a.b.c").is_err());
    }

    #[test]
    fn integer_types_widen_to_hold_every_value() {
        let col = |ty, flags, len| {
            Column::new(ty)
                .with_flags(flags)
                .with_column_length(len)
                .with_character_set(BINARY_CHARSET)
        };
        let u = ColumnFlags::UNSIGNED_FLAG;
        let none = ColumnFlags::empty();
        let dt = |c: Column| MyType::of(&c, true).data_type.to_string();
        assert_eq!(dt(col(ColumnType::MYSQL_TYPE_TINY, none, 1)), "boolean");
        assert_eq!(
            MyType::of(&col(ColumnType::MYSQL_TYPE_TINY, none, 1), false)
                .data_type
                .to_string(),
            "smallint"
        );
        assert_eq!(dt(col(ColumnType::MYSQL_TYPE_TINY, u, 3)), "smallint");
        assert_eq!(dt(col(ColumnType::MYSQL_TYPE_SHORT, u, 5)), "integer");
        assert_eq!(dt(col(ColumnType::MYSQL_TYPE_INT24, u, 8)), "integer");
        assert_eq!(dt(col(ColumnType::MYSQL_TYPE_LONG, u, 10)), "bigint");
        assert_eq!(
            dt(col(ColumnType::MYSQL_TYPE_LONGLONG, u, 20)),
            "numeric(20,0)"
        );
        let dec = Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL)
            .with_column_length(67)
            .with_decimals(30);
        assert_eq!(dt(dec), "numeric(65,30)");
        let dec = Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL)
            .with_column_length(14)
            .with_decimals(2);
        assert_eq!(dt(dec), "numeric(12,2)");
    }
}
