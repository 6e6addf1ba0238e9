//! `COPY ... FROM STDIN (FORMAT binary)` as a pipeline: the script thread encodes rows straight
//! into a byte buffer (no per-field allocation, DESIGN.md §6) and hands chunks that end on row
//! boundaries through a bounded channel to a task feeding the server, so encoding and the
//! server's work overlap while memory stays at a few chunks.

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::CopyInSink;

use super::types::Wire;
use super::wire;
use crate::connectors::{Io, RowEncoder};
use crate::data::{Batch, Value};
use crate::error::{EtlError, Result};

/// Chunk size: flat speed from 64 KiB to 4 MiB, memory grows with it (DESIGN.md §6).
pub const CHUNK: usize = 256 * 1024;
/// Chunks queued between the encoder and the socket.
const CHUNKS_IN_FLIGHT: usize = 2;

const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// How the feeding task ended when it did not finish the COPY.
pub enum CopyEnd {
    Server(tokio_postgres::Error),
    Cancelled,
}

pub struct CopyIn {
    buf: BytesMut,
    tx: Option<mpsc::Sender<Bytes>>,
    task: Option<JoinHandle<std::result::Result<u64, CopyEnd>>>,
    io: Io,
    table: String,
    /// The connection's name, for errors that are not about a row's data.
    connection: String,
    /// Rows encoded so far, and where each batch started: (first COPY row, source row).
    pub rows: u64,
    starts: Vec<(u64, u64)>,
}

impl CopyIn {
    /// Starts feeding `sink` from a task on the runtime.
    pub fn start(io: &Io, sink: CopyInSink<Bytes>, table: &str, connection: &str) -> CopyIn {
        let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
        let cancel = io.cancel.clone();
        let task = io.handle.spawn(feed(sink, rx, cancel));
        let mut buf = BytesMut::with_capacity(CHUNK + 16 * 1024);
        buf.put_slice(HEADER);
        CopyIn {
            buf,
            tx: Some(tx),
            task: Some(task),
            io: io.clone(),
            table: table.to_string(),
            connection: connection.to_string(),
            rows: 0,
            starts: Vec::new(),
        }
    }

