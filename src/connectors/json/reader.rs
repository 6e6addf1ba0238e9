//! JSON files as a `Source`: each record (a line of newline-delimited JSON, or an element of a
//! top-level array) is an object whose keys, or the paths the `columns` option names, are the
//! columns. Numbers keep their exact text (never a float on the way), so `12.50` loads as
//! numeric 12.50; objects and arrays become json columns.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::options::{JsonOptions, Step};
use super::split::{SplitError, Splitter};
use crate::connectors::csv::infer::{self, Kind};
use crate::connectors::encoded::EncodedRows;
use crate::connectors::files::{Compression, FileRef};
use crate::connectors::{BatchSender, BatchStream, Io, ReadOptions, Source};
use crate::data::{bounded_record, Batch, Column, DataType, Reject, Schema, Value};
use crate::error::{EtlError, Result};

pub struct JsonSource {
    files: Vec<FileRef>,
    display: String,
    opts: JsonOptions,
    layout: OnceLock<Layout>,
}

#[derive(Clone, Debug)]
struct Layout {
    schema: Schema,
    declared: Vec<bool>,
    /// Where each of the file's columns is found in a record.
    paths: Vec<Vec<Step>>,
    /// Records the inference looked at, and whether that was all of them.
    sampled: (u64, bool),
    /// Columns from the records; `file_column` follows them.
    from_file: usize,
    /// Whether the columns are the records' top-level keys (so an unknown key is an error).
    by_key: bool,
}

/// A record's top-level keys and their unparsed values, in the record's order.
struct Fields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(
                self,
                mut m: M,
            ) -> std::result::Result<Fields<'a>, M::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<Cow<'de, str>, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// What one value is, for typing it.
enum Cell<'a> {
    Null,
    /// A string's content, a number's exact text, or `true`/`false`.
    Scalar(Cow<'a, str>),
    /// An object or array, as its JSON text.
    Nested(&'a str),
}

fn cell(raw: &RawValue) -> std::result::Result<Cell<'_>, String> {
    let text = raw.get();
    Ok(match text.as_bytes().first() {
        Some(b'n') => Cell::Null,
        Some(b'"') => Cell::Scalar(
            serde_json::from_str::<Cow<str>>(text).map_err(|e| format!("invalid string: {e}"))?,
        ),
        Some(b'{' | b'[') => Cell::Nested(text),
        _ => Cell::Scalar(Cow::Borrowed(text)),
    })
}

/// The value at `steps` below `raw`; None when a key or index is not there.
fn lookup<'a>(raw: &'a RawValue, steps: &[Step]) -> Option<&'a RawValue> {
    let mut at = raw;
    for step in steps {
        at = match step {
            Step::Key(key) => {
                let Fields(fields) = serde_json::from_str::<Fields>(at.get()).ok()?;
                fields.into_iter().rev().find(|(k, _)| k == key)?.1
            }
            Step::Index(i) => {
                let items = serde_json::from_str::<Vec<&RawValue>>(at.get()).ok()?;
                *items.get(*i)?
            }
        };
    }
    Some(at)
}

fn first_key(steps: &[Step]) -> &str {
    match steps.first() {
        Some(Step::Key(k)) => k,
        _ => "",
    }
}

/// The records of the files, one after the other, with the file and line of each.
struct Records {
    files: Vec<FileRef>,
    compression: Option<Compression>,
    next_file: usize,
    current: Option<(Splitter<Box<dyn Read + Send>>, String)>,
    pub buf: Vec<u8>,
    pub line: u64,
}

impl Records {
    fn new(files: Vec<FileRef>, compression: Option<Compression>) -> Records {
        Records {
            files,
            compression,
            next_file: 0,
            current: None,
            buf: Vec::new(),
            line: 0,
        }
    }

    fn display(&self) -> &str {
        self.current.as_ref().map_or("", |(_, d)| d.as_str())
    }

    fn error(&self, line: u64, message: String) -> EtlError {
        EtlError::File {
            path: PathBuf::from(self.display()),
            line,
            message,
        }
    }

