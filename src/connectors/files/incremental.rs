//! Loading files incrementally (`incremental: "files"`): the options every file function
//! takes for it, and the source wrapper that tells a load which files it may read. The load
//! (`load::files`) asks the target's `etl_files` which files were loaded before and reads only
//! the others; a backfill window picks files by the date in their names (`file_date`).

use std::sync::Arc;

use chrono::NaiveDate;
use rhai::Map;

use super::FileRef;
use crate::audit_files::FileStamp;
use crate::connectors::{BatchStream, Io, ReadOptions, Source};
use crate::data::Schema;
use crate::error::Result;

/// What a load does with a file loaded before whose content changed since.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnChange {
    /// Fail the load, naming the file (the default: nothing loads twice unnoticed).
    #[default]
    Error,
    /// Load it again (right for a `merge` load by key).
    Reload,
    /// Leave it out.
    Skip,
}

/// The file options shared by every file function, taken out of its options map.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileSelection {
    pub incremental: bool,
    pub on_change: OnChange,
    pub file_date: Option<DatePattern>,
}

impl FileSelection {
    /// Removes `incremental`, `on_change` and `file_date` from `options` (the rest is the
    /// format's).
    pub fn take(options: &mut Map) -> std::result::Result<FileSelection, String> {
        let mut s = FileSelection::default();
        let mut text = |key: &str| -> std::result::Result<Option<String>, String> {
            options
                .remove(key)
                .map(|v| {
                    v.into_string()
                        .map_err(|t| format!("{key} must be a string, not {t}"))
                })
                .transpose()
        };
        if let Some(v) = text("incremental")? {
            if v != "files" {
                return Err(format!(
                    "incremental: \"{v}\" is not known; a file source takes incremental: \"files\" (load only files not loaded before)"
                ));
            }
            s.incremental = true;
        }
        if let Some(v) = text("on_change")? {
            s.on_change = match v.as_str() {
                "error" => OnChange::Error,
                "reload" => OnChange::Reload,
                "skip" => OnChange::Skip,
                _ => {
                    return Err(format!(
                        "on_change must be \"error\", \"reload\" or \"skip\", not \"{v}\""
                    ))
                }
            };
            if !s.incremental {
                return Err("on_change applies with incremental: \"files\"; add it".into());
            }
        }
        if let Some(v) = text("file_date")? {
            s.file_date = Some(DatePattern::parse(&v).map_err(|e| format!("file_date: {e}"))?);
        }
        Ok(s)
    }

    pub fn any(&self) -> bool {
        self.incremental || self.file_date.is_some()
    }
}

/// A file name with a date in it: `orders_{YYYY}-{MM}-{DD}.csv` (`*` matches any text).
#[derive(Clone, Debug, PartialEq)]
pub struct DatePattern {
    text: String,
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Literal(char),
    Any,
    Year,
    Month,
    Day,
}

