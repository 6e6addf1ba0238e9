//! Named parameters bound to a prepared statement: each value is encoded for the type the
//! server inferred for its `$n` (a text parameter compared with a timestamp is parsed as one),
//! never formatted into the SQL.

use std::error::Error;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{IsNull, ToSql, Type};

use super::types::{PgType, Wire};
use super::wire;
use crate::connectors::sql_params::{self, Rewritten};
use crate::connectors::Params;
use crate::data::Value;

/// A parameter's value. The open ends of a cursor window are the extremes of whatever type the
/// server inferred, so `cursor >= :since` selects every row when there is no watermark yet.
#[derive(Clone, Debug)]
pub enum BindValue {
    Value(Value),
    Lowest,
    Highest,
}

#[derive(Debug)]
pub struct Bind {
    pub name: String,
    pub value: BindValue,
}

/// Rewrites `:name` parameters to `$n` and pairs each with its value. A parameter the SQL names
/// but `params` lacks is an error listing what was given.
pub fn prepare(sql: &str, params: &Params) -> Result<(String, Vec<Bind>), String> {
    let Rewritten { sql, names } = sql_params::rewrite(sql)?;
    let binds = names
        .into_iter()
        .map(|name| {
            let value = params
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| sql_params::missing(&format!(":{name}"), params))?;
            Ok(Bind {
                name,
                value: BindValue::Value(value),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok((sql, binds))
}

impl ToSql for Bind {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let t = PgType::from_type(ty, -1);
        let result = match &self.value {
            BindValue::Value(Value::Null) => return Ok(IsNull::Yes),
            BindValue::Value(v) => wire::encode(v, &t.wire, out),
            BindValue::Lowest => extreme(&t.wire, false, out),
            BindValue::Highest => extreme(&t.wire, true, out),
        };
        result.map_err(|e| format!("parameter :{} ({}): {e}", self.name, ty.name()))?;
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

fn extreme(wire: &Wire, high: bool, out: &mut BytesMut) -> Result<(), String> {
    match wire {
        Wire::Int2 => out.put_i16(if high { i16::MAX } else { i16::MIN }),
        Wire::Int4 => out.put_i32(if high { i32::MAX } else { i32::MIN }),
        Wire::Int8 => out.put_i64(if high { i64::MAX } else { i64::MIN }),
        Wire::Float4 => out.put_f32(if high {
            f32::INFINITY
        } else {
            f32::NEG_INFINITY
        }),
        Wire::Float8 => out.put_f64(if high {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        }),
        Wire::Numeric => {
            // numeric ±Infinity (PostgreSQL 14+).
            out.put_i16(0);
            out.put_i16(0);
            out.put_u16(if high { 0xD000 } else { 0xF000 });
            out.put_u16(0);
        }
        // ±infinity.
        Wire::Date => out.put_i32(if high { i32::MAX } else { i32::MIN }),
        Wire::Timestamp(_) | Wire::TimestampTz(_) => {
            out.put_i64(if high { i64::MAX } else { i64::MIN })
        }
        Wire::Time(_) => out.put_i64(if high { 86_400_000_000 } else { 0 }),
        Wire::Interval => {
            out.put_i64(if high { i64::MAX } else { i64::MIN });
            out.put_i32(if high { i32::MAX } else { i32::MIN });
            out.put_i32(if high { i32::MAX } else { i32::MIN });
        }
        Wire::Uuid => out.put_slice(&[if high { 0xff } else { 0 }; 16]),
        // '' sorts first in every collation; no string sorts last in all of them, so the
        // highest code point stands in.
        Wire::Text => {
            if high {
                out.put_slice("\u{10FFFF}\u{10FFFF}\u{10FFFF}\u{10FFFF}".as_bytes())
            }
        }
        other => {
            return Err(format!(
                "an open window bound has no value of {other:?}; pass :since/:until explicitly"
            ))
        }
    }
    Ok(())
}

/// The values as `&dyn ToSql` for tokio-postgres.
pub fn refs(binds: &[Bind]) -> Vec<&(dyn ToSql + Sync)> {
    binds.iter().map(|b| b as &(dyn ToSql + Sync)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_names_with_values_and_reports_missing_ones() {
        let params = vec![
            ("a".to_string(), Value::Int64(1)),
            ("b".to_string(), Value::Null),
        ];
        let (sql, binds) = prepare("SELECT :b, :a, :b", &params).unwrap();
        assert_eq!(sql, "SELECT $1, $2, $1");
        assert_eq!(
            binds.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
            ["b", "a"]
        );
        let e = prepare("SELECT :c", &params).unwrap_err();
        assert!(e.contains(":c has no value (given: a, b)"), "{e}");
    }

    #[test]
    fn encodes_for_the_inferred_type() {
        let b = Bind {
            name: "since".into(),
            value: BindValue::Value(Value::Text("2024-01-01".into())),
        };
        let mut buf = BytesMut::new();
        assert!(matches!(
            b.to_sql(&Type::TIMESTAMP, &mut buf),
            Ok(IsNull::No)
        ));
        assert_eq!(buf.len(), 8);
        let bad = Bind {
            name: "n".into(),
            value: BindValue::Value(Value::Text("x".into())),
        };
        let e = bad
            .to_sql(&Type::INT4, &mut BytesMut::new())
            .err()
            .expect("an error")
            .to_string();
        assert!(e.contains("parameter :n (int4)"), "{e}");
        let low = Bind {
            name: "since".into(),
            value: BindValue::Lowest,
        };
        let mut buf = BytesMut::new();
        assert!(low.to_sql(&Type::TIMESTAMPTZ, &mut buf).is_ok());
        assert_eq!(&buf[..], &i64::MIN.to_be_bytes());
    }
}
