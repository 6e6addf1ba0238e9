//! Streaming decompression under a file reader. Every decoder reads the file in small chunks
//! and hands out plain bytes as the parser asks for them, so memory stays bounded whatever the
//! file's size; all of them are pure Rust (no C library to build or link).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use ruzstd::decoding::{FrameDecoder, StreamingDecoder};

/// How a file's bytes are compressed: `compression: "gzip"|"zstd"|"bzip2"|"none"`, or by the
/// file's extension when the option is not given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Bzip2,
}

/// What the compressed reader reads from: big enough that a decoder is not called per byte.
const CHUNK: usize = 64 * 1024;

impl Compression {
    pub const NAMES: &'static str = "\"gzip\", \"zstd\", \"bzip2\" or \"none\"";

    pub fn parse(name: &str) -> Option<Compression> {
        match name.to_ascii_lowercase().as_str() {
            "none" | "" => Some(Compression::None),
            "gzip" | "gz" => Some(Compression::Gzip),
            "zstd" | "zst" => Some(Compression::Zstd),
            "bzip2" | "bz2" => Some(Compression::Bzip2),
            _ => None,
        }
    }

    /// The compression a file name's last extension says: `.gz`, `.zst`, `.bz2`.
    pub fn from_name(name: &str) -> Compression {
        let ext = Path::new(name)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("gz" | "gzip") => Compression::Gzip,
            Some("zst" | "zstd") => Compression::Zstd,
            Some("bz2" | "bzip2") => Compression::Bzip2,
            _ => Compression::None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
        }
    }

    /// The decompressed bytes of `src`. A decoding error (a truncated or corrupt file, or one
    /// that is not compressed this way) says which compression was expected and what to do.
    pub fn reader<R: Read + Send + 'static>(self, src: R) -> Box<dyn Read + Send> {
        let buffered = BufReader::with_capacity(CHUNK, src);
        let decoded: Box<dyn Read + Send> = match self {
            Compression::None => return Box::new(buffered),
            // Multi-member: `cat a.gz b.gz` is a valid gzip file, and some writers produce it.
            Compression::Gzip => Box::new(Explained::new(
                flate2::bufread::MultiGzDecoder::new(buffered),
                self,
            )),
            Compression::Bzip2 => Box::new(Explained::new(
                bzip2::bufread::MultiBzDecoder::new(buffered),
                self,
            )),
            Compression::Zstd => Box::new(Explained::new(ZstdFrames::new(buffered), self)),
        };
        Box::new(ReadAhead::spawn(decoded))
    }

    /// Opens a local file through its decoder.
    pub fn open(self, path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
        Ok(self.reader(File::open(path)?))
    }
}

/// Decompressed chunks a decoder thread may run ahead of the reader.
const AHEAD: usize = 2;
/// Bytes per chunk handed from the decoder thread to the reader.
const AHEAD_CHUNK: usize = 256 * 1024;

/// Decompresses on a thread of its own, a few chunks ahead of the reader: the reading thread
/// (which parses and encodes rows) and the decoder run at once instead of taking turns.
/// Chunks are recycled, so memory stays at a few of them.
struct ReadAhead {
    chunks: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    spent: std::sync::mpsc::SyncSender<Vec<u8>>,
    buf: Vec<u8>,
    at: usize,
    ended: bool,
}

