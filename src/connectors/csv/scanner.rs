//! Splits CSV bytes into records whose fields remember whether they were quoted: under
//! PostgreSQL's convention an unquoted empty field is NULL and `""` is the empty string, a
//! difference general-purpose CSV parsers throw away.

use std::io::Read;

use memchr::{memchr, memchr3};

/// Bytes requested from the reader at a time: within the 256 KiB–1 MiB band where speed is
/// flat and memory stays small (DESIGN.md §6).
pub const CHUNK: usize = 512 * 1024;

/// The largest record accepted. Without a bound, one unclosed quote would pull the rest of the
/// file into memory before the error could be reported.
pub const MAX_RECORD: usize = 64 * 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One record: field contents (quotes removed, doubled quotes undone) stored end to end.
#[derive(Debug, Default)]
pub struct Record {
    data: Vec<u8>,
    /// Per field: end offset in `data` and whether the field was quoted.
    fields: Vec<(usize, bool)>,
    /// Physical line (1-based) where the record starts.
    pub line: u64,
    /// Byte offset in the file where the record starts.
    pub offset: u64,
}

impl Record {
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// The bytes of field `i` and whether it was quoted.
    pub fn field(&self, i: usize) -> (&[u8], bool) {
        let start = if i == 0 { 0 } else { self.fields[i - 1].0 };
        let (end, quoted) = self.fields[i];
        (&self.data[start..end], quoted)
    }

    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], bool)> + '_ {
        (0..self.fields.len()).map(|i| self.field(i))
    }

    /// A line with nothing on it (read as one unquoted empty field).
    pub fn is_blank_line(&self) -> bool {
        self.fields.len() == 1 && self.fields[0] == (0, false)
    }

    fn clear(&mut self) {
        self.data.clear();
        self.fields.clear();
    }

    fn end_field(&mut self, quoted: bool) {
        self.fields.push((self.data.len(), quoted));
    }
}

/// A malformed record: the physical line where the problem is, and what to do about it.
#[derive(Debug, PartialEq)]
pub struct ScanError {
    pub line: u64,
    pub message: String,
}

enum Step {
    /// A record ends `consumed` bytes in, after crossing `newlines` line breaks.
    Record {
        consumed: usize,
        newlines: u64,
    },
    /// The record may continue past the bytes buffered so far.
    NeedMore,
    End,
    Error {
        newlines: u64,
        message: String,
    },
}

/// Reads records from a byte stream in fixed-size chunks. A record that crosses a chunk
/// boundary is parsed again from its start once more bytes are in, which keeps the state
/// machine free of suspended states and costs one re-parse per chunk.
pub struct Scanner<R> {
    src: R,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    eof: bool,
    started: bool,
    delimiter: u8,
    quote: u8,
    /// Line number and file offset of `buf[pos]`.
    line: u64,
    offset: u64,
    /// Where the last record lay in `buf`, for error reports that need its raw bytes.
    last: (usize, usize),
    max_record: usize,
    /// Whether blank lines at the end of the file are dropped. A one-column file keeps them,
    /// because there a blank line is a row whose value is NULL.
    pub skip_trailing_blank_lines: bool,
}

impl<R: Read> Scanner<R> {
    pub fn new(src: R, delimiter: u8, quote: u8) -> Scanner<R> {
        Scanner::with_capacity(src, delimiter, quote, CHUNK)
    }

    pub fn with_capacity(src: R, delimiter: u8, quote: u8, capacity: usize) -> Scanner<R> {
        Scanner {
            src,
            buf: vec![0; capacity.max(4)],
            pos: 0,
            filled: 0,
            eof: false,
            started: false,
            delimiter,
            quote,
            line: 1,
            offset: 0,
            last: (0, 0),
            max_record: MAX_RECORD,
            skip_trailing_blank_lines: true,
        }
    }

    /// Reads the next record into `rec`; false at the end of the data.
    pub fn next_record(&mut self, rec: &mut Record) -> Result<bool, ScanError> {
        if !self.started {
            self.start()?;
        }
        loop {
            let step = parse_record(
                &self.buf[self.pos..self.filled],
                self.eof,
                self.delimiter,
                self.quote,
                self.skip_trailing_blank_lines,
                rec,
            );
            match step {
                Step::Record { consumed, newlines } => {
                    rec.line = self.line;
                    rec.offset = self.offset;
                    self.last = (self.pos, consumed);
                    self.pos += consumed;
                    self.line += newlines;
                    self.offset += consumed as u64;
                    return Ok(true);
                }
                Step::End => return Ok(false),
                Step::NeedMore => self.fill()?,
                Step::Error { newlines, message } => {
                    return Err(ScanError {
                        line: self.line + newlines,
                        message,
                    })
                }
            }
        }
    }

