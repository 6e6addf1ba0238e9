//! Column types of JSON records. Undeclared columns are inferred from the first page with the
//! CSV inference (`csv/infer.rs`), so a value never changes on its way in: numbers keep their
//! digits (integer, bigint or numeric(p,s)), strings become date / timestamp / timestamptz /
//! uuid only when every one of them reads exactly as such, and objects or arrays are json.

use serde_json::value::RawValue;

use super::body::{Fields, Json};
use crate::connectors::csv::infer::{self, Kind, Shape};
use crate::data::{Column, DataType, Schema, Value};

/// What a column's values seen so far have in common.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum ColKind {
    #[default]
    Empty,
    Scalar(Kind),
    /// An object or array was seen: every value is kept as JSON.
    Json,
}

impl ColKind {
    fn add(self, v: &Json) -> ColKind {
        let shape = match v {
            Json::Null => return self,
            Json::Nested(_) => return ColKind::Json,
            Json::Bool(b) => Shape::Bool(*b),
            Json::Number(n) => infer::classify(n),
            // Strings that look like numbers or booleans stay text: an API that quotes an
            // id or a code ("007", "42") means it as text.
            Json::String(s) => match infer::classify(s) {
                Shape::Int { .. } | Shape::Decimal { .. } | Shape::Bool(_) => Shape::Text,
                shape => shape,
            },
        };
        match self {
            ColKind::Json => ColKind::Json,
            ColKind::Empty => ColKind::Scalar(Kind::Empty.add(&shape)),
            ColKind::Scalar(k) => ColKind::Scalar(k.add(&shape)),
        }
    }

    fn data_type(self) -> DataType {
        match self {
            ColKind::Empty => DataType::TEXT,
            ColKind::Json => DataType::Json,
            ColKind::Scalar(k) => k.data_type(),
        }
    }
}

/// The columns: field names in the order they first appear, declared types over inferred
/// ones, declared columns the sample never showed at the end.
pub fn infer_schema(
    sample: &[&RawValue],
    declared: &[(String, DataType)],
) -> Result<Schema, String> {
    let mut names: Vec<String> = Vec::new();
    let mut kinds: Vec<ColKind> = Vec::new();
    for (n, rec) in sample.iter().enumerate() {
        let fields: Fields = serde_json::from_str(rec.get())
            .map_err(|e| format!("record {} is not a JSON object: {e}", n + 1))?;
        for (k, v) in &fields.0 {
            let i = match names.iter().position(|x| x == k) {
                Some(i) => i,
                None => {
                    names.push(k.clone());
                    kinds.push(ColKind::Empty);
                    names.len() - 1
                }
            };
            kinds[i] = kinds[i].add(&Json::of(v)?);
        }
    }
    let mut columns: Vec<Column> = names
        .into_iter()
        .zip(kinds)
        .map(|(name, kind)| {
            let ty = declared
                .iter()
                .find(|(d, _)| *d == name)
                .map(|(_, t)| t.clone())
                .unwrap_or_else(|| kind.data_type());
            Column::new(name, ty)
        })
        .collect();
    for (name, ty) in declared {
        if !columns.iter().any(|c| c.name == *name) {
            columns.push(Column::new(name.clone(), ty.clone()));
        }
    }
    if columns.is_empty() {
        return Err(
            "the first page has no records to take the columns from; declare them with columns: #{ name: \"type\", ... }"
                .into(),
        );
    }
    Ok(Schema::new(columns))
}

/// Why a record does not fit the columns.
#[derive(Debug, PartialEq)]
pub struct Misfit {
    pub column: Option<String>,
    pub reason: String,
}

/// One record as a row of `schema` appended to `out`; missing fields and nulls are NULL. On
/// a misfit `out` is left as it was.
pub fn to_row(rec: &RawValue, schema: &Schema, out: &mut Vec<Value>) -> Result<(), Misfit> {
    let start = out.len();
    let filled = fill(rec, schema, out, start);
    if filled.is_err() {
        out.truncate(start);
    }
    filled
}

