use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;

use super::infer::{self, Kind};
use super::options::CsvOptions;
use super::scanner::{Record, ScanError, Scanner};
use crate::connectors::encoded::EncodedRows;
use crate::connectors::files::FileRef;
use crate::connectors::{
    BatchSender, BatchStream, EncodedTarget, Io, ReadOptions, RowEstimate, Source,
};
use crate::data::{bounded_record, Batch, Column, DataType, Reject, Schema, Value};
use crate::error::{EtlError, Result};

/// A CSV file, or the files a glob matched, read as typed batches. The schema comes from the
/// (first file's) header plus declared and inferred types; it is worked out once and reused by
/// every `open`.
pub struct CsvSource {
    /// Read in this order; never empty.
    files: Vec<FileRef>,
    /// The path or pattern as the script wrote it, for messages.
    display: String,
    opts: CsvOptions,
    layout: OnceLock<Layout>,
}

#[derive(Clone, Debug)]
struct Layout {
    schema: Schema,
    /// Per column: true when the script declared its type, false when it was inferred.
    declared: Vec<bool>,
    /// How many rows the inference looked at, and whether that was the whole file.
    sampled: (u64, bool),
    /// The first file's header as written: every other file of a glob must have the same.
    header: Vec<String>,
    /// Columns that come from the file; `file_column`, when asked for, follows them.
    from_file: usize,
}

impl CsvSource {
    pub fn new(path: PathBuf, display: String, opts: CsvOptions) -> CsvSource {
        let file = FileRef::local(path, display.clone());
        CsvSource::from_files(vec![file], display, opts)
    }

    /// The files of a glob (see `files::expand`), read one after the other as one relation.
    pub fn from_files(files: Vec<FileRef>, display: String, opts: CsvOptions) -> CsvSource {
        assert!(!files.is_empty(), "a CSV source reads at least one file");
        CsvSource {
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

    fn records(&self, file: &FileRef) -> Result<Records<Box<dyn Read + Send>>> {
        open_records(file, &self.opts)
    }

    /// Reads the header and, unless every type is declared, a sample of rows to infer types.
    fn read_layout(&self) -> Result<Layout> {
        let mut rows = self.records(&self.files[0])?;
        let header = self.header(&mut rows)?;
        let names = match &self.opts.columns {
            Some(rename) => rename.clone(),
            None => header.clone(),
        };
        let config = |message: String| EtlError::Config(format!("csv {}: {message}", self.display));
        check_names(&names).map_err(|m| match self.opts.columns {
            Some(_) => config(format!("columns: {m}")),
            None => rows.error(
                1,
                format!("{m}; fix the header or name the columns with columns: [...]"),
            ),
        })?;
        let mut types: Vec<Option<DataType>> = vec![None; names.len()];
        for (name, ty) in &self.opts.types {
            let i = names
                .iter()
                .position(|n| n == name)
                .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(name)))
                .ok_or_else(|| {
                    config(format!(
                        "types names column '{name}', which the file does not have (columns: {})",
                        names.join(", ")
                    ))
                })?;
            types[i] = Some(ty.clone());
        }

        rows.set_width(names.len(), self.opts.columns.is_some());
        let mut kinds = vec![Kind::Empty; names.len()];
        let mut sampled = 0u64;
        let mut complete = true;
        if types.iter().any(Option::is_none) {
            let limit = self.opts.infer_rows as u64;
            let mut scratch = String::new();
            loop {
                if limit > 0 && sampled == limit {
                    complete = false;
                    break;
                }
                if !rows.next()? {
                    break;
                }
                sampled += 1;
                // A record with the wrong number of fields says nothing of the types; the read
                // reports it (or sets it aside) with its line.
                if rows.check_width().is_err() {
                    continue;
                }
                for (i, kind) in kinds.iter_mut().enumerate() {
                    if types[i].is_some() || *kind == Kind::Text {
                        continue;
                    }
                    if let Some(text) = rows.field(i, &names[i], &mut scratch)? {
                        *kind = kind.add(&infer::classify(text));
                    }
                }
            }
        }
        let declared = types.iter().map(Option::is_some).collect();
        let from_file = names.len();
        let mut columns: Vec<Column> = names
            .into_iter()
            .zip(types)
            .zip(kinds)
            .map(|((name, ty), kind)| Column::new(name, ty.unwrap_or_else(|| kind.data_type())))
            .collect();
        if let Some(name) = &self.opts.file_column {
            if let Some(c) = columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)) {
                return Err(config(format!(
                    "file_column '{name}' is also a column of the file ('{}'); pick another name",
                    c.name
                )));
            }
            columns.push(Column::new(name.clone(), DataType::TEXT));
        }
        Ok(Layout {
            schema: Schema::new(columns),
            declared,
            sampled: (sampled, complete),
            header,
            from_file,
        })
    }

    /// The names in the file's header line as written (after the `columns` option's check
    /// that it renames all of them); without a header, the `columns` option's names.
    fn header<R: Read>(&self, rows: &mut Records<R>) -> Result<Vec<String>> {
        if !self.opts.header {
            return Ok(self.opts.columns.clone().unwrap_or_default());
        }
        if !rows.next()? {
            return Err(rows.error(
                1,
                "the file is empty, but a header line naming the columns was expected \
                 (for a file without header set header: false and columns: [...])"
                    .into(),
            ));
        }
        let mut scratch = String::new();
        let mut header = Vec::with_capacity(rows.rec.len());
        for i in 0..rows.rec.len() {
            let (bytes, _) = rows.rec.field(i);
            let name = self
                .opts
                .encoding
                .decode(bytes, &mut scratch)
                .map_err(|_| rows.utf8_error(i, "the header"))?;
            header.push(name.trim().to_string());
        }
        match &self.opts.columns {
            Some(rename) if rename.len() != header.len() => Err(rows.error(
                1,
                format!(
                    "the header has {} columns but the columns option names {}; give one name per header column",
                    header.len(),
                    rename.len()
                ),
            )),
            _ => Ok(header),
        }
    }
}