    /// The raw bytes of the record last returned (valid until the next call).
    pub fn last_raw(&self) -> &[u8] {
        &self.buf[self.last.0..self.last.0 + self.last.1]
    }

    fn start(&mut self) -> Result<(), ScanError> {
        self.started = true;
        while self.filled < BOM.len() && !self.eof {
            self.fill()?;
        }
        if self.buf[..self.filled].starts_with(BOM) {
            self.pos = BOM.len();
            self.offset = BOM.len() as u64;
        }
        Ok(())
    }

    /// Moves the unread tail to the front and reads until the buffer is full or the input
    /// ends. The buffer grows only when one record is larger than it.
    fn fill(&mut self) -> Result<(), ScanError> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.pos = 0;
        }
        if self.filled == self.buf.len() {
            if self.filled >= self.max_record {
                return Err(ScanError {
                    line: self.line,
                    message: format!(
                        "the record starting on this line is longer than {} MiB; most likely a quoted field is \
                         never closed (look for a stray {q}, or double a {q} meant as text: {q}{q})",
                        self.max_record >> 20,
                        q = self.quote as char
                    ),
                });
            }
            self.buf.resize(
                (self.buf.len() * 2).min(self.max_record.max(self.buf.len() + 1)),
                0,
            );
        }
        while self.filled < self.buf.len() {
            match self.src.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(ScanError {
                        line: self.line,
                        message: format!("read error: {e}"),
                    })
                }
            }
        }
        Ok(())
    }
}

/// Parses one record at the start of `input`. `eof` says whether `input` is all that is left.
fn parse_record(
    input: &[u8],
    eof: bool,
    delimiter: u8,
    quote: u8,
    skip_trailing_blank_lines: bool,
    rec: &mut Record,
) -> Step {
    rec.clear();
    let len = input.len();
    if len == 0 {
        return if eof { Step::End } else { Step::NeedMore };
    }
    if let Some(end) = line_break_at(input, 0, eof) {
        let Some(end) = end else {
            return Step::NeedMore;
        };
        if skip_trailing_blank_lines {
            let rest = input.iter().position(|&b| b != b'\n' && b != b'\r');
            match rest {
                None if eof => return Step::End,
                None => return Step::NeedMore,
                Some(_) => {}
            }
        }
        rec.end_field(false);
        return Step::Record {
            consumed: end,
            newlines: 1,
        };
    }

    let mut i = 0;
    let mut newlines = 0u64;
    loop {
        if i < len && input[i] == quote {
            let opened_at = newlines;
            i += 1;
            loop {
                let Some(k) = memchr(quote, &input[i..]) else {
                    if !eof {
                        return Step::NeedMore;
                    }
                    return Step::Error {
                        newlines: opened_at,
                        message: format!(
                            "a quoted field starting on this line is never closed (end of file reached); \
                             add the closing {q}, or double a {q} meant as text ({q}{q})",
                            q = quote as char
                        ),
                    };
                };
                let segment = &input[i..i + k];
                rec.data.extend_from_slice(segment);
                newlines += memchr::memchr_iter(b'\n', segment).count() as u64;
                i += k + 1;
                if i == len && !eof {
                    // The next byte decides between a closing and a doubled quote.
                    return Step::NeedMore;
                }
                if i < len && input[i] == quote {
                    rec.data.push(quote);
                    i += 1;
                    continue;
                }
                break;
            }
            rec.end_field(true);
            if i == len {
                return Step::Record {
                    consumed: i,
                    newlines,
                };
            }
            let b = input[i];
            if b == delimiter {
                i += 1;
                continue;
            }
            match line_break_at(input, i, eof) {
                Some(Some(end)) => return Step::Record { consumed: end, newlines: newlines + 1 },
                Some(None) => return Step::NeedMore,
                None => {
                    return Step::Error {
                        newlines,
                        message: format!(
                            "unexpected {} after a closing quote; a quoted field must be followed by the \
                             delimiter '{}' or the end of the line (write a {q} inside quotes as {q}{q})",
                            describe_byte(b),
                            printable(delimiter),
                            q = quote as char
                        ),
                    }
                }
            }
        }

        match memchr3(delimiter, b'\n', quote, &input[i..]) {
            None => {
                if !eof {
                    return Step::NeedMore;
                }
                let field = &input[i..];
                rec.data
                    .extend_from_slice(field.strip_suffix(b"\r").unwrap_or(field));
                rec.end_field(false);
                return Step::Record {
                    consumed: len,
                    newlines,
                };
            }
            Some(k) => {
                let field = &input[i..i + k];
                let b = input[i + k];
                if b == delimiter {
                    rec.data.extend_from_slice(field);
                    rec.end_field(false);
                    i += k + 1;
                } else if b == b'\n' {
                    rec.data
                        .extend_from_slice(field.strip_suffix(b"\r").unwrap_or(field));
                    rec.end_field(false);
                    return Step::Record {
                        consumed: i + k + 1,
                        newlines: newlines + 1,
                    };
                } else {
                    return Step::Error {
                        newlines,
                        message: format!(
                            "a {q} inside an unquoted field (field {}); quote the whole field and double the \
                             {q} inside it, e.g. {q}say {q}{q}hi{q}{q}{q}",
                            rec.fields.len() + 1,
                            q = quote as char
                        ),
                    };
                }
            }
        }
    }
}

