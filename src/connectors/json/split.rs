//! Splits a JSON file into its records without parsing them: newline-delimited JSON (one value
//! after another) or one top-level array, told apart by the first character. Only one record's
//! bytes are held at a time, so a file of any size streams in bounded memory.

use std::io::Read;

/// A record larger than this is refused rather than held: it is almost certainly a file that
/// is not a list of records (one huge object), which the reader cannot stream.
pub const MAX_RECORD: usize = 64 << 20;

#[derive(Debug, PartialEq)]
pub struct SplitError {
    pub line: u64,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Layout {
    Unknown,
    /// Values one after the other (newline-delimited JSON, or just whitespace-separated).
    Stream,
    /// Inside `[ ... ]`: `first` until the first element is read.
    Array {
        first: bool,
    },
    Done,
}

pub struct Splitter<R> {
    src: R,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    eof: bool,
    line: u64,
    layout: Layout,
}

impl<R: Read> Splitter<R> {
    pub fn new(src: R) -> Splitter<R> {
        Splitter {
            src,
            buf: vec![0; 64 * 1024],
            pos: 0,
            filled: 0,
            eof: false,
            line: 1,
            layout: Layout::Unknown,
        }
    }

    fn err(&self, message: impl Into<String>) -> SplitError {
        SplitError {
            line: self.line,
            message: message.into(),
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, SplitError> {
        if self.pos == self.filled {
            if self.eof {
                return Ok(None);
            }
            loop {
                match self.src.read(&mut self.buf) {
                    Ok(0) => {
                        self.eof = true;
                        return Ok(None);
                    }
                    Ok(n) => {
                        (self.pos, self.filled) = (0, n);
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(self.err(format!("read error: {e}"))),
                }
            }
        }
        Ok(Some(self.buf[self.pos]))
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.buf.get(self.pos).copied();
        if let Some(b) = b {
            self.pos += 1;
            if b == b'\n' {
                self.line += 1;
            }
        }
        b
    }

    /// Skips whitespace (and a byte-order mark at the very start); the next byte, not consumed.
    fn skip_space(&mut self) -> Result<Option<u8>, SplitError> {
        loop {
            match self.peek()? {
                Some(b' ' | b'\t' | b'\r' | b'\n') => {
                    self.bump();
                }
                Some(0xEF) if self.layout == Layout::Unknown => {
                    for expected in [0xEF, 0xBB, 0xBF] {
                        if self.peek()? != Some(expected) {
                            return Err(self.err("the file does not start with JSON"));
                        }
                        self.bump();
                    }
                }
                other => return Ok(other),
            }
        }
    }

    /// The next record's bytes into `out`, and the line it starts on; None at the end.
    pub fn next_record(&mut self, out: &mut Vec<u8>) -> Result<Option<u64>, SplitError> {
        out.clear();
        if self.layout == Layout::Unknown {
            self.layout = match self.skip_space()? {
                Some(b'[') => {
                    self.bump();
                    Layout::Array { first: true }
                }
                _ => Layout::Stream,
            };
        }
        match self.layout {
            Layout::Done | Layout::Unknown => return Ok(None),
            Layout::Stream => {
                if self.skip_space()?.is_none() {
                    self.layout = Layout::Done;
                    return Ok(None);
                }
            }
            Layout::Array { first } => {
                let next = self.skip_space()?;
                match next {
                    Some(b']') => return self.close_array(),
                    None => return Err(self.err("the file ends inside the top-level array (no closing ']'): it is truncated")),
                    Some(b',') if !first => {
                        self.bump();
                        if self.skip_space()? == Some(b']') {
                            return Err(self.err("a ',' before the array's closing ']' (trailing commas are not JSON)"));
                        }
                    }
                    Some(_) if !first => {
                        return Err(self.err("expected ',' or ']' between the array's elements"))
                    }
                    Some(_) => {}
                }
                self.layout = Layout::Array { first: false };
            }
        }
        let line = self.line;
        self.value(out)?;
        Ok(Some(line))
    }

    fn close_array(&mut self) -> Result<Option<u64>, SplitError> {
        self.bump();
        self.layout = Layout::Done;
        match self.skip_space()? {
            None => Ok(None),
            Some(_) => Err(self.err("text after the top-level array's closing ']'")),
        }
    }

    /// Copies one value: an object or array to its matching close, a string to its closing
    /// quote, anything else up to the next delimiter. Validity is left to the parser.
    fn value(&mut self, out: &mut Vec<u8>) -> Result<(), SplitError> {
        let start = self.line;
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        loop {
            let Some(b) = self.peek()? else {
                if depth > 0 || in_string {
                    return Err(SplitError {
                        line: start,
                        message: "the record starting here is not closed before the end of the file: the file is truncated".into(),
                    });
                }
                return Ok(());
            };
            if !in_string && depth == 0 && !out.is_empty() {
                let scalar_end = matches!(
                    b,
                    b' ' | b'\t' | b'\r' | b'\n' | b',' | b']' | b'}' | b'{' | b'[' | b'"'
                );
                let closed = matches!(out[0], b'{' | b'[' | b'"');
                if closed || scalar_end {
                    return Ok(());
                }
            }
            self.bump();
            out.push(b);
            if out.len() > MAX_RECORD {
                return Err(SplitError {
                    line: start,
                    message: format!("the record starting here is larger than {} MiB; a JSON file is read as a list of records (one per line, or the elements of a top-level array)", MAX_RECORD >> 20),
                });
            }
            if in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Result<Vec<(u64, String)>, SplitError> {
        // A tiny buffer, so that records cross buffer boundaries.
        let mut s = Splitter::new(text.as_bytes());
        s.buf = vec![0; 3];
        let mut out = Vec::new();
        let mut all = Vec::new();
        while let Some(line) = s.next_record(&mut out)? {
            all.push((line, String::from_utf8(out.clone()).unwrap()));
        }
        Ok(all)
    }

    #[test]
    fn newline_delimited_records_with_their_lines() {
        let got = split("{\"a\": 1}\n\n{\"b\": \"}\\\"{\"}\r\n  {\"c\": [1, {\"d\": 2}]}").unwrap();
        assert_eq!(
            got,
            [
                (1, "{\"a\": 1}".to_string()),
                (3, "{\"b\": \"}\\\"{\"}".to_string()),
                (4, "{\"c\": [1, {\"d\": 2}]}".to_string()),
            ]
        );
        assert_eq!(split("").unwrap(), []);
        assert_eq!(split("1 2\n\"x\"").unwrap().len(), 3);
    }

    #[test]
    fn top_level_array_elements_stream_one_by_one() {
        let got = split("\u{feff} [\n {\"a\": 1},\n {\"a\": [2]} ,{}\n]\n").unwrap();
        assert_eq!(
            got,
            [
                (2, "{\"a\": 1}".to_string()),
                (3, "{\"a\": [2]}".to_string()),
                (3, "{}".to_string()),
            ]
        );
        assert_eq!(split("[]").unwrap(), []);
    }

    #[test]
    fn broken_structure_says_where() {
        let e = split("[{\"a\": 1},\n{\"a\": 2}").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("no closing ']'"), "{e:?}");
        let e = split("{\"a\": 1}\n{\"a\": \"x").unwrap_err();
        assert_eq!((e.line, e.message.contains("truncated")), (2, true));
        assert!(split("[{\"a\": 1},]")
            .unwrap_err()
            .message
            .contains("trailing commas"));
        assert!(split("[{} {}]")
            .unwrap_err()
            .message
            .contains("expected ','"));
        assert!(split("[{}] x")
            .unwrap_err()
            .message
            .contains("after the top-level array"));
    }
}
