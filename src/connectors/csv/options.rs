use rhai::{Dynamic, Map};

use super::encoding::Encoding;
use crate::connectors::files::Compression;
use crate::data::DataType;

const VALID_KEYS: &str = "header, delimiter, quote, null (or null_marker), types, columns, \
                          infer_rows, encoding, compression, file_column";

/// How a CSV file is read: the options map of `csv_file(path, #{ ... })`.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvOptions {
    /// The first line names the columns.
    pub header: bool,
    pub delimiter: u8,
    pub quote: u8,
    /// Unquoted text that means NULL besides the unquoted empty field (`NULL`, `\N`).
    /// `null` is a Rhai keyword, so scripts quote the key: `#{ "null": "\\N" }`.
    pub null: Option<String>,
    /// Declared column types, in the order given; the other columns are inferred.
    pub types: Vec<(String, DataType)>,
    /// Column names: required without a header, a rename of the header's names otherwise.
    pub columns: Option<Vec<String>>,
    /// Rows sampled to infer types; 0 reads the whole file first.
    pub infer_rows: usize,
    pub encoding: Encoding,
    /// None: by each file's extension (`.gz`, `.zst`, `.bz2`, else none).
    pub compression: Option<Compression>,
    /// A text column, after the file's own, holding the name of the file each row came from.
    pub file_column: Option<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header: true,
            delimiter: b',',
            quote: b'"',
            null: None,
            types: Vec::new(),
            columns: None,
            infer_rows: 10_000,
            encoding: Encoding::Utf8,
            compression: None,
            file_column: None,
        }
    }
}

impl CsvOptions {
    /// Reads the options map of a script. Every message names the key and what it accepts,
    /// because the script author sees it without the code.
    pub fn from_map(map: &Map) -> Result<CsvOptions, String> {
        let mut o = CsvOptions::default();
        for (key, value) in map {
            match key.as_str() {
                "header" => {
                    o.header = value
                        .as_bool()
                        .map_err(|t| wrong_type("header", "a boolean", t))?
                }
                "delimiter" => o.delimiter = single_char("delimiter", value)?,
                "quote" => o.quote = single_char("quote", value)?,
                // `null` is a Rhai keyword and must be quoted as a key; `null_marker` need not be.
                "null" | "null_marker" => o.null = Some(string(key, value)?),
                "types" => o.types = types(value)?,
                "columns" => o.columns = Some(columns(value)?),
                "infer_rows" => {
                    let n = value
                        .as_int()
                        .map_err(|t| wrong_type("infer_rows", "an integer", t))?;
                    o.infer_rows = usize::try_from(n).map_err(|_| {
                        format!("infer_rows must be 0 (whole file) or a positive number, not {n}")
                    })?;
                }
                "encoding" => {
                    let name = string("encoding", value)?;
                    o.encoding = Encoding::parse(&name).ok_or_else(|| {
                        format!("unknown encoding '{name}' (expected \"utf-8\", \"latin1\", \"iso-8859-1\" or \"windows-1252\")")
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
                        "unknown CSV option '{other}' (valid options: {VALID_KEYS})"
                    ))
                }
            }
        }
        o.validate()?;
        Ok(o)
    }

    /// Checks the combinations a single key cannot check on its own.
    pub fn validate(&self) -> Result<(), String> {
        if self.delimiter == self.quote {
            return Err(format!(
                "delimiter and quote are both '{}'; they must differ",
                self.delimiter as char
            ));
        }
        for (name, c) in [("delimiter", self.delimiter), ("quote", self.quote)] {
            if c == b'\n' || c == b'\r' {
                return Err(format!("{name} cannot be a line break"));
            }
        }
        if !self.header && self.columns.is_none() {
            return Err(
                "columns is required when header is false: columns: [\"id\", \"name\", ...]".into(),
            );
        }
        Ok(())
    }
}

fn wrong_type(key: &str, expected: &str, found: &str) -> String {
    format!("{key} must be {expected}, not {found}")
}

fn string(key: &str, value: &Dynamic) -> Result<String, String> {
    value
        .clone()
        .into_string()
        .map_err(|t| wrong_type(key, "a string", t))
}

/// The scanner works on bytes, so only an ASCII character can be a delimiter or quote.
fn single_char(key: &str, value: &Dynamic) -> Result<u8, String> {
    let s = if value.is_char() {
        value.as_char().map(String::from).unwrap_or_default()
    } else {
        string(key, value)?
    };
    match s.as_bytes() {
        [c] if c.is_ascii() => Ok(*c),
        _ => Err(format!(
            "{key} must be a single ASCII character such as \",\", \";\" or \"\\t\", not {s:?}"
        )),
    }
}