/// At `i`: `Some(Some(end))` for a line break ending before `end`, `Some(None)` when a CR at the
/// end of the buffer may be half of a CRLF, `None` when there is no line break.
fn line_break_at(input: &[u8], i: usize, eof: bool) -> Option<Option<usize>> {
    match input.get(i)? {
        b'\n' => Some(Some(i + 1)),
        b'\r' => match input.get(i + 1) {
            Some(b'\n') => Some(Some(i + 2)),
            None if !eof => Some(None),
            None => Some(Some(i + 1)),
            Some(_) => None,
        },
        _ => None,
    }
}

fn describe_byte(b: u8) -> String {
    match b {
        b'\r' => "carriage return".into(),
        b' ' => "space".into(),
        0x21..=0x7E => format!("'{}'", b as char),
        _ => format!("byte 0x{b:02X}"),
    }
}

fn printable(b: u8) -> String {
    if b == b'\t' {
        "\\t".into()
    } else {
        (b as char).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each record as (line, fields) with quoted fields shown in brackets: `[x]`.
    fn scan_with(input: &[u8], capacity: usize) -> Result<Vec<(u64, Vec<String>)>, ScanError> {
        let mut scanner = Scanner::with_capacity(input, b',', b'"', capacity);
        let mut rec = Record::default();
        let mut out = Vec::new();
        while scanner.next_record(&mut rec)? {
            let fields = rec
                .iter()
                .map(|(b, quoted)| {
                    let s = String::from_utf8(b.to_vec()).unwrap();
                    if quoted {
                        format!("[{s}]")
                    } else {
                        s
                    }
                })
                .collect();
            out.push((rec.line, fields));
        }
        Ok(out)
    }

    /// Scans with a large buffer and with tiny ones (so records cross chunk boundaries at
    /// every position) and checks both agree.
    fn scan(input: &str) -> Result<Vec<(u64, Vec<String>)>, ScanError> {
        let whole = scan_with(input.as_bytes(), CHUNK);
        for capacity in [4, 5, 7, 16] {
            assert_eq!(
                scan_with(input.as_bytes(), capacity),
                whole,
                "capacity {capacity}"
            );
        }
        whole
    }

    fn rec(line: u64, fields: &[&str]) -> (u64, Vec<String>) {
        (line, fields.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn unquoted_empty_and_quoted_empty_differ() {
        assert_eq!(
            scan("a,,\"\",b\n").unwrap(),
            vec![rec(1, &["a", "", "[]", "b"])]
        );
    }

    #[test]
    fn doubled_quotes_delimiters_and_line_breaks_inside_quotes() {
        let input = "id,note\n1,\"say \"\"hi\"\", then, leave\"\n2,\"two\nlines\r\nhere\"\n3,x\n";
        assert_eq!(
            scan(input).unwrap(),
            vec![
                rec(1, &["id", "note"]),
                rec(2, &["1", "[say \"hi\", then, leave]"]),
                rec(3, &["2", "[two\nlines\r\nhere]"]),
                rec(6, &["3", "x"]),
            ]
        );
    }

    #[test]
    fn crlf_and_lf_line_endings_and_a_last_line_without_newline() {
        assert_eq!(
            scan("a,b\r\n1,2\n3,\"4\"\r\n5,6").unwrap(),
            vec![
                rec(1, &["a", "b"]),
                rec(2, &["1", "2"]),
                rec(3, &["3", "[4]"]),
                rec(4, &["5", "6"]),
            ]
        );
        assert_eq!(scan("a,\"b\"").unwrap(), vec![rec(1, &["a", "[b]"])]);
        assert_eq!(scan("a,b\r").unwrap(), vec![rec(1, &["a", "b"])]);
        assert_eq!(scan("a,").unwrap(), vec![rec(1, &["a", ""])]);
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        assert_eq!(
            scan("\u{FEFF}id,name\n1,x\n").unwrap(),
            vec![rec(1, &["id", "name"]), rec(2, &["1", "x"])]
        );
        assert_eq!(scan("\u{FEFF}").unwrap(), vec![]);
    }

    #[test]
    fn trailing_blank_lines_are_ignored_but_inner_ones_are_records() {
        assert_eq!(
            scan("a,b\n1,2\n\n\r\n\n").unwrap(),
            vec![rec(1, &["a", "b"]), rec(2, &["1", "2"])]
        );
        assert_eq!(
            scan("a,b\n\n1,2\n").unwrap(),
            vec![rec(1, &["a", "b"]), rec(2, &[""]), rec(3, &["1", "2"])]
        );
        assert_eq!(scan("").unwrap(), vec![]);
        assert_eq!(scan("\n\n").unwrap(), vec![]);
    }

    #[test]
    fn one_column_files_keep_trailing_blank_lines_as_null_rows() {
        let mut scanner = Scanner::new(&b"x\n1\n\n"[..], b',', b'"');
        scanner.skip_trailing_blank_lines = false;
        let mut rec = Record::default();
        let mut lines = Vec::new();
        while scanner.next_record(&mut rec).unwrap() {
            lines.push((rec.line, rec.is_blank_line()));
        }
        assert_eq!(lines, vec![(1, false), (2, false), (3, true)]);
    }

    #[test]
    fn unterminated_quote_points_at_the_line_where_it_opened() {
        let err = scan("a,b\n1,\"open\n2,3\n4,5\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("never closed"), "{}", err.message);
    }

    #[test]
    fn quote_inside_an_unquoted_field_is_an_error() {
        let err = scan("a,b\n1,ab\"c\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(
            err.message.contains("inside an unquoted field (field 2)"),
            "{}",
            err.message
        );
    }

    #[test]
    fn text_after_a_closing_quote_is_an_error() {
        let err = scan("a,b\n\"x\ny\"z,1\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(
            err.message.contains("unexpected 'z' after a closing quote"),
            "{}",
            err.message
        );
        let err = scan("\"x\" ,1\n").unwrap_err();
        assert!(
            err.message
                .contains("unexpected space after a closing quote"),
            "{}",
            err.message
        );
    }

    #[test]
    fn tab_delimiter_and_other_quote() {
        let mut scanner = Scanner::new(&b"a\t'b\tc'\t''\n"[..], b'\t', b'\'');
        let mut rec = Record::default();
        assert!(scanner.next_record(&mut rec).unwrap());
        assert_eq!(
            rec.iter().collect::<Vec<_>>(),
            vec![(&b"a"[..], false), (&b"b\tc"[..], true), (&b""[..], true)]
        );
        assert_eq!(scanner.last_raw(), b"a\t'b\tc'\t''\n");
        assert!(!scanner.next_record(&mut rec).unwrap());
    }

    #[test]
    fn a_record_larger_than_the_buffer_grows_it() {
        let long = "x".repeat(10_000);
        let input = format!("\"{long}\",{long}\n1,2\n");
        let got = scan_with(input.as_bytes(), 64).unwrap();
        assert_eq!(got[0].1, vec![format!("[{long}]"), long.clone()]);
        assert_eq!(got[1], rec(2, &["1", "2"]));
    }

    #[test]
    fn a_runaway_quote_stops_at_the_record_size_limit() {
        let input = format!("a,b\n1,2\n3,\"{}\n", "never closed\n".repeat(100_000));
        let mut scanner = Scanner::with_capacity(input.as_bytes(), b',', b'"', 1024);
        scanner.max_record = 1 << 20;
        let mut rec = Record::default();
        assert!(scanner.next_record(&mut rec).unwrap());
        assert!(scanner.next_record(&mut rec).unwrap());
        let err = scanner.next_record(&mut rec).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(
            err.message
                .starts_with("the record starting on this line is longer than 1 MiB"),
            "{}",
            err.message
        );
        assert!(scanner.buf.len() <= 1 << 20);
    }

    #[test]
    fn offsets_count_from_the_start_of_the_file() {
        let mut scanner = Scanner::new(&b"\xEF\xBB\xBFab\n\"c\nd\"\ne\n"[..], b',', b'"');
        let mut rec = Record::default();
        let mut seen = Vec::new();
        while scanner.next_record(&mut rec).unwrap() {
            seen.push((rec.line, rec.offset));
        }
        assert_eq!(seen, vec![(1, 3), (2, 6), (4, 12)]);
    }
}
