//! An object's fields from `GET sobjects/NAME/describe`, and the one table of Salesforce field
//! types to column types (docs/operations.md, "Salesforce sources", keeps the same table).

use serde::Deserialize;

use crate::data::DataType;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub sf_type: String,
    #[serde(default)]
    pub length: u32,
    #[serde(default)]
    pub precision: u32,
    #[serde(default)]
    pub scale: u32,
    #[serde(default)]
    pub relationship_name: Option<String>,
    #[serde(default)]
    pub reference_to: Vec<String>,
    #[serde(default)]
    pub nillable: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Describe {
    pub name: String,
    pub fields: Vec<Field>,
}

/// `GET sobjects/` (describeGlobal): the org's objects.
#[derive(Clone, Debug, Deserialize)]
pub struct Global {
    pub sobjects: Vec<GlobalObject>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct GlobalObject {
    pub name: String,
    #[serde(default)]
    pub queryable: bool,
}

impl Global {
    pub fn parse(body: &[u8]) -> Result<Global, String> {
        serde_json::from_slice(body)
            .map_err(|e| format!("the describeGlobal answer is not understood: {e}"))
    }
}

/// A field's type as introspection shows it: Salesforce's own type name, with the length of
/// text types and the precision and scale of numbers when describe gives them
/// (`string(255)`, `currency(18,2)`, `boolean`).
pub fn declared(f: &Field) -> String {
    let t = &f.sf_type;
    match t.as_str() {
        "currency" | "double" | "percent" if f.precision > 0 => {
            format!("{t}({},{})", f.precision, f.scale)
        }
        "string" | "textarea" | "picklist" | "multipicklist" | "email" | "phone" | "url"
        | "combobox" | "encryptedstring"
            if f.length > 0 =>
        {
            format!("{t}({})", f.length)
        }
        _ => t.clone(),
    }
}

impl Describe {
    pub fn parse(body: &[u8]) -> Result<Describe, String> {
        serde_json::from_slice(body)
            .map_err(|e| format!("the describe answer is not understood: {e}"))
    }

    /// A field by name, as Salesforce matches names: without regard to case.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The lookup whose relationship is `name` (`Owner` of `OwnerId`).
    pub fn relationship(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| {
            f.relationship_name
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(name))
        })
    }
}

/// Compound fields (`BillingAddress`, geolocations) repeat their component fields, and the
/// Bulk API cannot read them, so `table()` leaves them out; `base64` bodies are files, not
/// values (and the Bulk API refuses them too).
pub fn in_table(f: &Field) -> bool {
    !matches!(f.sf_type.as_str(), "address" | "location" | "base64")
}

/// The column type of a field: exact, never lossy (currency and double stay numeric with the
/// field's own precision and scale; text keeps its declared length).
pub fn data_type(f: &Field) -> DataType {
    let text = |n: u32| DataType::Text {
        max_len: (n > 0).then_some(n),
    };
    match f.sf_type.as_str() {
        "id" | "reference" => text(18),
        "boolean" => DataType::Bool,
        "int" => DataType::Int32,
        "long" => DataType::Int64,
        "double" | "currency" | "percent" => DataType::Decimal {
            precision: (f.precision > 0).then_some(f.precision),
            scale: (f.precision > 0).then_some(f.scale),
        },
        "date" => DataType::Date,
        "datetime" => DataType::TimestampTz,
        "time" => DataType::Time,
        "address" | "location" | "json" | "complexvalue" => DataType::Json,
        "string" | "picklist" | "multipicklist" | "combobox" | "textarea" | "phone" | "url"
        | "email" | "encryptedstring" => text(f.length),
        // anyType (history values), base64 (a URL to the body), and any newer type.
        _ => DataType::TEXT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(t: &str, length: u32, precision: u32, scale: u32) -> Field {
        Field {
            name: "F".into(),
            sf_type: t.into(),
            length,
            precision,
            scale,
            relationship_name: None,
            reference_to: vec![],
            nillable: true,
        }
    }

    #[test]
    fn declared_types_carry_length_or_precision_where_salesforce_gives_them() {
        assert_eq!(declared(&field("string", 80, 0, 0)), "string(80)");
        assert_eq!(declared(&field("currency", 0, 18, 2)), "currency(18,2)");
        assert_eq!(declared(&field("double", 0, 0, 0)), "double");
        assert_eq!(declared(&field("id", 18, 0, 0)), "id");
        assert_eq!(declared(&field("boolean", 0, 0, 0)), "boolean");
    }

    #[test]
    fn field_types_map_to_exact_column_types() {
        assert_eq!(data_type(&field("id", 18, 0, 0)).to_string(), "varchar(18)");
        assert_eq!(
            data_type(&field("string", 255, 0, 0)).to_string(),
            "varchar(255)"
        );
        assert_eq!(
            data_type(&field("currency", 0, 18, 2)).to_string(),
            "numeric(18,2)"
        );
        assert_eq!(
            data_type(&field("datetime", 0, 0, 0)),
            DataType::TimestampTz
        );
        assert_eq!(data_type(&field("int", 0, 9, 0)), DataType::Int32);
        assert_eq!(data_type(&field("boolean", 0, 0, 0)), DataType::Bool);
        assert_eq!(data_type(&field("anyType", 0, 0, 0)), DataType::TEXT);
        assert!(!in_table(&field("address", 0, 0, 0)));
    }
}
