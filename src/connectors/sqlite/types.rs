//! SQLite's side of the type map. SQLite stores by affinity, so every type name here is
//! chosen for the affinity that keeps values exact: decimals and JSON get TEXT affinity
//! (a NUMERIC column would turn "10.50" into the float 10.5).

use rusqlite::types::{Value as Sql, ValueRef};

use crate::data::{DataType, Decimal, Value};

pub fn type_name(t: &DataType) -> String {
    match t {
        DataType::Bool => "BOOLEAN".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Float32 => "FLOAT4".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal {
            precision: Some(p),
            scale,
        } => format!("DECIMAL_TEXT({p},{})", scale.unwrap_or(0)),
        DataType::Decimal { .. } => "DECIMAL_TEXT".into(),
        DataType::Text { max_len: Some(n) } => format!("VARCHAR({n})"),
        DataType::Text { max_len: None } => "TEXT".into(),
        DataType::Date => "DATE".into(),
        DataType::Time => "TIME".into(),
        DataType::Timestamp => "TIMESTAMP".into(),
        DataType::TimestampTz => "TIMESTAMPTZ".into(),
        DataType::Json => "JSON_TEXT".into(),
        DataType::Uuid => "UUID".into(),
        DataType::Bytes => "BLOB".into(),
        // Text affinity in practice: interval text never looks like a number.
        DataType::Interval => "INTERVAL".into(),
        // Stored as JSON text (see `write`), which SQLite's json functions can read.
        DataType::Array(elem) => format!("{}[]", type_name(elem)),
    }
}