fn open_records(file: &FileRef, opts: &CsvOptions) -> Result<Records<Box<dyn Read + Send>>> {
    let src = file.open(opts.compression).map_err(|e| {
        let source = if file.path.as_os_str() == file.display.as_str() {
            e
        } else {
            std::io::Error::new(
                e.kind(),
                format!("{e} (looked for {})", file.path.display()),
            )
        };
        EtlError::io(&file.display, source)
    })?;
    Ok(records_of(src, &file.display, opts))
}

fn records_of<R: Read>(src: R, display: &str, opts: &CsvOptions) -> Records<R> {
    Records {
        scanner: Scanner::new(src, opts.delimiter, opts.quote),
        rec: Record::default(),
        width: None,
        opts: opts.clone(),
        display: display.to_string(),
    }
}

/// Checks that a later file of a glob has the first file's header, so that its values land in
/// the columns they belong to.
fn check_header(
    rows: &mut Records<Box<dyn Read + Send>>,
    layout: &Layout,
    first: &str,
) -> Result<()> {
    if !rows.next()? {
        return Err(rows.error(
            1,
            "the file is empty, but a header line naming the columns was expected".into(),
        ));
    }
    let mut scratch = String::new();
    let mut header = Vec::with_capacity(rows.rec.len());
    for i in 0..rows.rec.len() {
        let (bytes, _) = rows.rec.field(i);
        let name = rows
            .opts
            .encoding
            .decode(bytes, &mut scratch)
            .map_err(|_| rows.utf8_error(i, "the header"))?;
        header.push(name.trim().to_string());
    }
    let same = header.len() == layout.header.len()
        && header
            .iter()
            .zip(&layout.header)
            .all(|(a, b)| a.eq_ignore_ascii_case(b));
    if same {
        return Ok(());
    }
    Err(rows.error(
        1,
        format!(
            "the header ({}) differs from the header of {first} ({}); the files one pattern reads \
             must have the same columns in the same order: narrow the pattern or load them separately",
            header.join(", "),
            layout.header.join(", ")
        ),
    ))
}

fn check_names(names: &[String]) -> std::result::Result<(), String> {
    if names.is_empty() {
        return Err("no columns".into());
    }
    for (i, name) in names.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(format!("column {} has an empty name", i + 1));
        }
        if let Some(j) = names[..i].iter().position(|n| n.eq_ignore_ascii_case(name)) {
            return Err(format!(
                "columns {} and {} are both named '{}' (names must be unique, ignoring case)",
                j + 1,
                i + 1,
                names[j]
            ));
        }
    }
    Ok(())
}

impl Source for CsvSource {
    fn describe(&self) -> String {
        format!("csv {}", self.display)
    }

    fn schema(&self, _io: &Io) -> Result<Schema> {
        Ok(self.layout()?.schema.clone())
    }

    fn open(&self, io: &Io, opts: &ReadOptions) -> Result<BatchStream> {
        let layout = self.layout()?.clone();
        // The first file is opened here so that a file that went away fails the open itself;
        // the others are opened one at a time as the read reaches them.
        let mut first = Some(self.records(&self.files[0])?);
        let files = self.files.clone();
        let csv = self.opts.clone();
        let schema = layout.schema.clone();
        let opts = opts.clone();
        Ok(BatchStream::spawn_blocking(io, schema, move |tx| {
            let mut counts = Counts::default();
            for (i, file) in files.iter().enumerate() {
                let mut rows = match first.take() {
                    Some(rows) => rows,
                    None => open_records(file, &csv)?,
                };
                if csv.header {
                    if i == 0 {
                        rows.next()?;
                    } else {
                        check_header(&mut rows, &layout, &files[0].display)?;
                    }
                }
                rows.set_width(layout.from_file, csv.columns.is_some());
                let name = csv.file_column.as_ref().map(|_| file.display.as_str());
                match &opts.encoded {
                    Some(target) if !opts.keep_going => {
                        if !produce_encoded(
                            &mut rows,
                            &layout,
                            &opts,
                            tx,
                            name,
                            &mut counts,
                            target,
                        )? {
                            break;
                        }
                    }
                    _ => produce(&mut rows, &layout, &opts, tx, name, &mut counts)?,
                }
                if opts.limit.is_some_and(|l| counts.good >= l) {
                    break;
                }
            }
            Ok(())
        }))
    }

    /// Lines in the file (a quoted field may span lines, so it is an estimate), counted in
    /// chunks without parsing; the window, which the load applies, is not.
    fn encodes(&self) -> bool {
        true
    }