impl ReadAhead {
    fn spawn(mut inner: Box<dyn Read + Send>) -> ReadAhead {
        let (tx, chunks) = std::sync::mpsc::sync_channel(AHEAD);
        let (spent, recycled) = std::sync::mpsc::sync_channel::<Vec<u8>>(AHEAD + 1);
        std::thread::Builder::new()
            .name("etl-decompress".into())
            .spawn(move || loop {
                let mut chunk = recycled
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(AHEAD_CHUNK));
                chunk.resize(AHEAD_CHUNK, 0);
                let mut filled = 0;
                let mut failed = None;
                while filled < AHEAD_CHUNK {
                    match inner.read(&mut chunk[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                chunk.truncate(filled);
                // An empty chunk is the end of the data; a reader that went away ends this.
                let end = filled < AHEAD_CHUNK;
                if (filled > 0 || failed.is_none()) && tx.send(Ok(chunk)).is_err() {
                    return;
                }
                if let Some(e) = failed {
                    let _ = tx.send(Err(e));
                    return;
                }
                if end {
                    if filled > 0 {
                        let _ = tx.send(Ok(Vec::new()));
                    }
                    return;
                }
            })
            .expect("starting the decompressing thread");
        ReadAhead {
            chunks,
            spent,
            buf: Vec::new(),
            at: 0,
            ended: false,
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.buf.len() {
            if self.ended {
                return Ok(0);
            }
            let next = match self.chunks.recv() {
                Ok(next) => next?,
                // The thread ended without saying the data did: it panicked.
                Err(_) => {
                    return Err(std::io::Error::other(
                        "the decompressing thread stopped before the end of the data",
                    ))
                }
            };
            self.ended = next.is_empty();
            let old = std::mem::replace(&mut self.buf, next);
            let _ = self.spent.try_send(old);
            self.at = 0;
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Decoder errors reworded for the person whose file it is.
struct Explained<R> {
    inner: R,
    compression: Compression,
    /// Decompressed bytes handed out so far, to say where the data stopped making sense.
    offset: u64,
}

impl<R> Explained<R> {
    fn new(inner: R, compression: Compression) -> Explained<R> {
        Explained {
            inner,
            compression,
            offset: 0,
        }
    }
}

impl<R: Read> Read for Explained<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.offset += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let what = self.compression.name();
                let cause = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    "the compressed data ends early (a truncated or partly uploaded file)".into()
                } else {
                    format!("invalid {what} data ({e})")
                };
                Err(std::io::Error::new(
                    e.kind(),
                    format!(
                        "{cause} after {} decompressed bytes; if the file is not {what}-compressed, \
                         set compression: \"none\" (or the compression it uses)",
                        self.offset
                    ),
                ))
            }
        }
    }
}

/// A zstd stream of one or more frames (`zstd` writes one; concatenated files hold several).
struct ZstdFrames<R: BufRead> {
    state: Frames<R>,
}

enum Frames<R: BufRead> {
    /// Nothing read yet: the first frame header is read on the first `read`, so opening
    /// never fails and errors come with the reader's messages.
    Start(R),
    In(Box<StreamingDecoder<R, FrameDecoder>>),
    Done,
}

impl<R: BufRead> ZstdFrames<R> {
    fn new(src: R) -> ZstdFrames<R> {
        ZstdFrames {
            state: Frames::Start(src),
        }
    }