    /// Moves to the next record; false after the last file's last record.
    fn next(&mut self) -> Result<bool> {
        loop {
            if let Some((splitter, display)) = &mut self.current {
                match splitter.next_record(&mut self.buf) {
                    Ok(Some(line)) => {
                        self.line = line;
                        return Ok(true);
                    }
                    Ok(None) => self.current = None,
                    Err(SplitError { line, message }) => {
                        return Err(EtlError::File {
                            path: PathBuf::from(display.as_str()),
                            line,
                            message,
                        })
                    }
                }
            }
            let Some(file) = self.files.get(self.next_file) else {
                return Ok(false);
            };
            self.next_file += 1;
            let src = file
                .open(self.compression)
                .map_err(|e| EtlError::io(&file.display, e))?;
            self.current = Some((Splitter::new(src), file.display.clone()));
        }
    }

    /// The current record as an object's fields.
    fn fields(&self) -> std::result::Result<Fields<'_>, String> {
        if self.buf.first() != Some(&b'{') {
            let found = String::from_utf8_lossy(&self.buf[..self.buf.len().min(40)]).into_owned();
            return Err(format!(
                "each record must be a JSON object ({{...}}), found {found}"
            ));
        }
        serde_json::from_slice::<Fields>(&self.buf).map_err(|e| format!("invalid JSON: {e}"))
    }
}

impl JsonSource {
    pub fn from_files(files: Vec<FileRef>, display: String, opts: JsonOptions) -> JsonSource {
        assert!(!files.is_empty(), "a JSON source reads at least one file");
        JsonSource {
            files,
            display,
            opts,
            layout: OnceLock::new(),
        }
    }

    fn layout(&self) -> Result<&Layout> {
        if let Some(layout) = self.layout.get() {
            return Ok(layout);
        }
        let layout = self.read_layout()?;
        Ok(self.layout.get_or_init(|| layout))
    }

    fn config(&self, message: String) -> EtlError {
        EtlError::Config(format!("json {}: {message}", self.display))
    }

    /// Finds the columns (the `columns` option's, or the keys of the sampled records in the
    /// order they first appear) and infers the types not declared.
    fn read_layout(&self) -> Result<Layout> {
        let by_key = self.opts.columns.is_none();
        let mut names: Vec<String> = Vec::new();
        let mut paths: Vec<Vec<Step>> = Vec::new();
        if let Some(columns) = &self.opts.columns {
            for (name, steps) in columns {
                names.push(name.clone());
                paths.push(steps.clone());
            }
        }
        let mut kinds: Vec<(Kind, bool)> = vec![(Kind::Empty, false); names.len()];
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut records = Records::new(self.files.clone(), self.opts.compression);
        let limit = self.opts.infer_rows as u64;
        let (mut sampled, mut complete) = (0u64, true);
        loop {
            if limit > 0 && sampled == limit {
                complete = false;
                break;
            }
            if !records.next()? {
                break;
            }
            sampled += 1;
            // A record that cannot be read says nothing of the types; the read reports it.
            let Ok(Fields(fields)) = records.fields() else {
                continue;
            };
            if by_key {
                for (key, raw) in &fields {
                    let i = match index.get(key.as_ref()) {
                        Some(&i) => i,
                        None => {
                            names.push(key.to_string());
                            paths.push(vec![Step::Key(key.to_string())]);
                            kinds.push((Kind::Empty, false));
                            index.insert(key.to_string(), names.len() - 1);
                            names.len() - 1
                        }
                    };
                    observe(&mut kinds[i], raw);
                }
            } else {
                let record =
                    RawValue::from_string(String::from_utf8_lossy(&records.buf).into_owned())
                        .map_err(|e| records.error(records.line, format!("invalid JSON: {e}")))?;
                for (i, steps) in paths.iter().enumerate() {
                    if let Some(raw) = lookup(&record, steps) {
                        observe(&mut kinds[i], raw);
                    }
                }
            }
        }
        if names.is_empty() {
            return Err(self.config(
                "no records with keys to take columns from (an empty file, or only empty objects); name the columns with columns: #{ name: \"$.key\" }".into(),
            ));
        }
        let mut types: Vec<Option<DataType>> = vec![None; names.len()];
        for (name, ty) in &self.opts.types {
            let i = names
                .iter()
                .position(|n| n == name)
                .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(name)))
                .ok_or_else(|| {
                    self.config(format!(
                        "types names column '{name}', which the records do not have (columns: {})",
                        names.join(", ")
                    ))
                })?;
            types[i] = Some(ty.clone());
        }
        let declared = types.iter().map(Option::is_some).collect();
        let from_file = names.len();
        let mut columns: Vec<Column> = names
            .into_iter()
            .zip(types)
            .zip(kinds)
            .map(|((name, ty), (kind, nested))| {
                let inferred = if nested {
                    DataType::Json
                } else {
                    kind.data_type()
                };
                Column::new(name, ty.unwrap_or(inferred))
            })
            .collect();
        if let Some(name) = &self.opts.file_column {
            if let Some(c) = columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)) {
                return Err(self.config(format!(
                    "file_column '{name}' is also a column of the records ('{}'); pick another name",
                    c.name
                )));
            }
            columns.push(Column::new(name.clone(), DataType::TEXT));
        }
        Ok(Layout {
            schema: Schema::new(columns),
            declared,
            paths,
            sampled: (sampled, complete),
            from_file,
            by_key,
        })
    }
}