    fn estimate_rows(&self, _io: &Io, opts: &ReadOptions) -> Result<Option<RowEstimate>> {
        let mut buf = vec![0u8; 1 << 20];
        let mut lines = 0u64;
        for f in &self.files {
            let mut file = f
                .open(self.opts.compression)
                .map_err(|e| EtlError::io(&f.display, e))?;
            let (mut in_file, mut last) = (0u64, b'\n');
            loop {
                let n = file
                    .read(&mut buf)
                    .map_err(|e| EtlError::io(&f.display, e))?;
                if n == 0 {
                    break;
                }
                in_file += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
                last = buf[n - 1];
            }
            if last != b'\n' {
                in_file += 1;
            }
            if self.opts.header {
                in_file = in_file.saturating_sub(1);
            }
            lines += in_file;
        }
        let windowed = opts
            .window
            .as_ref()
            .is_some_and(|w| w.since.is_some() || w.until.is_some());
        Ok(Some(RowEstimate {
            rows: opts.limit.map_or(lines, |l| lines.min(l)),
            exact: false,
            basis: if windowed {
                "lines in the file, before the window"
            } else {
                "lines in the file"
            },
        }))
    }
}

/// Rows read so far over all the files of a source.
#[derive(Clone, Copy, Default)]
struct Counts {
    good: u64,
    records: u64,
}

/// Reads rows into batches until the data, the limit or the consumer's interest runs out.
/// With `keep_going` a record that cannot be read (wrong number of fields, a value that does
/// not fit its column, invalid text) is set aside in the batch's rejects; a broken file
/// structure (an unterminated quote) still ends the read. `file`, when given, is the value of
/// the `file_column` that follows the file's own columns.
fn produce<R: Read>(
    rows: &mut Records<R>,
    layout: &Layout,
    opts: &ReadOptions,
    tx: &BatchSender,
    file: Option<&str>,
    counts: &mut Counts,
) -> Result<()> {
    let (batch_rows, limit) = (opts.batch_rows.max(1), opts.limit);
    let columns = &layout.schema.columns[..layout.from_file];
    let width = layout.schema.len();
    let mut batch = Batch::new(width, counts.records + 1, batch_rows);
    let mut row: Vec<Value> = Vec::with_capacity(width);
    let mut scratch = String::new();
    let Counts {
        mut good,
        mut records,
    } = *counts;
    while limit.is_none_or(|l| good < l) && rows.next()? {
        records += 1;
        let read = rows.check_width().and_then(|()| {
            for (i, column) in columns.iter().enumerate() {
                let value = match rows.field(i, &column.name, &mut scratch) {
                    Err(e) => return Err((Some(column.name.clone()), e)),
                    Ok(None) => Value::Null,
                    Ok(Some(text)) => typed(text, column, layout.declared[i], layout.sampled)
                        .map_err(|m| (Some(column.name.clone()), rows.error(rows.rec.line, m)))?,
                };
                row.push(value);
            }
            if let Some(name) = file {
                row.push(Value::Text(name.into()));
            }
            Ok(())
        });
        match read {
            Ok(()) => {
                batch.push_row(row.drain(..));
                good += 1;
            }
            Err((column, e)) if opts.keep_going => {
                row.clear();
                batch.rejects.push(Reject {
                    line: Some(rows.rec.line),
                    row: records,
                    column,
                    reason: match e {
                        EtlError::File { message, .. } => message,
                        other => other.to_string(),
                    },
                    record: bounded_record(&String::from_utf8_lossy(rows.scanner.last_raw())),
                });
            }
            Err((_, e)) => return Err(e),
        }
        if batch.len() == batch_rows || batch.rejects.len() >= batch_rows {
            let full = std::mem::replace(&mut batch, Batch::new(width, records + 1, batch_rows));
            tx.send_blocking(full)?;
        }
    }
    *counts = Counts { good, records };
    if !batch.is_empty() || !batch.rejects.is_empty() {
        tx.send_blocking(batch)?;
    }
    Ok(())
}

/// `produce` for a target that takes rows encoded (`ReadOptions::encoded`): each field goes
/// from the scanner's buffer into the target's format, text without a copy of its own and
/// other types through the same reading `produce` gives them, so the same values are
/// refused with the same messages. A value the target refuses ends the read at its row
/// (`Encoded::refused`); false then, true when the rows ran out.
fn produce_encoded<R: Read>(
    rows: &mut Records<R>,
    layout: &Layout,
    opts: &ReadOptions,
    tx: &BatchSender,
    file: Option<&str>,
    counts: &mut Counts,
    target: &EncodedTarget,
) -> Result<bool> {
    let (batch_rows, limit) = (opts.batch_rows.max(1), opts.limit);
    let columns = &layout.schema.columns[..layout.from_file];
    // Text columns without a length limit take the field as it is; the others are read into
    // a value first.
    let plain: Vec<bool> = columns
        .iter()
        .map(|c| c.data_type == DataType::TEXT)
        .collect();
    let mut scratch = String::new();
    let Counts {
        mut good,
        mut records,
    } = *counts;
    let mut w = EncodedRows::new(target, layout.schema.len(), records + 1);
    while limit.is_none_or(|l| good < l) && rows.next()? {
        records += 1;
        rows.check_width().map_err(|(_, e)| e)?;
        w.start_row();
        for (i, column) in columns.iter().enumerate() {
            match rows.field(i, &column.name, &mut scratch)? {
                None => w.null(i),
                Some(text) if plain[i] => w.text(i, text),
                Some(text) => {
                    let value = typed(text, column, layout.declared[i], layout.sampled)
                        .map_err(|m| rows.error(rows.rec.line, m))?;
                    w.value(i, value, &column.data_type);
                }
            }
        }
        if let Some(name) = file {
            w.text(layout.from_file, name);
        }
        if !w.end_row() {
            tx.send_blocking(w.batch(records + 1))?;
            return Ok(false);
        }
        good += 1;
        if w.rows() == batch_rows {
            tx.send_blocking(w.batch(records + 1))?;
        }
    }
    *counts = Counts { good, records };
    if w.rows() > 0 {
        tx.send_blocking(w.batch(records + 1))?;
    }
    Ok(true)
}