fn types(value: &Dynamic) -> Result<Vec<(String, DataType)>, String> {
    let map = value.read_lock::<Map>().ok_or_else(|| {
        wrong_type(
            "types",
            "a map such as #{ amount: \"numeric(12,2)\" }",
            value.type_name(),
        )
    })?;
    map.iter()
        .map(|(col, ty)| {
            let name = string(&format!("types.{col}"), ty)?;
            let data_type = DataType::parse(&name).map_err(|e| format!("types.{col}: {e}"))?;
            Ok((col.to_string(), data_type))
        })
        .collect()
}

fn columns(value: &Dynamic) -> Result<Vec<String>, String> {
    let array = value.read_lock::<rhai::Array>().ok_or_else(|| {
        wrong_type(
            "columns",
            "an array of names such as [\"id\", \"name\"]",
            value.type_name(),
        )
    })?;
    array
        .iter()
        .enumerate()
        .map(|(i, v)| string(&format!("columns[{i}]"), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(script: &str) -> Result<CsvOptions, String> {
        let map = rhai::Engine::new()
            .eval::<Map>(script)
            .expect("valid Rhai map");
        CsvOptions::from_map(&map)
    }

    #[test]
    fn defaults_follow_postgresql_csv() {
        let o = opts("#{}").unwrap();
        assert_eq!(o, CsvOptions::default());
        assert!(o.header);
        assert_eq!(
            (o.delimiter, o.quote, o.null.as_deref()),
            (b',', b'"', None)
        );
        assert_eq!(o.infer_rows, 10_000);
        assert_eq!(o.encoding, Encoding::Utf8);
    }

    #[test]
    fn reads_every_key() {
        let o = opts(
            r#"#{ header: false, delimiter: "\t", quote: "'", "null": "\\N",
                  types: #{ amount: "numeric(12,2)", id: "bigint" },
                  columns: ["id", "amount"], infer_rows: 0, encoding: "windows-1252",
                  compression: "zstd", file_column: "_file" }"#,
        )
        .unwrap();
        assert!(!o.header);
        assert_eq!(o.delimiter, b'\t');
        assert_eq!(o.quote, b'\'');
        assert_eq!(o.null.as_deref(), Some("\\N"));
        assert!(o.types.contains(&(
            "amount".to_string(),
            DataType::parse("numeric(12,2)").unwrap()
        )));
        assert!(o.types.contains(&("id".to_string(), DataType::Int64)));
        assert_eq!(
            o.columns,
            Some(vec!["id".to_string(), "amount".to_string()])
        );
        assert_eq!(o.infer_rows, 0);
        assert_eq!(o.encoding, Encoding::Windows1252);
        assert_eq!(o.compression, Some(Compression::Zstd));
        assert_eq!(o.file_column.as_deref(), Some("_file"));
        assert_eq!(
            opts(r#"#{ encoding: "ISO-8859-1" }"#).unwrap().encoding,
            Encoding::Latin1
        );
    }

    #[test]
    fn explains_mistakes() {
        let err = opts("#{ delim: \";\" }").unwrap_err();
        assert_eq!(
            err,
            "unknown CSV option 'delim' (valid options: header, delimiter, quote, null (or null_marker), types, columns, infer_rows, encoding, compression, file_column)"
        );
        assert!(opts("#{ delimiter: \";;\" }")
            .unwrap_err()
            .contains("single ASCII character"));
        assert!(opts("#{ delimiter: \"§\" }")
            .unwrap_err()
            .contains("single ASCII character"));
        assert_eq!(
            opts("#{ header: \"yes\" }").unwrap_err(),
            "header must be a boolean, not string"
        );
        assert!(opts("#{ header: false }")
            .unwrap_err()
            .contains("columns is required when header is false"));
        assert!(opts("#{ types: #{ amount: \"money\" } }")
            .unwrap_err()
            .starts_with("types.amount: unknown type 'money'"));
        assert!(opts("#{ infer_rows: -1 }")
            .unwrap_err()
            .contains("infer_rows must be 0"));
        assert!(opts("#{ encoding: \"utf-16\" }")
            .unwrap_err()
            .contains("unknown encoding 'utf-16'"));
        assert!(opts("#{ compression: \"lz4\" }")
            .unwrap_err()
            .starts_with("unknown compression 'lz4' (expected \"gzip\", \"zstd\""));
        assert!(opts("#{ quote: \",\" }")
            .unwrap_err()
            .contains("must differ"));
        assert!(opts("#{ columns: \"id\" }")
            .unwrap_err()
            .contains("columns must be an array"));
    }
}