/// Folds one sampled value into its column's kind; an object or array makes the column json.
fn observe((kind, nested): &mut (Kind, bool), raw: &RawValue) {
    match cell(raw) {
        Ok(Cell::Null) | Err(_) => {}
        Ok(Cell::Nested(_)) => *nested = true,
        Ok(Cell::Scalar(text)) => *kind = kind.add(&infer::classify(&text)),
    }
}

impl Source for JsonSource {
    fn describe(&self) -> String {
        format!("json {}", self.display)
    }

    fn schema(&self, _io: &Io) -> Result<Schema> {
        Ok(self.layout()?.schema.clone())
    }

    fn encodes(&self) -> bool {
        true
    }

    fn open(&self, io: &Io, opts: &ReadOptions) -> Result<BatchStream> {
        let layout = self.layout()?.clone();
        let records = Records::new(self.files.clone(), self.opts.compression);
        let with_file = self.opts.file_column.is_some();
        let opts = opts.clone();
        Ok(BatchStream::spawn_blocking(
            io,
            layout.schema.clone(),
            move |tx| produce(records, &layout, &opts, tx, with_file),
        ))
    }
}

fn produce(
    mut records: Records,
    layout: &Layout,
    opts: &ReadOptions,
    tx: &BatchSender,
    with_file: bool,
) -> Result<()> {
    let (batch_rows, limit) = (opts.batch_rows.max(1), opts.limit);
    let width = layout.schema.len();
    let columns = &layout.schema.columns[..layout.from_file];
    let index: HashMap<&str, usize> = layout
        .paths
        .iter()
        .enumerate()
        .map(|(i, p)| (first_key(p), i))
        .collect();
    let mut batch = Batch::new(width, 1, batch_rows);
    let mut row: Vec<Value> = Vec::with_capacity(width);
    let (mut good, mut count) = (0u64, 0u64);
    // Rows written with the target's encoder (`ReadOptions::encoded`) instead of sent as values.
    let mut encoded = opts
        .encoded
        .as_ref()
        .filter(|_| !opts.keep_going)
        .map(|t| EncodedRows::new(t, width, 1));
    while limit.is_none_or(|l| good < l) && records.next()? {
        count += 1;
        let read = read_row(&records, layout, columns, &index, &mut row);
        if let Some(w) = encoded.as_mut() {
            if let Err((_, message)) = read {
                return Err(records.error(records.line, message));
            }
            w.start_row();
            for (i, v) in row.drain(..).enumerate() {
                w.value(i, v, &columns[i].data_type);
            }
            if with_file {
                w.text(layout.from_file, records.display());
            }
            if !w.end_row() {
                // The load fails at the refused row: nothing after it is wanted.
                tx.send_blocking(w.batch(0))?;
                return Ok(());
            }
            good += 1;
            if w.rows() == batch_rows {
                tx.send_blocking(w.batch(count + 1))?;
            }
            continue;
        }
        match read {
            Ok(()) => {
                if with_file {
                    row.push(Value::Text(records.display().to_string()));
                }
                batch.push_row(row.drain(..));
                good += 1;
            }
            Err((column, message)) if opts.keep_going => {
                row.clear();
                batch.rejects.push(Reject {
                    line: Some(records.line),
                    row: count,
                    column,
                    reason: message,
                    record: bounded_record(&String::from_utf8_lossy(&records.buf)),
                });
            }
            Err((_, message)) => return Err(records.error(records.line, message)),
        }
        if batch.len() == batch_rows || batch.rejects.len() >= batch_rows {
            let full = std::mem::replace(&mut batch, Batch::new(width, count + 1, batch_rows));
            tx.send_blocking(full)?;
        }
    }
    if let Some(w) = encoded.as_mut().filter(|w| w.rows() > 0) {
        tx.send_blocking(w.batch(count + 1))?;
    }
    if !batch.is_empty() || !batch.rejects.is_empty() {
        tx.send_blocking(batch)?;
    }
    Ok(())
}