/// The value of a non-NULL field. A declared type gets `Value::parse`'s reading; an inferred one
/// accepts only values that would not have changed the inference (see `convert_inferred`).
fn typed(
    text: &str,
    column: &Column,
    declared: bool,
    (sampled, whole_file): (u64, bool),
) -> std::result::Result<Value, String> {
    let (name, ty) = (&column.name, &column.data_type);
    if declared {
        return Value::parse(text, ty)
            .map_err(|e| format!("column '{name}': {e} (declared as {ty} in types)"));
    }
    infer::convert_inferred(text, ty).map_err(|m| {
        let sample = if whole_file {
            "all rows".to_string()
        } else {
            format!("the first {sampled} rows")
        };
        format!(
            "column '{name}': {}; {ty} was inferred from {sample}. Declare the type to load this \
             file: types: #{{ {}: \"{}\" }}",
            m.reason,
            rhai_key(name),
            m.suggestion
        )
    })
}

/// A column name as a key of a Rhai map literal.
fn rhai_key(name: &str) -> String {
    let ident = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ident {
        name.to_string()
    } else {
        format!("{name:?}")
    }
}

/// Records of one file with the checks every reader needs: field count, encoding, NULLs.
struct Records<R> {
    scanner: Scanner<R>,
    rec: Record,
    /// Expected fields per record, once the columns are known; and whether they were named
    /// by the `columns` option (for the message).
    width: Option<(usize, bool)>,
    opts: CsvOptions,
    display: String,
}

impl<R: Read> Records<R> {
    fn set_width(&mut self, width: usize, named_by_option: bool) {
        self.width = Some((width, named_by_option));
        // In a one-column file a blank line is a NULL value, wherever it is.
        self.scanner.skip_trailing_blank_lines = width != 1;
    }

    fn error(&self, line: u64, message: String) -> EtlError {
        EtlError::File {
            path: PathBuf::from(&self.display),
            line,
            message,
        }
    }

    fn scan_error(&self, e: ScanError) -> EtlError {
        self.error(e.line, e.message)
    }

    fn next(&mut self) -> Result<bool> {
        self.scanner
            .next_record(&mut self.rec)
            .map_err(|e| self.scan_error(e))
    }

    /// Whether the record just read has as many fields as the file has columns.
    fn check_width(&self) -> std::result::Result<(), (Option<String>, EtlError)> {
        match self.width {
            Some((width, _)) if self.rec.len() != width => Err((None, self.width_error(width))),
            _ => Ok(()),
        }
    }

    fn width_error(&self, width: usize) -> EtlError {
        let named_by = match (self.width, self.opts.header) {
            (Some((_, true)), _) | (_, false) => "as named in columns",
            _ => "as in the header",
        };
        let found = self.rec.len();
        let message = if self.rec.is_blank_line() {
            format!("the line is empty, but {width} fields were expected ({named_by}); remove the empty line")
        } else {
            let hint = if found > width {
                format!(
                    "a field probably contains the delimiter '{}' without quotes; quote that field",
                    self.opts.delimiter as char
                )
            } else {
                "a field is missing, or a quoted field runs on past where it should end".to_string()
            };
            format!("expected {width} fields ({named_by}), found {found}: {hint}")
        };
        self.error(self.rec.line, message)
    }