    fn start(mut src: R, decoder: FrameDecoder) -> std::io::Result<Frames<R>> {
        if src.fill_buf()?.is_empty() {
            return Ok(Frames::Done);
        }
        StreamingDecoder::new_with_decoder(src, decoder)
            .map(|d| Frames::In(Box::new(d)))
            .map_err(std::io::Error::other)
    }
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match std::mem::replace(&mut self.state, Frames::Done) {
                Frames::Done => return Ok(0),
                Frames::Start(src) => self.state = Self::start(src, FrameDecoder::new())?,
                Frames::In(mut d) => {
                    let n = d.read(buf)?;
                    if n > 0 || buf.is_empty() {
                        self.state = Frames::In(d);
                        return Ok(n);
                    }
                    // This frame is done; another may follow. The decoder's buffers are reused.
                    let (src, decoder) = d.into_parts();
                    self.state = Self::start(src, decoder)?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const TEXT: &str = "id,name\n1,a\n2,\"b\nc\"\n";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn bzip2(data: &[u8]) -> Vec<u8> {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    #[test]
    fn data_of_many_chunks_comes_through_the_decoding_thread_whole_and_in_order() {
        // Several of the thread's chunks, read back in pieces that do not line up with them.
        let text: String = (0..200_000).map(|i| format!("{i},row {i}\n")).collect();
        assert!(text.len() > 4 * AHEAD_CHUNK);
        for c in [Compression::Gzip, Compression::Zstd, Compression::Bzip2] {
            let packed = match c {
                Compression::Gzip => gzip(text.as_bytes()),
                Compression::Zstd => zstd(text.as_bytes()),
                _ => bzip2(text.as_bytes()),
            };
            let mut r = c.reader(std::io::Cursor::new(packed));
            let mut out = Vec::new();
            let mut piece = [0u8; 7001];
            loop {
                let n = r.read(&mut piece).unwrap();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&piece[..n]);
            }
            assert!(out == text.as_bytes(), "{c:?}");
            // Cut short, the error still says what went wrong, after the data before it.
            let mut cut = gzip(text.as_bytes());
            cut.truncate(cut.len() / 2);
            let mut out = Vec::new();
            let err = Compression::Gzip
                .reader(std::io::Cursor::new(cut))
                .read_to_end(&mut out)
                .unwrap_err();
            assert!(err.to_string().contains("ends early"), "{err}");
            assert!(!out.is_empty() && text.as_bytes().starts_with(&out));
        }
    }

    fn decode(c: Compression, data: Vec<u8>) -> std::io::Result<String> {
        let mut out = String::new();
        c.reader(std::io::Cursor::new(data))
            .read_to_string(&mut out)?;
        Ok(out)
    }

    #[test]
    fn extensions_name_the_compression() {
        assert_eq!(Compression::from_name("raw/a.csv.gz"), Compression::Gzip);
        assert_eq!(Compression::from_name("a.json.ZST"), Compression::Zstd);
        assert_eq!(Compression::from_name("a.csv.bz2"), Compression::Bzip2);
        assert_eq!(Compression::from_name("a.csv"), Compression::None);
        assert_eq!(Compression::parse("GZIP"), Some(Compression::Gzip));
        assert_eq!(Compression::parse("lz4"), None);
    }

    #[test]
    fn every_decoder_gives_back_the_bytes_including_concatenated_members() {
        let twice = |f: fn(&[u8]) -> Vec<u8>| [f(TEXT.as_bytes()), f(TEXT.as_bytes())].concat();
        for (c, enc) in [
            (Compression::Gzip, gzip as fn(&[u8]) -> Vec<u8>),
            (Compression::Bzip2, bzip2),
            (Compression::Zstd, zstd),
        ] {
            assert_eq!(decode(c, enc(TEXT.as_bytes())).unwrap(), TEXT, "{c:?}");
            assert_eq!(
                decode(c, twice(enc)).unwrap(),
                TEXT.repeat(2),
                "{c:?}: concatenated"
            );
            assert_eq!(decode(c, enc(b"")).unwrap(), "", "{c:?}: empty");
        }
        assert_eq!(decode(Compression::None, TEXT.into()).unwrap(), TEXT);
    }

    #[test]
    fn truncated_and_wrong_data_say_so() {
        let big: String = (0..20_000).map(|i| format!("{i},row {i}\n")).collect();
        for (c, data) in [
            (Compression::Gzip, gzip(big.as_bytes())),
            (Compression::Bzip2, bzip2(big.as_bytes())),
            (Compression::Zstd, zstd(big.as_bytes())),
        ] {
            let cut = data[..data.len() / 2].to_vec();
            let err = decode(c, cut).unwrap_err().to_string();
            assert!(
                err.contains("ends early") || err.contains(&format!("invalid {}", c.name())),
                "{c:?}: {err}"
            );
            assert!(err.contains("set compression"), "{err}");
        }
        let err = decode(Compression::Gzip, TEXT.into())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("invalid gzip data"), "{err}");
    }
}