    /// Encodes a batch; `wires[i]` is the target column of field i. An encoding error names the
    /// source row and the column.
    pub fn write(&mut self, batch: &Batch, wires: &[Wire], names: &[String]) -> Result<()> {
        self.starts.push((self.rows + 1, batch.first_row));
        let width = wires.len() as i16;
        for (i, row) in batch.rows().enumerate() {
            self.buf.put_i16(width);
            for (j, v) in row.iter().enumerate() {
                if v.is_null() {
                    self.buf.put_i32(-1);
                    continue;
                }
                field(&mut self.buf, |out| wire::encode(v, &wires[j], out)).map_err(|message| {
                    EtlError::Load {
                        table: self.table.clone(),
                        row: Some(batch.first_row + i as u64),
                        column: Some(names[j].clone()),
                        message,
                    }
                })?;
            }
            self.rows += 1;
            if self.buf.len() >= CHUNK {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Writes rows already in this format (`Batch::encoded`, whole rows without header or
    /// trailer), as they are.
    pub fn write_encoded(&mut self, batch: &Batch) -> Result<()> {
        let Some(encoded) = &batch.encoded else {
            return Err(EtlError::load(
                &self.table,
                "a batch of values where encoded rows were expected",
            ));
        };
        self.starts.push((self.rows + 1, batch.first_row));
        self.rows += encoded.rows as u64;
        // A batch is already a chunk's worth: it goes to the socket without another copy,
        // behind what was encoded before it (the header).
        if !self.buf.is_empty() {
            self.flush()?;
        }
        self.send(encoded.bytes.clone())
    }

    /// Whether a chunk can be queued without waiting for the server.
    pub fn has_room(&self) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.capacity() > 0)
    }

    /// The source row of the n-th COPY row (1-based), for server errors.
    pub fn source_row(&self, copy_row: u64) -> u64 {
        match self
            .starts
            .iter()
            .rev()
            .find(|(start, _)| *start <= copy_row)
        {
            Some((start, first)) => first + (copy_row - start),
            None => copy_row,
        }
    }

    fn flush(&mut self) -> Result<()> {
        let chunk = self.buf.split().freeze();
        self.buf.reserve(CHUNK + 16 * 1024);
        self.send(chunk)
    }

    fn send(&mut self, chunk: Bytes) -> Result<()> {
        let Some(tx) = &self.tx else {
            return Err(EtlError::Other("COPY already finished".into()));
        };
        if tx.blocking_send(chunk).is_err() {
            // The feeding task stopped: its result says why.
            return Err(match self.join() {
                Err(end) => self.error(end),
                Ok(_) => EtlError::load(&self.table, "the COPY ended before all rows were sent"),
            });
        }
        Ok(())
    }

    /// Sends the trailer and waits for the server to accept every row; returns the row count.
    pub fn finish(&mut self) -> Result<u64> {
        self.buf.put_i16(-1);
        let chunk = self.buf.split().freeze();
        if let Some(tx) = self.tx.take() {
            // A failed send means the task already ended; join tells how.
            let _ = tx.blocking_send(chunk);
        }
        self.join().map_err(|end| self.error(end))
    }

    /// A server error during COPY as a load error at the source row and column it names
    /// (`CONTEXT: COPY t, line N, column c`), SQLSTATE kept in the message. What is not about
    /// the data (a cancelled statement, a lost connection) is the connection's error.
    fn error(&self, end: CopyEnd) -> EtlError {
        match end {
            CopyEnd::Cancelled => EtlError::Cancelled,
            CopyEnd::Server(e) if !is_data_error(&e) => {
                let (line, _) = super::error::copy_position(&e);
                let row = line.map(|l| format!(", row {}", self.source_row(l)));
                EtlError::Database {
                    connection: self.connection.clone(),
                    message: format!(
                        "load into {}{}: {}",
                        self.table,
                        row.unwrap_or_default(),
                        super::error::message(&e)
                    ),
                    sqlstate: super::error::sqlstate(&e),
                }
            }
            CopyEnd::Server(e) => {
                let (line, column) = super::error::copy_position(&e);
                let mut message = super::error::message(&e);
                if let Some(code) = super::error::sqlstate(&e) {
                    message.push_str(&format!(" (SQLSTATE {code})"));
                }
                EtlError::Load {
                    table: self.table.clone(),
                    row: line.map(|l| self.source_row(l)),
                    column,
                    message,
                }
            }
        }
    }

    fn join(&mut self) -> std::result::Result<u64, CopyEnd> {
        self.tx = None;
        let Some(task) = self.task.take() else {
            return Err(CopyEnd::Cancelled);
        };
        match self.io.handle.block_on(task) {
            Ok(r) => r,
            Err(_) => Err(CopyEnd::Cancelled),
        }
    }
}

impl Drop for CopyIn {
    fn drop(&mut self) {
        // Abandoned (an error elsewhere): abort the COPY rather than complete it.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// One field: its length, then what `put` writes.
fn field(
    out: &mut BytesMut,
    put: impl FnOnce(&mut BytesMut) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    let at = out.len();
    out.put_i32(0);
    put(out)?;
    let len = (out.len() - at - 4) as i32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// Rows a source encodes itself for a COPY into columns of `wires` (`RowEncoder`): the same
/// bytes `CopyIn::write` makes of the same values.
pub struct CopyEncoder {
    pub wires: Vec<Wire>,
}

impl RowEncoder for CopyEncoder {
    fn start_row(&self, out: &mut BytesMut) {
        out.put_i16(self.wires.len() as i16);
    }

    fn null(&self, out: &mut BytesMut) {
        out.put_i32(-1);
    }

    fn value(&self, col: usize, v: &Value, out: &mut BytesMut) -> std::result::Result<(), String> {
        field(out, |out| wire::encode(v, &self.wires[col], out))
    }

    fn text(&self, col: usize, s: &str, out: &mut BytesMut) -> std::result::Result<(), String> {
        field(out, |out| wire::encode_str(s, &self.wires[col], out))
    }
}

/// A refused value (class 22) or a violated constraint (23): the row's fault.
fn is_data_error(e: &tokio_postgres::Error) -> bool {
    super::error::sqlstate(e).is_some_and(|c| c.starts_with("22") || c.starts_with("23"))
}

async fn feed(
    sink: CopyInSink<Bytes>,
    mut rx: mpsc::Receiver<Bytes>,
    cancel: tokio_util::sync::CancellationToken,
) -> std::result::Result<u64, CopyEnd> {
    let mut sink = Box::pin(sink);
    loop {
        let chunk = tokio::select! {
            c = rx.recv() => c,
            _ = cancel.cancelled() => return Err(CopyEnd::Cancelled),
        };
        let Some(chunk) = chunk else { break };
        let mut pinned = sink.as_mut();
        tokio::select! {
            r = pinned.send(chunk) => r.map_err(CopyEnd::Server)?,
            _ = cancel.cancelled() => return Err(CopyEnd::Cancelled),
        }
    }
    // The channel also closes when the session is abandoned; its connection is then discarded
    // without COMMIT, so finishing the COPY here cannot make anything visible.
    tokio::select! {
        r = sink.as_mut().finish() => r.map_err(CopyEnd::Server),
        _ = cancel.cancelled() => Err(CopyEnd::Cancelled),
    }
}
