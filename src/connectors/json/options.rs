//! The options map of `json_file(path, #{ ... })`.

use rhai::{Dynamic, Map};

use crate::connectors::files::Compression;
use crate::data::DataType;

const VALID_KEYS: &str = "columns, types, infer_rows, compression, file_column";

/// One step of a column's path: `$.order.lines[0].sku` is Key, Key, Index, Key.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
}

#[derive(Clone, Debug, PartialEq)]
pub struct JsonOptions {
    /// Columns taken from paths inside each record, instead of its top-level keys.
    pub columns: Option<Vec<(String, Vec<Step>)>>,
    pub types: Vec<(String, DataType)>,
    /// Records sampled to find the columns and infer their types; 0 reads the whole file first.
    pub infer_rows: usize,
    pub compression: Option<Compression>,
    pub file_column: Option<String>,
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions {
            columns: None,
            types: Vec::new(),
            infer_rows: 10_000,
            compression: None,
            file_column: None,
        }
    }
}

fn string(key: &str, value: &Dynamic) -> Result<String, String> {
    value
        .clone()
        .into_string()
        .map_err(|t| format!("{key} must be a string, not {t}"))
}

fn map(key: &str, value: &Dynamic, example: &str) -> Result<Map, String> {
    value.clone().try_cast::<Map>().ok_or_else(|| {
        format!(
            "{key} must be a map such as {example}, not {}",
            value.type_name()
        )
    })
}

impl JsonOptions {
    pub fn from_map(options: &Map) -> Result<JsonOptions, String> {
        let mut o = JsonOptions::default();
        for (key, value) in options {
            match key.as_str() {
                "columns" => {
                    let m = map("columns", value, "#{ city: \"$.address.city\" }")?;
                    let mut columns = Vec::new();
                    for (name, path) in m.iter() {
                        let text = string(&format!("columns.{name}"), path)?;
                        let steps =
                            parse_path(&text).map_err(|e| format!("columns.{name}: {e}"))?;
                        columns.push((name.to_string(), steps));
                    }
                    if columns.is_empty() {
                        return Err("columns must name at least one column".into());
                    }
                    o.columns = Some(columns);
                }
                "types" => {
                    let m = map("types", value, "#{ amount: \"numeric(12,2)\" }")?;
                    for (col, ty) in m.iter() {
                        let name = string(&format!("types.{col}"), ty)?;
                        let data_type =
                            DataType::parse(&name).map_err(|e| format!("types.{col}: {e}"))?;
                        o.types.push((col.to_string(), data_type));
                    }
                }
                "infer_rows" => {
                    let n = value
                        .as_int()
                        .map_err(|t| format!("infer_rows must be an integer, not {t}"))?;
                    o.infer_rows = usize::try_from(n).map_err(|_| {
                        format!("infer_rows must be 0 (whole file) or a positive number, not {n}")
                    })?;
                }
                "compression" => {
                    let name = string("compression", value)?;
                    o.compression = Some(Compression::parse(&name).ok_or_else(|| {
                        format!(
                            "unknown compression '{name}' (expected {}; without the option the file's extension decides)",
                            Compression::NAMES
                        )
                    })?);
                }
                "file_column" => {
                    let name = string("file_column", value)?;
                    if name.trim().is_empty() {
                        return Err("file_column must name a column, such as \"_file\"".into());
                    }
                    o.file_column = Some(name);
                }
                other => {
                    return Err(format!(
                        "unknown JSON option '{other}' (valid options: {VALID_KEYS})"
                    ))
                }
            }
        }
        Ok(o)
    }
}

/// `$.a.b[2].c` (or `a.b[2].c`); a key with other characters is quoted: `$["order id"]`.
pub fn parse_path(text: &str) -> Result<Vec<Step>, String> {
    let bad = |why: &str| {
        format!("'{text}' is not a path like \"$.address.city\" or \"$.lines[0].sku\": {why}")
    };
    let mut rest = text.trim();
    rest = rest.strip_prefix('$').unwrap_or(rest);
    let mut steps = Vec::new();
    let mut first = true;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| bad("a '[' without its ']'"))?;
            let inside = &r[..end];
            if let Some(q) = inside.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
                steps.push(Step::Key(q.to_string()));
            } else {
                let i = inside
                    .parse::<usize>()
                    .map_err(|_| bad("inside [...] goes an index (0, 1, ...) or a quoted key"))?;
                steps.push(Step::Index(i));
            }
            rest = &r[end + 1..];
        } else {
            let r = match rest.strip_prefix('.') {
                Some(r) => r,
                None if first && !text.trim().starts_with('$') => rest,
                None => return Err(bad("expected '.' or '[' between steps")),
            };
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(bad("an empty key"));
            }
            steps.push(Step::Key(r[..end].to_string()));
            rest = &r[end..];
        }
        first = false;
    }
    if steps.is_empty() {
        return Err(bad("it names no key"));
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_keys_and_indexes() {
        let k = |s: &str| Step::Key(s.into());
        assert_eq!(parse_path("$.a.b").unwrap(), [k("a"), k("b")]);
        assert_eq!(parse_path("a").unwrap(), [k("a")]);
        assert_eq!(
            parse_path("$.lines[0][\"unit price\"]").unwrap(),
            [k("lines"), Step::Index(0), k("unit price")]
        );
        assert!(parse_path("$").unwrap_err().contains("names no key"));
        assert!(parse_path("$.a[x]").unwrap_err().contains("an index"));
        assert!(parse_path("$.a..b").unwrap_err().contains("empty key"));
    }

    #[test]
    fn options_are_checked() {
        let opts = |s: &str| JsonOptions::from_map(&rhai::Engine::new().eval::<Map>(s).unwrap());
        let o = opts(r#"#{ columns: #{ city: "$.address.city" }, types: #{ city: "text" }, infer_rows: 0, compression: "gzip", file_column: "_f" }"#).unwrap();
        assert_eq!(
            o.columns.unwrap()[0].1,
            [Step::Key("address".into()), Step::Key("city".into())]
        );
        assert_eq!(o.compression, Some(Compression::Gzip));
        assert_eq!(
            opts("#{ delimiter: \",\" }").unwrap_err(),
            "unknown JSON option 'delimiter' (valid options: columns, types, infer_rows, compression, file_column)"
        );
        assert!(opts("#{ columns: [\"a\"] }")
            .unwrap_err()
            .starts_with("columns must be a map"));
    }
}