/// Reads a declared column type back (ours or a hand-made table's). None when the column has
/// no declared type (an expression in a query): the caller looks at the stored values.
pub fn from_decl(decl: &str) -> Option<DataType> {
    let d = decl.trim().to_ascii_uppercase();
    if d.is_empty() {
        return None;
    }
    if let Some(elem) = d.strip_suffix("[]") {
        return Some(DataType::Array(Box::new(
            from_decl(elem).unwrap_or(DataType::TEXT),
        )));
    }
    let args = || -> Vec<u32> {
        d.find('(')
            .map(|i| {
                d[i + 1..]
                    .trim_end_matches(')')
                    .split(',')
                    .filter_map(|a| a.trim().parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let base = d.split('(').next().unwrap_or_default().trim();
    Some(match base {
        "BOOLEAN" | "BOOL" => DataType::Bool,
        "SMALLINT" | "INT2" | "TINYINT" => DataType::Int16,
        "INT" | "INT4" | "MEDIUMINT" => DataType::Int32,
        "FLOAT4" => DataType::Float32,
        "DATE" => DataType::Date,
        "TIME" => DataType::Time,
        "TIMESTAMP" | "DATETIME" => DataType::Timestamp,
        "TIMESTAMPTZ" => DataType::TimestampTz,
        "JSON_TEXT" | "JSON" | "JSONB" => DataType::Json,
        "UUID" => DataType::Uuid,
        "INTERVAL" => DataType::Interval,
        "BLOB" | "BYTEA" => DataType::Bytes,
        b if b.contains("DECIMAL") || b.contains("NUMERIC") => {
            let a = args();
            DataType::Decimal {
                precision: a.first().copied(),
                scale: a.first().map(|_| a.get(1).copied().unwrap_or(0)),
            }
        }
        // SQLite integers are 64-bit whatever they are called.
        b if b.contains("INT") => DataType::Int64,
        b if b.contains("CHAR") || b.contains("CLOB") || b.contains("TEXT") => DataType::Text {
            max_len: if b.contains("CHAR") {
                args().first().copied()
            } else {
                None
            },
        },
        b if b.contains("REAL") || b.contains("FLOA") || b.contains("DOUB") => DataType::Float64,
        _ => DataType::TEXT,
    })
}

/// The type a stored value suggests, for columns without a declared type.
pub fn from_storage(v: ValueRef<'_>) -> Option<DataType> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(_) => Some(DataType::Int64),
        ValueRef::Real(_) => Some(DataType::Float64),
        ValueRef::Text(_) => Some(DataType::TEXT),
        ValueRef::Blob(_) => Some(DataType::Bytes),
    }
}

/// Converts a stored value to the column's type. Text is parsed with the same rules as any
/// text source; an integer or float stored in a text-typed column is read as its digits.
pub fn read(v: ValueRef<'_>, t: &DataType) -> Result<Value, String> {
    Ok(match (v, t) {
        (ValueRef::Null, _) => Value::Null,
        (ValueRef::Integer(i), DataType::Bool) => Value::Bool(i != 0),
        (
            ValueRef::Integer(i),
            DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::Decimal { .. },
        ) => Value::Int64(i).coerce(t)?,
        (ValueRef::Integer(i), DataType::Float64) => Value::Float64(i as f64),
        (ValueRef::Integer(i), DataType::Float32) => Value::Float32(i as f32),
        (ValueRef::Integer(i), DataType::Text { .. }) => Value::Text(i.to_string()),
        (ValueRef::Real(f), DataType::Float64) => Value::Float64(f),
        (ValueRef::Real(f), DataType::Float32) => Value::Float32(f as f32),
        // The shortest text that reads back as the same double: exact for what was stored.
        (ValueRef::Real(f), DataType::Decimal { .. }) => {
            Value::Decimal(Decimal::parse(&f.to_string())?).coerce(t)?
        }
        (ValueRef::Real(f), DataType::Text { .. }) => Value::Text(f.to_string()),
        (ValueRef::Text(b), _) => {
            let s = std::str::from_utf8(b).map_err(|e| format!("stored text is not UTF-8: {e}"))?;
            match t {
                DataType::Text { .. } => Value::Text(s.to_string()),
                _ => Value::parse(s, t)?,
            }
        }
        (ValueRef::Blob(b), DataType::Bytes) => Value::Bytes(b.to_vec()),
        (ValueRef::Blob(b), DataType::Uuid) if b.len() == 16 => {
            Value::Uuid(uuid::Uuid::from_slice(b).map_err(|e| e.to_string())?)
        }
        (other, t) => {
            return Err(format!(
                "a stored {:?} cannot be read as {t}",
                other.data_type()
            ))
        }
    })
}

/// The stored form of a value; text forms sort in time order for dates and timestamps.
pub fn write(v: &Value) -> Sql {
    match v {
        Value::Null => Sql::Null,
        Value::Bool(b) => Sql::Integer(*b as i64),
        Value::Int16(i) => Sql::Integer(*i as i64),
        Value::Int32(i) => Sql::Integer(*i as i64),
        Value::Int64(i) => Sql::Integer(*i),
        Value::Float32(f) => Sql::Real(*f as f64),
        Value::Float64(f) => Sql::Real(*f),
        Value::Bytes(b) => Sql::Blob(b.clone()),
        Value::TimestampTz(t) => Sql::Text(t.format("%Y-%m-%d %H:%M:%S%.f+00:00").to_string()),
        Value::Array(_) => {
            let mut json = String::new();
            crate::data::write_json(v, &mut json);
            Sql::Text(json)
        }
        other => Sql::Text(other.to_text().unwrap_or_default()),
    }
}

/// Each result column's name and declared type (None for an expression).
pub fn declared_columns(stmt: &rusqlite::Statement<'_>) -> Vec<(String, Option<DataType>)> {
    stmt.columns()
        .iter()
        .map(|c| (c.name().to_string(), c.decl_type().and_then(from_decl)))
        .collect()
}

pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_reads_back_as_itself() {
        for name in crate::data::EVERY_TYPE.iter().copied() {
            let t = DataType::parse(name).unwrap();
            assert_eq!(from_decl(&type_name(&t)), Some(t), "{name}");
        }
    }
}