fn fill(rec: &RawValue, schema: &Schema, out: &mut Vec<Value>, start: usize) -> Result<(), Misfit> {
    let fields: Fields = serde_json::from_str(rec.get()).map_err(|e| Misfit {
        column: None,
        reason: format!("not a JSON object: {e}"),
    })?;
    out.resize(start + schema.len(), Value::Null);
    for (k, v) in fields.0 {
        let Some(i) = schema.index_of(&k) else {
            return Err(Misfit {
                reason: format!(
                    "field '{k}' is not one of the columns (the first page did not have it); declare it with columns: #{{ {k}: \"text\" }}"
                ),
                column: Some(k),
            });
        };
        let ty = &schema.columns[i].data_type;
        let value = Json::of(v).and_then(|json| value(&json, ty));
        match value {
            Ok(value) => out[start + i] = value,
            Err(reason) => {
                return Err(Misfit {
                    column: Some(k),
                    reason,
                })
            }
        }
    }
    Ok(())
}

/// A JSON value as a value of `ty`: exactly, or an error saying why not.
fn value(v: &Json, ty: &DataType) -> Result<Value, String> {
    let text = match v {
        Json::Null => return Ok(Value::Null),
        Json::Nested(t) => match ty {
            DataType::Json => return Ok(Value::Json(t.to_string())),
            DataType::Text { max_len: None } => return Ok(Value::Text(t.to_string())),
            _ => {
                return Err(format!(
                    "{} is not a value of type {ty}",
                    super::body::shorten(t)
                ))
            }
        },
        Json::Bool(b) => if *b { "true" } else { "false" }.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => {
            if *ty == DataType::Json {
                return Ok(Value::Json(
                    serde_json::to_string(s).expect("a string serializes"),
                ));
            }
            s.clone()
        }
    };
    if *ty == DataType::Json {
        return Ok(Value::Json(text));
    }
    infer::convert_inferred(&text, ty).map_err(|m| m.reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs(json: &str) -> Vec<&RawValue> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn types_come_from_the_values_without_changing_them() {
        let page = r#"[
            {"id": 1, "amount": 12.50, "at": "2024-01-31T10:00:00Z", "code": "007", "tags": ["a"], "note": null, "ok": true},
            {"id": 3000000000, "amount": 3.125, "at": "2024-02-01T00:00:00+02:00", "code": "42", "tags": {"b": 1}, "ok": false}
        ]"#;
        let schema = infer_schema(&recs(page), &[]).unwrap();
        let types: Vec<String> = schema
            .columns
            .iter()
            .map(|c| format!("{} {}", c.name, c.data_type))
            .collect();
        assert_eq!(
            types,
            [
                "id bigint",
                "amount numeric(5,3)",
                "at timestamptz",
                "code text",
                "tags json",
                "note text",
                "ok boolean"
            ]
        );
        let mut row = Vec::new();
        to_row(recs(page)[0], &schema, &mut row).unwrap();
        assert_eq!(row[1].to_text().unwrap(), "12.500");
        assert_eq!(row[3], Value::Text("007".into()));
        assert_eq!(row[4], Value::Json(r#"["a"]"#.into()));
        assert_eq!(row[5], Value::Null);
    }

    #[test]
    fn declared_types_win_and_misfits_name_their_column() {
        let page = r#"[{"id": 1, "amount": 12.50}, {"id": 2, "amount": 1.255, "extra": 1}]"#;
        let declared = vec![(
            "amount".to_string(),
            DataType::parse("numeric(12,2)").unwrap(),
        )];
        let schema = infer_schema(&recs(page)[..1], &declared).unwrap();
        let mut row = Vec::new();
        to_row(recs(page)[0], &schema, &mut row).unwrap();
        assert_eq!(row[1].to_text().unwrap(), "12.50");
        let mut row = Vec::new();
        let m = to_row(recs(page)[1], &schema, &mut row).unwrap_err();
        assert_eq!(m.column.as_deref(), Some("amount"));
        assert!(row.is_empty());
    }

    #[test]
    fn no_records_and_no_columns_is_an_error_saying_what_to_do() {
        assert!(infer_schema(&[], &[]).unwrap_err().contains("columns: #{"));
    }
}