impl DatePattern {
    pub fn parse(text: &str) -> std::result::Result<DatePattern, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let token = [
                ("{YYYY}", Part::Year),
                ("{MM}", Part::Month),
                ("{DD}", Part::Day),
            ]
            .into_iter()
            .find(|(t, _)| rest.starts_with(t));
            match token {
                Some((t, part)) => {
                    parts.push(part);
                    rest = &rest[t.len()..];
                }
                None => {
                    parts.push(if c == '*' {
                        Part::Any
                    } else {
                        Part::Literal(c)
                    });
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        if !parts.contains(&Part::Year) || !parts.contains(&Part::Month) {
            return Err(format!(
                "'{text}' names no date; write it with {{YYYY}}, {{MM}} and {{DD}}, such as \"orders_{{YYYY}}-{{MM}}-{{DD}}.csv\""
            ));
        }
        Ok(DatePattern {
            text: text.to_string(),
            parts,
        })
    }

    /// The date in `name`'s last path segment, when it matches (a month without `{DD}` is
    /// its first day).
    pub fn date(&self, name: &str) -> Option<NaiveDate> {
        let base = name.rsplit('/').next().unwrap_or(name);
        let mut found = (0, 0, 1);
        matches(&self.parts, base.as_bytes(), &mut found)?;
        NaiveDate::from_ymd_opt(found.0, found.1, found.2)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn matches(parts: &[Part], s: &[u8], found: &mut (i32, u32, u32)) -> Option<()> {
    let digits = |n: usize| -> Option<u32> {
        let d = s.get(..n)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| std::str::from_utf8(d).ok()?.parse().ok())?
    };
    match parts.first() {
        None => s.is_empty().then_some(()),
        Some(Part::Literal(c)) => {
            let mut buf = [0; 4];
            let lit = c.encode_utf8(&mut buf).as_bytes();
            s.starts_with(lit)
                .then_some(())
                .and_then(|_| matches(&parts[1..], &s[lit.len()..], found))
        }
        Some(Part::Any) => (0..=s.len()).find_map(|i| matches(&parts[1..], &s[i..], found)),
        Some(Part::Year) => {
            found.0 = digits(4)? as i32;
            matches(&parts[1..], &s[4..], found)
        }
        Some(Part::Month) => {
            found.1 = digits(2)?;
            matches(&parts[1..], &s[2..], found)
        }
        Some(Part::Day) => {
            found.2 = digits(2)?;
            matches(&parts[1..], &s[2..], found)
        }
    }
}

/// A file source read file by file: the files it names, and how to read a subset of them.
pub struct ByFile {
    pub files: Vec<FileRef>,
    pub selection: FileSelection,
    pub read: Arc<dyn Fn(Vec<FileRef>) -> Arc<dyn Source> + Send + Sync>,
}

/// A file source whose loads read only the files `ByFile` lets through.
pub struct ByFileSource {
    pub inner: Arc<dyn Source>,
    pub by_file: ByFile,
}

impl Source for ByFileSource {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn schema(&self, io: &Io) -> Result<Schema> {
        self.inner.schema(io)
    }

    fn open(&self, io: &Io, opts: &ReadOptions) -> Result<BatchStream> {
        self.inner.open(io, opts)
    }

    fn by_file(&self) -> Option<&ByFile> {
        Some(&self.by_file)
    }
}

impl FileRef {
    /// What identifies the file's content now.
    pub fn stamp(&self) -> std::io::Result<FileStamp> {
        let micros = |t: chrono::DateTime<chrono::Utc>| {
            t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        };
        Ok(match &self.object {
            Some(o) => FileStamp {
                file: self.display.clone(),
                size: i64::try_from(o.size).ok(),
                etag: o.e_tag.clone(),
                modified: Some(micros(o.modified)),
            },
            None => {
                let meta = std::fs::metadata(&self.path)?;
                FileStamp {
                    file: self.display.clone(),
                    size: i64::try_from(meta.len()).ok(),
                    etag: None,
                    modified: meta.modified().ok().map(|t| micros(t.into())),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_pattern_reads_the_date_in_a_file_name() {
        let p = DatePattern::parse("orders_{YYYY}-{MM}-{DD}.csv*").unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        assert_eq!(
            p.date("s3://b/raw/orders_2024-02-29.csv.gz"),
            d("2024-02-29")
        );
        assert_eq!(p.date("raw/orders_2024-02-30.csv"), None);
        assert_eq!(p.date("raw/refunds_2024-02-01.csv"), None);
        let monthly = DatePattern::parse("{YYYY}{MM}.parquet").unwrap();
        assert_eq!(monthly.date("x/202403.parquet"), d("2024-03-01"));
        let err = DatePattern::parse("orders.csv").unwrap_err();
        assert!(err.contains("names no date"), "{err}");
    }

    #[test]
    fn the_shared_options_are_taken_out_of_the_map() {
        let mut m = Map::new();
        m.insert("incremental".into(), "files".into());
        m.insert("on_change".into(), "reload".into());
        m.insert("delimiter".into(), ";".into());
        let s = FileSelection::take(&mut m).unwrap();
        assert_eq!((s.incremental, s.on_change), (true, OnChange::Reload));
        assert_eq!(m.len(), 1);
        let mut bad = Map::new();
        bad.insert("on_change".into(), "skip".into());
        assert_eq!(
            FileSelection::take(&mut bad).unwrap_err(),
            "on_change applies with incremental: \"files\"; add it"
        );
    }
}
