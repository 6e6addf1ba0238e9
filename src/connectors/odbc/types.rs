//! Driver metadata (SQLDescribeCol) → our column types (docs/operations.md, "ODBC and
//! Oracle sources"), and how each column is fetched: into a bounded column buffer, or row by
//! row when the driver gives it no usable bound (long text and binary).

use odbc_api::sys::SqlDataType;
use odbc_api::DataType as Odbc;

use crate::data::DataType;

/// How a column's values are fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fetch {
    /// UTF-16 text of at most this many code units per value, parsed by the column's type
    /// (exact decimals stay text until then).
    Text(usize),
    Binary(usize),
    /// No bound: SQLGetData, row by row.
    LongText,
    LongBinary,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OdbcType {
    pub data_type: DataType,
    pub fetch: Fetch,
}

/// A value longer than this (characters or bytes) is not given a column buffer: one row of it
/// times the rows of a batch would swamp the byte budget.
pub const MAX_BOUND: usize = 32_768;
/// SQL Server's datetimeoffset (msodbcsql's SQL_SS_TIMESTAMPOFFSET).
const SS_TIMESTAMPOFFSET: i16 = -155;
/// Oracle's TIMESTAMP WITH (LOCAL) TIME ZONE as some drivers report it.
const TIMESTAMP_WITH_TIMEZONE: i16 = 95;
const GUID: i16 = -11;

impl OdbcType {
    pub fn of(t: &Odbc) -> OdbcType {
        let text = |len: Option<std::num::NonZeroUsize>, fallback: usize| {
            let n = len.map_or(0, |n| n.get());
            // Above MAX_BOUND a length is a driver's default for "no declared length" (SQLite's
            // 65536, MariaDB's LONGTEXT) more often than a real limit: text.
            let max_len = Some(n as u32).filter(|_| (1..=MAX_BOUND).contains(&n));
            let fetch = if n == 0 || n > MAX_BOUND {
                Fetch::LongText
            } else {
                Fetch::Text(n.max(fallback))
            };
            OdbcType {
                data_type: DataType::Text { max_len },
                fetch,
            }
        };
        let plain = |data_type: DataType, width: usize| OdbcType {
            data_type,
            fetch: Fetch::Text(width),
        };
        match *t {
            Odbc::Bit => plain(DataType::Bool, 8),
            Odbc::TinyInt | Odbc::SmallInt => plain(DataType::Int16, 8),
            Odbc::Integer => plain(DataType::Int32, 12),
            Odbc::BigInt => plain(DataType::Int64, 21),
            Odbc::Real => plain(DataType::Float32, 32),
            Odbc::Float { precision } if precision <= 24 && precision > 0 => {
                plain(DataType::Float32, 32)
            }
            Odbc::Float { .. } | Odbc::Double => plain(DataType::Float64, 32),
            Odbc::Numeric { precision, scale } | Odbc::Decimal { precision, scale } => {
                // A precision the driver cannot tell (Oracle's NUMBER without one reports 0
                // or 38 with scale -127) becomes unconstrained numeric.
                let known =
                    (1..=1000).contains(&precision) && scale >= 0 && scale as usize <= precision;
                let data_type = DataType::Decimal {
                    precision: known.then_some(precision as u32),
                    scale: known.then_some(scale as u32),
                };
                plain(data_type, if known { precision + 3 } else { 160 })
            }
            Odbc::Char { length }
            | Odbc::WChar { length }
            | Odbc::Varchar { length }
            | Odbc::WVarchar { length } => text(length, 1),
            Odbc::LongVarchar { .. } | Odbc::WLongVarchar { .. } => OdbcType {
                data_type: DataType::TEXT,
                fetch: Fetch::LongText,
            },
            Odbc::Binary { length } | Odbc::Varbinary { length } => {
                let n = length.map_or(0, |n| n.get());
                OdbcType {
                    data_type: DataType::Bytes,
                    fetch: if n == 0 || n > MAX_BOUND {
                        Fetch::LongBinary
                    } else {
                        Fetch::Binary(n)
                    },
                }
            }
            Odbc::LongVarbinary { .. } => OdbcType {
                data_type: DataType::Bytes,
                fetch: Fetch::LongBinary,
            },
            Odbc::Date => plain(DataType::Date, 16),
            Odbc::Time { .. } => plain(DataType::Time, 24),
            // Text with the driver's own offset when the type is zoned, so both kinds read
            // exactly (decode.rs converts offsets to UTC).
            Odbc::Timestamp { .. } => plain(DataType::Timestamp, 40),
            Odbc::Other {
                data_type: SqlDataType(code),
                column_size,
                ..
            } => match code {
                SS_TIMESTAMPOFFSET | TIMESTAMP_WITH_TIMEZONE => plain(DataType::TimestampTz, 48),
                GUID => plain(DataType::Uuid, 40),
                _ => text(column_size, 1),
            },
            Odbc::Unknown => OdbcType {
                data_type: DataType::TEXT,
                fetch: Fetch::LongText,
            },
        }
    }