    /// The text of field `i`, or None when it is NULL: unquoted and empty, or unquoted and
    /// equal to the `null` marker. A quoted field is never NULL.
    fn field<'a>(
        &'a self,
        i: usize,
        column: &str,
        scratch: &'a mut String,
    ) -> Result<Option<&'a str>> {
        let (bytes, quoted) = self.rec.field(i);
        if !quoted && bytes.is_empty() {
            return Ok(None);
        }
        let text = self
            .opts
            .encoding
            .decode(bytes, scratch)
            .map_err(|_| self.utf8_error(i, &format!("column '{column}'")))?;
        if !quoted && self.opts.null.as_deref() == Some(text) {
            return Ok(None);
        }
        Ok(Some(text))
    }

    fn utf8_error(&self, _field: usize, place: &str) -> EtlError {
        let raw = self.scanner.last_raw();
        let valid = std::str::from_utf8(raw)
            .err()
            .map_or(0, |e| e.valid_up_to());
        let line = self.rec.line + memchr::memchr_iter(b'\n', &raw[..valid]).count() as u64;
        self.error(
            line,
            format!(
                "invalid UTF-8 in {place} at byte offset {} of the file; the file is not UTF-8: if it was \
                 saved as Latin-1 or Windows-1252, set encoding: \"latin1\" or encoding: \"windows-1252\"",
                self.rec.offset + valid as u64
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::data::Decimal;

    struct Harness {
        rt: tokio::runtime::Runtime,
        dir: tempfile::TempDir,
    }

    impl Harness {
        fn new() -> Harness {
            Harness {
                rt: tokio::runtime::Runtime::new().unwrap(),
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn io(&self) -> Io {
            Io {
                handle: self.rt.handle().clone(),
                cancel: Default::default(),
            }
        }

        fn source(&self, content: impl AsRef<[u8]>, opts: CsvOptions) -> CsvSource {
            let path = self.dir.path().join("data.csv");
            std::fs::write(&path, content).unwrap();
            CsvSource::new(path, "data/data.csv".into(), opts)
        }

        fn batches(&self, source: &CsvSource, opts: &ReadOptions) -> Result<Vec<Batch>> {
            let mut stream = source.open(&self.io(), opts)?;
            let mut out = Vec::new();
            while let Some(batch) = stream.next_blocking() {
                out.push(batch?);
            }
            Ok(out)
        }

        fn rows(&self, source: &CsvSource) -> Result<Vec<Vec<Value>>> {
            let batches = self.batches(source, &ReadOptions::default())?;
            Ok(batches
                .iter()
                .flat_map(|b| b.rows().map(|r| r.to_vec()))
                .collect())
        }

        fn types(&self, source: &CsvSource) -> Vec<String> {
            let schema = source.schema(&self.io()).unwrap();
            schema
                .columns
                .iter()
                .map(|c| format!("{} {}", c.name, c.data_type))
                .collect()
        }
    }

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    fn dec(s: &str) -> Value {
        Value::Decimal(Decimal::parse(s).unwrap())
    }

    fn ty(s: &str) -> DataType {
        DataType::parse(s).unwrap()
    }

    fn with(f: impl FnOnce(&mut CsvOptions)) -> CsvOptions {
        let mut o = CsvOptions::default();
        f(&mut o);
        o
    }

    #[test]
    fn infers_types_and_reads_typed_rows() {
        let h = Harness::new();
        let src = h.source(
            "id,amount,paid,day,at,code\n\
             1,12.50,true,2024-01-31,2024-01-31 10:00:00,007\n\
             2,-3,false,2024-02-01,2024-02-01T11:30:00.5,\"\"\n\
             3,,,,,\n",
            CsvOptions::default(),
        );
        assert_eq!(
            h.types(&src),
            [
                "id integer",
                "amount numeric(4,2)",
                "paid boolean",
                "day date",
                "at timestamp",
                "code text"
            ]
        );
        let rows = h.rows(&src).unwrap();
        assert_eq!(rows[0][0], Value::Int32(1));
        assert_eq!(rows[0][1], dec("12.50"));
        assert_eq!(rows[0][2], Value::Bool(true));
        assert_eq!(rows[0][3].to_text().unwrap(), "2024-01-31");
        assert_eq!(rows[0][4].to_text().unwrap(), "2024-01-31 10:00:00");
        assert_eq!(rows[0][5], text("007"));
        assert_eq!(rows[1][1], dec("-3.00"));
        assert_eq!(rows[1][4].to_text().unwrap(), "2024-02-01 11:30:00.500");
        assert_eq!(
            rows[1][5],
            text(""),
            "a quoted empty field is the empty string"
        );
        assert!(
            rows[2].iter().skip(1).all(Value::is_null),
            "unquoted empty fields are NULL"
        );
        assert_eq!(rows.len(), 3);
    }

    #[test]
    fn null_marker_applies_to_unquoted_fields_only() {
        let h = Harness::new();
        let src = h.source(
            "a,b\nNULL,\"NULL\"\n,x\n",
            with(|o| o.null = Some("NULL".into())),
        );
        assert_eq!(
            h.rows(&src).unwrap(),
            vec![
                vec![Value::Null, text("NULL")],
                vec![Value::Null, text("x")]
            ]
        );
        let src = h.source("a\n\\N\n5\n", with(|o| o.null = Some("\\N".into())));
        assert_eq!(h.types(&src), ["a integer"]);
        assert_eq!(
            h.rows(&src).unwrap(),
            vec![vec![Value::Null], vec![Value::Int32(5)]]
        );
    }

    #[test]
    fn declared_types_win_over_inference() {
        let h = Harness::new();
        let opts = with(|o| {
            o.types = vec![
                ("ID".into(), DataType::Int64),
                ("amount".into(), ty("numeric(12,2)")),
            ]
        });
        let src = h.source("id,amount,zip\n1,5,01234\n", opts);
        assert_eq!(
            h.types(&src),
            ["id bigint", "amount numeric(12,2)", "zip text"]
        );
        assert_eq!(
            h.rows(&src).unwrap(),
            vec![vec![Value::Int64(1), dec("5.00"), text("01234")]]
        );
    }

    #[test]
    fn declared_type_errors_name_file_line_column_and_value() {
        let h = Harness::new();
        let amount = || with(|o| o.types = vec![("amount".into(), ty("numeric(5,2)"))]);
        let src = h.source("id,amount\n1,\"x\ny\"\n2,1\n", amount());
        let err = h.rows(&src).unwrap_err().to_string();
        assert_eq!(err, "data/data.csv:2: column 'amount': 'x\ny' is not a valid numeric (declared as numeric(5,2) in types)");
        let src = h.source("id,amount\n1,\"1.5\"\n2,12.345\n", amount());
        let err = h.rows(&src).unwrap_err().to_string();
        assert_eq!(
            err,
            "data/data.csv:3: column 'amount': 12.345 does not fit numeric(5,2) without rounding or overflow \
             (declared as numeric(5,2) in types)"
        );
    }

    #[test]
    fn values_beyond_the_sample_must_fit_the_inferred_type() {
        let h = Harness::new();
        let src = h.source(
            "id,unit price\n1,1.5\n2,2.25\n3,1234.5\n",
            with(|o| o.infer_rows = 2),
        );
        assert_eq!(h.types(&src), ["id integer", "unit price numeric(3,2)"]);
        let err = h.rows(&src).unwrap_err().to_string();
        assert_eq!(
            err,
            "data/data.csv:4: column 'unit price': '1234.5' does not fit numeric(3,2); numeric(3,2) was inferred \
             from the first 2 rows. Declare the type to load this file: types: #{ \"unit price\": \"numeric(6,2)\" }"
        );
        let src = h.source("zip\n12345\n0815\n", with(|o| o.infer_rows = 1));
        let err = h.rows(&src).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "data/data.csv:3: column 'zip': '0815' has leading zeros, which integer would drop"
            ),
            "{err}"
        );
        assert!(err.ends_with("types: #{ zip: \"text\" }"), "{err}");
        let src = h.source("zip\n12345\n0815\n", with(|o| o.infer_rows = 0));
        assert_eq!(h.types(&src), ["zip text"]);
    }

    #[test]
    fn header_less_files_take_their_names_from_columns() {
        let h = Harness::new();
        let src = h.source(
            "1,x\n2,y\n",
            with(|o| {
                o.header = false;
                o.columns = Some(vec!["id".into(), "name".into()]);
            }),
        );
        assert_eq!(h.types(&src), ["id integer", "name text"]);
        assert_eq!(
            h.rows(&src).unwrap(),
            vec![
                vec![Value::Int32(1), text("x")],
                vec![Value::Int32(2), text("y")]
            ]
        );
        let src = h.source(
            "1,x,9\n",
            with(|o| {
                o.header = false;
                o.columns = Some(vec!["id".into(), "name".into()]);
            }),
        );
        let err = h.rows(&src).unwrap_err().to_string();
        assert!(
            err.starts_with("data/data.csv:1: expected 2 fields (as named in columns), found 3"),
            "{err}"
        );
    }

    #[test]
    fn columns_renames_the_header() {
        let h = Harness::new();
        let src = h.source(
            " Order ID ,Name\n1,x\n",
            with(|o| o.columns = Some(vec!["order_id".into(), "name".into()])),
        );
        assert_eq!(h.types(&src), ["order_id integer", "name text"]);
        let src = h.source(" Order ID ,Name\n1,x\n", CsvOptions::default());
        assert_eq!(
            h.types(&src),
            ["Order ID integer", "Name text"],
            "header names are trimmed"
        );
        let src = h.source(
            "a,b\n1,x\n",
            with(|o| o.columns = Some(vec!["only_one".into()])),
        );
        let err = src.schema(&h.io()).unwrap_err().to_string();
        assert!(
            err.contains("the header has 2 columns but the columns option names 1"),
            "{err}"
        );
    }

    #[test]
    fn bad_headers_are_refused() {
        let h = Harness::new();
        let err = h
            .source("id,name,ID\n", CsvOptions::default())
            .schema(&h.io())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "data/data.csv:1: columns 1 and 3 are both named 'id' (names must be unique, ignoring case); fix the \
             header or name the columns with columns: [...]"
        );
        let err = h
            .source("id,,name\n", CsvOptions::default())
            .schema(&h.io())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("data/data.csv:1: column 2 has an empty name"),
            "{err}"
        );
        let err = h
            .source("", CsvOptions::default())
            .schema(&h.io())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("data/data.csv:1: the file is empty"),
            "{err}"
        );
        let err = h
            .source(
                "a,b\n",
                with(|o| o.types = vec![("c".into(), DataType::Int32)]),
            )
            .schema(&h.io())
            .unwrap_err()
            .to_string();
        assert_eq!(err, "configuration: csv data/data.csv: types names column 'c', which the file does not have (columns: a, b)");
    }

    #[test]
    fn field_count_errors_give_the_physical_line() {
        // Reported by the read, not by the type inference, which skips such records: a load
        // that sets bad rows aside must get past them.
        let h = Harness::new();
        let src = h.source("a,b,c\n1,\"two\nlines\",3\n4,5\n", CsvOptions::default());
        let err = h.rows(&src).unwrap_err().to_string();
        assert_eq!(
            err,
            "data/data.csv:4: expected 3 fields (as in the header), found 2: a field is missing, or a quoted field \
             runs on past where it should end"
        );
        let src = h.source("a,b\n1,2\n\n3,4\n", CsvOptions::default());
        let err = h.rows(&src).unwrap_err().to_string();
        assert!(
            err.starts_with("data/data.csv:3: the line is empty, but 2 fields were expected"),
            "{err}"
        );
        let src = h.source("a,b\n1,2,3\n", CsvOptions::default());
        let err = h.rows(&src).unwrap_err().to_string();
        assert!(
            err.contains("found 3: a field probably contains the delimiter ','"),
            "{err}"
        );
    }

    #[test]
    fn scanner_errors_carry_the_file_name() {
        let h = Harness::new();
        let err = h
            .source("a,b\n1,x\"y\n", CsvOptions::default())
            .schema(&h.io())
            .unwrap_err();
        assert!(matches!(&err, EtlError::File { line: 2, .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("data/data.csv:2: a \" inside an unquoted field"),
            "{err}"
        );
    }

    #[test]
    fn invalid_utf8_suggests_latin1() {
        let h = Harness::new();
        let src = h.source(
            b"id,name\n1,ok\n2,\"bar\nCaf\xe9\"\n",
            CsvOptions::default(),
        );
        let err = h.rows(&src).unwrap_err().to_string();
        assert_eq!(
            err,
            "data/data.csv:4: invalid UTF-8 in column 'name' at byte offset 23 of the file; the file is not UTF-8: \
             if it was saved as Latin-1 or Windows-1252, set encoding: \"latin1\" or encoding: \"windows-1252\""
        );
        let src = h.source(
            b"id,name\n1,ok\n2,\"Caf\xe9\nbar\"\n",
            with(|o| o.encoding = super::super::Encoding::Latin1),
        );
        assert_eq!(h.rows(&src).unwrap()[1][1], text("Café\nbar"));
        let src = h.source(
            b"id,name\n1,\x93quoted\x94 \x80\n",
            with(|o| o.encoding = super::super::Encoding::Windows1252),
        );
        assert_eq!(h.rows(&src).unwrap()[0][1], text("“quoted” €"));
    }

    #[test]
    fn bom_crlf_and_no_final_newline() {
        let h = Harness::new();
        let src = h.source(
            "\u{FEFF}id,name\r\n1,\"a\r\nb\"\r\n2,c",
            CsvOptions::default(),
        );
        assert_eq!(h.types(&src), ["id integer", "name text"]);
        assert_eq!(
            h.rows(&src).unwrap(),
            vec![
                vec![Value::Int32(1), text("a\r\nb")],
                vec![Value::Int32(2), text("c")]
            ]
        );
    }

    #[test]
    fn one_column_files_read_blank_lines_as_nulls() {
        let h = Harness::new();
        let src = h.source("n\n1\n\n2\n\n", CsvOptions::default());
        assert_eq!(
            h.rows(&src).unwrap(),
            vec![
                vec![Value::Int32(1)],
                vec![Value::Null],
                vec![Value::Int32(2)],
                vec![Value::Null]
            ]
        );
    }

    #[test]
    fn batches_number_their_first_row_and_honour_the_limit() {
        let h = Harness::new();
        let body: String = (1..=5).map(|i| format!("{i}\n")).collect();
        let src = h.source(format!("n\n{body}"), CsvOptions::default());
        let opts = ReadOptions {
            batch_rows: 2,
            ..ReadOptions::default()
        };
        let batches = h.batches(&src, &opts).unwrap();
        let shape: Vec<(u64, usize)> = batches.iter().map(|b| (b.first_row, b.len())).collect();
        assert_eq!(shape, vec![(1, 2), (3, 2), (5, 1)]);
        let opts = ReadOptions {
            batch_rows: 2,
            limit: Some(3),
            ..ReadOptions::default()
        };
        let batches = h.batches(&src, &opts).unwrap();
        let values: Vec<Value> = batches.into_iter().flat_map(Batch::into_values).collect();
        assert_eq!(
            values,
            vec![Value::Int32(1), Value::Int32(2), Value::Int32(3)]
        );
        let opts = ReadOptions {
            limit: Some(0),
            ..ReadOptions::default()
        };
        assert!(h.batches(&src, &opts).unwrap().is_empty());
    }

    #[test]
    fn schema_is_sampled_once() {
        let h = Harness::new();
        let src = h.source("a\n1\n", CsvOptions::default());
        assert_eq!(h.types(&src), ["a integer"]);
        std::fs::write(h.dir.path().join("data.csv"), "a\nx\n").unwrap();
        assert_eq!(h.types(&src), ["a integer"]);
        assert_eq!(src.describe(), "csv data/data.csv");
        assert!(!src.applies_window());
    }

    #[test]
    fn a_missing_file_names_both_paths() {
        let h = Harness::new();
        let src = CsvSource::new(
            h.dir.path().join("nope.csv"),
            "data/nope.csv".into(),
            CsvOptions::default(),
        );
        let err = src.schema(&h.io()).unwrap_err();
        assert!(
            matches!(&err, EtlError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
        );
        let msg = err.to_string();
        assert!(
            msg.starts_with("data/nope.csv: ") && msg.contains("nope.csv)"),
            "{msg}"
        );
    }

    /// An endless CSV body that notes when the producer lets go of it.
    struct Endless {
        row: u64,
        pending: Vec<u8>,
        dropped: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            while self.pending.len() < buf.len() {
                self.row += 1;
                writeln!(self.pending, "{},x", self.row)?;
            }
            let n = buf.len();
            buf.copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            Ok(n)
        }
    }

    impl Drop for Endless {
        fn drop(&mut self) {
            self.dropped
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn stops_reading_when_the_consumer_goes_away() {
        let h = Harness::new();
        let src = h.source("n,s\n", CsvOptions::default());
        let layout = src.layout().unwrap().clone();
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let endless = Endless {
            row: 0,
            pending: Vec::new(),
            dropped: dropped.clone(),
        };
        let mut rows = records_of(endless, "data/data.csv", &src.opts);
        rows.set_width(2, false);
        let mut stream = BatchStream::spawn_blocking(&h.io(), layout.schema.clone(), move |tx| {
            let opts = ReadOptions {
                batch_rows: 100,
                ..ReadOptions::default()
            };
            produce(&mut rows, &layout, &opts, tx, None, &mut Counts::default())
        });
        let first = stream.next_blocking().unwrap().unwrap();
        assert_eq!(first.rows().next().unwrap()[0], text("1"));
        drop(stream);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !dropped.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(
                std::time::Instant::now() < deadline,
                "the producer kept reading"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn cancellation_ends_the_stream() {
        let h = Harness::new();
        let body: String = (1..=10_000).map(|i| format!("{i}\n")).collect();
        let src = h.source(format!("n\n{body}"), CsvOptions::default());
        let io = h.io();
        let mut stream = src
            .open(
                &io,
                &ReadOptions {
                    batch_rows: 10,
                    ..ReadOptions::default()
                },
            )
            .unwrap();
        assert!(stream.next_blocking().unwrap().is_ok());
        io.cancel.cancel();
        assert!(matches!(
            stream.next_blocking(),
            Some(Err(EtlError::Cancelled))
        ));
    }

    fn gzip(data: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    /// The files of a glob over `raw/` in the harness's folder, as `csv_file` finds them.
    fn glob(h: &Harness, files: &[(&str, Vec<u8>)], pattern: &str, opts: CsvOptions) -> CsvSource {
        let raw = h.dir.path().join("raw");
        std::fs::create_dir_all(&raw).unwrap();
        for (name, content) in files {
            std::fs::write(raw.join(name), content).unwrap();
        }
        let found = crate::connectors::files::expand(&h.dir.path().join(pattern), pattern).unwrap();
        CsvSource::from_files(found, pattern.into(), opts)
    }

    #[test]
    fn compressed_files_read_like_plain_ones_by_extension_or_option() {
        let h = Harness::new();
        let csv = "id,amount,note\n1,12.50,\"a,b\"\n2,,\"\"\n";
        let zst = ruzstd::encoding::compress_to_vec(
            csv.as_bytes(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(csv.as_bytes()).unwrap();
        let files = [
            ("a.csv", csv.as_bytes().to_vec()),
            ("b.csv.gz", gzip(csv)),
            ("c.csv.zst", zst),
            ("d.csv.bz2", bz.finish().unwrap()),
        ];
        let plain = h.rows(&glob(&h, &files[..1], "raw/a.csv", CsvOptions::default()));
        let plain = plain.unwrap();
        assert_eq!(plain[0], [Value::Int32(1), dec("12.50"), text("a,b")]);
        assert_eq!(plain[1], [Value::Int32(2), Value::Null, text("")]);
        for (name, _) in &files[1..] {
            let src = glob(&h, &files, &format!("raw/{name}"), CsvOptions::default());
            assert_eq!(
                h.types(&src),
                ["id integer", "amount numeric(4,2)", "note text"]
            );
            assert_eq!(h.rows(&src).unwrap(), plain, "{name}");
        }
        // A name that does not say: the option does.
        std::fs::write(h.dir.path().join("raw/export.dat"), gzip(csv)).unwrap();
        let src = CsvSource::new(
            h.dir.path().join("raw/export.dat"),
            "raw/export.dat".into(),
            with(|o| o.compression = Some(crate::connectors::files::Compression::Gzip)),
        );
        assert_eq!(h.rows(&src).unwrap(), plain);
    }

    #[test]
    fn a_truncated_gzip_file_fails_with_the_file_and_what_to_do() {
        let h = Harness::new();
        let body: String = (1..=50_000).map(|i| format!("{i},row {i}\n")).collect();
        let data = gzip(&format!("id,name\n{body}"));
        let cut = data[..data.len() * 2 / 3].to_vec();
        let src = glob(
            &h,
            &[("cut.csv.gz", cut)],
            "raw/cut.csv.gz",
            CsvOptions::default(),
        );
        let err = h.rows(&src).unwrap_err().to_string();
        assert!(err.starts_with("raw/cut.csv.gz:"), "{err}");
        assert!(err.contains("the compressed data ends early"), "{err}");
    }

    #[test]
    fn a_glob_reads_its_files_in_name_order_and_can_name_each_rows_file() {
        let h = Harness::new();
        let files = [
            ("2024-01-02.csv.gz", gzip("id,name\n3,c\n")),
            ("2024-01-01.csv", b"id,name\n1,a\n2,b\n".to_vec()),
            ("2024-01-03.csv", b"ID,Name\n4,\"\"\n".to_vec()),
        ];
        let src = glob(
            &h,
            &files,
            "raw/2024-*.csv*",
            with(|o| o.file_column = Some("_file".into())),
        );
        assert_eq!(h.types(&src), ["id integer", "name text", "_file text"]);
        let rows = h.rows(&src).unwrap();
        let file = |n: &str| text(&format!("raw/2024-01-0{n}"));
        assert_eq!(
            rows,
            vec![
                vec![Value::Int32(1), text("a"), file("1.csv")],
                vec![Value::Int32(2), text("b"), file("1.csv")],
                vec![Value::Int32(3), text("c"), file("2.csv.gz")],
                vec![Value::Int32(4), text(""), file("3.csv")],
            ]
        );
        // A limit spans the files.
        let opts = ReadOptions {
            limit: Some(3),
            ..ReadOptions::default()
        };
        let n: usize = h.batches(&src, &opts).unwrap().iter().map(Batch::len).sum();
        assert_eq!(n, 3);

        let clash = glob(
            &h,
            &files,
            "raw/2024-*.csv*",
            with(|o| o.file_column = Some("NAME".into())),
        );
        let err = clash.schema(&h.io()).unwrap_err().to_string();
        assert!(
            err.contains("file_column 'NAME' is also a column of the file ('name')"),
            "{err}"
        );
    }

    #[test]
    fn a_file_of_a_glob_with_other_columns_is_refused() {
        let h = Harness::new();
        let files = [
            ("a.csv", b"id,name\n1,a\n".to_vec()),
            ("b.csv", b"id,title\n2,b\n".to_vec()),
        ];
        let src = glob(&h, &files, "raw/*.csv", CsvOptions::default());
        let err = h.rows(&src).unwrap_err().to_string();
        assert_eq!(
            err,
            "raw/b.csv:1: the header (id, title) differs from the header of raw/a.csv (id, name); \
             the files one pattern reads must have the same columns in the same order: narrow the \
             pattern or load them separately"
        );
    }
}