type RowError = (Option<String>, String);

fn read_row(
    records: &Records,
    layout: &Layout,
    columns: &[Column],
    index: &HashMap<&str, usize>,
    row: &mut Vec<Value>,
) -> std::result::Result<(), RowError> {
    row.clear();
    let Fields(fields) = records.fields().map_err(|m| (None, m))?;
    let mut slots: Vec<Option<&RawValue>> = vec![None; columns.len()];
    if layout.by_key {
        for (key, raw) in &fields {
            let i = index.get(key.as_ref()).copied().or_else(|| {
                index
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, &i)| i)
            });
            match i {
                Some(i) => slots[i] = Some(raw),
                None => {
                    return Err((
                        None,
                        format!(
                            "key '{key}' is not among the columns found in the first {} records ({}); \
                             sample more with infer_rows: 0, or name the columns with columns: #{{ ... }}",
                            layout.sampled.0,
                            layout.paths.iter().map(|p| first_key(p)).collect::<Vec<_>>().join(", ")
                        ),
                    ))
                }
            }
        }
    }
    let record;
    if !layout.by_key {
        record = RawValue::from_string(String::from_utf8_lossy(&records.buf).into_owned())
            .map_err(|e| (None, format!("invalid JSON: {e}")))?;
        for (i, steps) in layout.paths.iter().enumerate() {
            slots[i] = lookup(&record, steps);
        }
    }
    for (i, column) in columns.iter().enumerate() {
        let value = match slots[i] {
            None => Value::Null,
            Some(raw) => typed(raw, column, layout.declared[i], layout.sampled)
                .map_err(|m| (Some(column.name.clone()), m))?,
        };
        row.push(value);
    }
    Ok(())
}

fn typed(
    raw: &RawValue,
    column: &Column,
    declared: bool,
    (sampled, all): (u64, bool),
) -> std::result::Result<Value, String> {
    let (name, ty) = (&column.name, &column.data_type);
    let cell = cell(raw).map_err(|m| format!("column '{name}': {m}"))?;
    let text = match cell {
        Cell::Null => return Ok(Value::Null),
        // Any JSON value is a json value, kept as written.
        _ if *ty == DataType::Json => return Ok(Value::Json(raw.get().to_string())),
        Cell::Nested(json) if matches!(ty, DataType::Text { max_len: None }) => {
            return Ok(Value::Text(json.to_string()))
        }
        Cell::Nested(_) => {
            return Err(format!(
                "column '{name}': an object or array where {ty} was expected; to keep it as JSON declare types: #{{ {name}: \"json\" }}"
            ))
        }
        Cell::Scalar(text) => text,
    };
    if declared {
        return Value::parse(&text, ty)
            .map_err(|e| format!("column '{name}': {e} (declared as {ty} in types)"));
    }
    infer::convert_inferred(&text, ty).map_err(|m| {
        let sample = if all {
            "all records".to_string()
        } else {
            format!("the first {sampled} records")
        };
        format!(
            "column '{name}': {}; {ty} was inferred from {sample}. Declare the type to load this file: types: #{{ {name}: \"{}\" }}",
            m.reason, m.suggestion
        )
    })
}