    /// Bytes one row of this column takes in a column buffer (value, terminator, indicator).
    pub fn row_bytes(&self) -> usize {
        match self.fetch {
            Fetch::Text(n) => (n + 1) * 2 + 8,
            Fetch::Binary(n) => n + 8,
            Fetch::LongText | Fetch::LongBinary => 0,
        }
    }

    pub fn is_long(&self) -> bool {
        matches!(self.fetch, Fetch::LongText | Fetch::LongBinary)
    }
}

/// `name` as an identifier in the dialect's quotes: backticks for MySQL/MariaDB (unless
/// ANSI_QUOTES), double quotes for everything else.
pub fn quote_ident(name: &str, backticks: bool) -> String {
    if backticks {
        format!("`{}`", name.replace('`', "``"))
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `schema.table` or `table`, each part quoted; a part already in quotes is kept as written.
pub fn quote_table(name: &str, backticks: bool) -> Result<String, String> {
    let q = if backticks { '`' } else { '"' };
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = name.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c == q && quoted && chars.peek() == Some(&q) => {
                chars.next();
                cur.push(q);
            }
            c if c == q => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    if quoted || parts.iter().any(String::is_empty) || parts.len() > 3 {
        return Err(format!(
            "table name '{name}': expected TABLE, SCHEMA.TABLE or CATALOG.SCHEMA.TABLE"
        ));
    }
    Ok(parts
        .iter()
        .map(|p| quote_ident(p, backticks))
        .collect::<Vec<_>>()
        .join("."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroUsize;

    fn dt(t: Odbc) -> String {
        OdbcType::of(&t).data_type.to_string()
    }

    #[test]
    fn driver_types_map_to_exact_types() {
        assert_eq!(
            dt(Odbc::Decimal {
                precision: 38,
                scale: 10
            }),
            "numeric(38,10)"
        );
        // Oracle's NUMBER without precision.
        assert_eq!(
            dt(Odbc::Decimal {
                precision: 0,
                scale: -127
            }),
            "numeric"
        );
        assert_eq!(dt(Odbc::Bit), "boolean");
        assert_eq!(dt(Odbc::TinyInt), "smallint");
        assert_eq!(dt(Odbc::BigInt), "bigint");
        assert_eq!(dt(Odbc::Float { precision: 53 }), "double precision");
        assert_eq!(
            dt(Odbc::WVarchar {
                length: NonZeroUsize::new(40)
            }),
            "varchar(40)"
        );
        assert_eq!(dt(Odbc::Timestamp { precision: 6 }), "timestamp");
        let tz = Odbc::Other {
            data_type: SqlDataType(-155),
            column_size: None,
            decimal_digits: 7,
        };
        assert_eq!(dt(tz), "timestamptz");
    }

    #[test]
    fn long_columns_are_fetched_row_by_row() {
        let clob = OdbcType::of(&Odbc::WLongVarchar {
            length: NonZeroUsize::new(2_147_483_647),
        });
        assert_eq!(clob.fetch, Fetch::LongText);
        assert_eq!(clob.data_type.to_string(), "text");
        let raw = OdbcType::of(&Odbc::Varbinary {
            length: NonZeroUsize::new(16),
        });
        assert_eq!(raw.fetch, Fetch::Binary(16));
        let big = OdbcType::of(&Odbc::Varchar {
            length: NonZeroUsize::new(1_000_000),
        });
        assert!(big.is_long());
        assert_eq!(big.data_type.to_string(), "text");
    }

    #[test]
    fn table_names_are_quoted() {
        assert_eq!(quote_table("s.orders", false).unwrap(), "\"s\".\"orders\"");
        assert_eq!(quote_table("\"a.b\".t", false).unwrap(), "\"a.b\".\"t\"");
        assert_eq!(quote_table("orders", true).unwrap(), "`orders`");
        assert!(quote_table("a..b", false).is_err());
    }
}
