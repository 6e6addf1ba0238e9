//! Parquet files as a `Source`: each file is read one record batch at a time (local files
//! through the synchronous reader, objects through ranged requests), converted column by
//! column, and handed on in the loader's row batches.

use std::path::PathBuf;
use std::sync::OnceLock;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use futures_util::StreamExt;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ParquetRecordBatchStreamBuilder;

use super::convert::{self, Convert};
use super::object::ObjectReader;
use super::options::{Nanoseconds, ParquetOptions};
use crate::connectors::encoded::EncodedRows;
use crate::connectors::files::{self, FileRef};
use crate::connectors::{BatchSender, BatchStream, Io, ReadOptions, Source};
use crate::data::{Batch, Column, DataType, Schema, Value};
use crate::error::{EtlError, Result};

/// Record batches decoded but not yet converted, per object being read.
const BATCHES_IN_FLIGHT: usize = 1;

pub struct ParquetSource {
    files: Vec<FileRef>,
    display: String,
    opts: ParquetOptions,
    schema: OnceLock<Schema>,
}

type Batches = Box<dyn Iterator<Item = std::result::Result<RecordBatch, String>> + Send>;

/// One open file: its Arrow schema and its record batches.
struct Opened {
    schema: SchemaRef,
    batches: Batches,
}

/// Decodes `batches` on a thread of its own, `BATCHES_IN_FLIGHT` ahead of the reader: pages
/// are decompressed and decoded while the reading thread converts and encodes the batch before.
fn ahead(mut batches: Batches) -> Batches {
    let (tx, rx) = std::sync::mpsc::sync_channel(BATCHES_IN_FLIGHT);
    std::thread::Builder::new()
        .name("etl-parquet".into())
        .spawn(move || {
            for batch in batches.by_ref() {
                if tx.send(Some(batch)).is_err() {
                    return;
                }
            }
            let _ = tx.send(None);
        })
        .expect("starting the Parquet decoding thread");
    let mut ended = false;
    Box::new(std::iter::from_fn(move || {
        if ended {
            return None;
        }
        match rx.recv() {
            Ok(Some(batch)) => Some(batch),
            Ok(None) => {
                ended = true;
                None
            }
            // The thread ended without saying the file did: it panicked.
            Err(_) => {
                ended = true;
                Some(Err(
                    "the decoding thread stopped before the end of the file".into(),
                ))
            }
        }
    }))
}

fn open_file(file: &FileRef, batch_rows: usize) -> std::result::Result<Opened, String> {
    match &file.object {
        None => {
            let f = std::fs::File::open(&file.path).map_err(|e| e.to_string())?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(explain)?;
            let schema = builder.schema().clone();
            let reader = builder
                .with_batch_size(batch_rows)
                .build()
                .map_err(explain)?;
            Ok(Opened {
                schema,
                batches: ahead(Box::new(reader.map(|b| b.map_err(|e| e.to_string())))),
            })
        }
        Some(object) => {
            // Only the footer, then the column chunks of one row group at a time, are fetched.
            let reader = ObjectReader {
                store: object.store(),
                path: object.location.clone(),
                size: object.size,
            };
            let builder =
                files::wait_remote(
                    async move { ParquetRecordBatchStreamBuilder::new(reader).await },
                )
                .map_err(explain)?;
            let schema = builder.schema().clone();
            let mut stream = builder
                .with_batch_size(batch_rows)
                .build()
                .map_err(explain)?;
            let (tx, mut rx) = tokio::sync::mpsc::channel(BATCHES_IN_FLIGHT);
            files::spawn_remote(async move {
                while let Some(batch) = stream.next().await {
                    let failed = batch.is_err();
                    // A closed channel: the read ended early or was cancelled.
                    if tx.send(batch.map_err(explain)).await.is_err() || failed {
                        return;
                    }
                }
            });
            Ok(Opened {
                schema,
                batches: Box::new(std::iter::from_fn(move || rx.blocking_recv())),
            })
        }
    }
}

fn explain(e: parquet::errors::ParquetError) -> String {
    format!("not a readable Parquet file: {e}")
}

/// The loader's columns for a file's Arrow schema.
fn columns(schema: &SchemaRef) -> Vec<Column> {
    schema
        .fields()
        .iter()
        .map(|f| Column::new(f.name().clone(), convert::data_type(f.data_type())))
        .collect()
}

impl ParquetSource {
    pub fn from_files(files: Vec<FileRef>, display: String, opts: ParquetOptions) -> ParquetSource {
        assert!(
            !files.is_empty(),
            "a Parquet source reads at least one file"
        );
        ParquetSource {
            files,
            display,
            opts,
            schema: OnceLock::new(),
        }
    }

    fn error(file: &FileRef, message: String) -> EtlError {
        EtlError::Config(format!("parquet {}: {message}", file.display))
    }

    /// The columns of the first file (every other file must have the same), then
    /// `file_column`.
    fn layout(&self) -> Result<&Schema> {
        if let Some(schema) = self.schema.get() {
            return Ok(schema);
        }
        let first = &self.files[0];
        let opened = open_file(first, 1).map_err(|m| Self::error(first, m))?;
        let mut cols = columns(&opened.schema);
        if let Some(name) = &self.opts.file_column {
            if cols.iter().any(|c| c.name.eq_ignore_ascii_case(name)) {
                return Err(Self::error(
                    first,
                    format!("file_column '{name}' is also a column of the file; pick another name"),
                ));
            }
            cols.push(Column::new(name.clone(), DataType::TEXT));
        }
        Ok(self.schema.get_or_init(|| Schema::new(cols)))
    }
}

impl Source for ParquetSource {
    fn describe(&self) -> String {
        format!("parquet {}", self.display)
    }

    fn schema(&self, _io: &Io) -> Result<Schema> {
        Ok(self.layout()?.clone())
    }

    fn encodes(&self) -> bool {
        true
    }

    fn open(&self, io: &Io, opts: &ReadOptions) -> Result<BatchStream> {
        let schema = self.layout()?.clone();
        let files = self.files.clone();
        let (opts, parquet) = (opts.clone(), self.opts.clone());
        Ok(BatchStream::spawn_blocking(io, schema.clone(), move |tx| {
            produce(&files, &schema, &parquet, &opts, tx)
        }))
    }
}

fn produce(
    files: &[FileRef],
    schema: &Schema,
    parquet: &ParquetOptions,
    opts: &ReadOptions,
    tx: &BatchSender,
) -> Result<()> {
    let batch_rows = opts.batch_rows.max(1);
    let width = schema.len();
    let from_file = width - usize::from(parquet.file_column.is_some());
    let mut sent = 0u64;
    for file in files {
        let fail = |row: u64, message: String| EtlError::File {
            path: PathBuf::from(&file.display),
            line: row,
            message,
        };
        let opened = open_file(file, batch_rows).map_err(|m| fail(0, m))?;
        let found = columns(&opened.schema);
        if found.len() != from_file
            || found
                .iter()
                .zip(&schema.columns)
                .any(|(a, b)| a.name != b.name || a.data_type != b.data_type)
        {
            let show = |c: &[Column]| {
                c.iter()
                    .map(|c| format!("{} {}", c.name, c.data_type))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(fail(0, format!(
                "its columns ({}) differ from those of the first file {} ({}); load files of one layout per source",
                show(&found),
                files[0].display,
                show(&schema.columns[..from_file])
            )));
        }
        let mut conv = Convert {
            nanoseconds: parquet.nanoseconds,
            truncated: false,
        };
        let mut row_in_file = 0u64;
        for batch in opened.batches {
            let batch = batch.map_err(|m| fail(row_in_file, m))?;
            let n = batch.num_rows();
            let mut cols = Vec::with_capacity(width);
            for (c, array) in batch.columns().iter().enumerate() {
                let values = conv.column(array).map_err(|(i, m)| {
                    fail(
                        row_in_file + i as u64 + 1,
                        format!("column '{}': {m}", schema.columns[c].name),
                    )
                })?;
                cols.push(values.into_iter());
            }
            let take = opts.limit.map_or(n, |l| n.min((l - sent) as usize));
            if let Some(target) = &opts.encoded {
                // Written with the target's encoder (`ReadOptions::encoded`).
                let mut w = EncodedRows::new(target, width, sent + 1);
                for _ in 0..take {
                    w.start_row();
                    for (c, col) in cols.iter_mut().enumerate() {
                        let v = col.next().unwrap_or(Value::Null);
                        w.value(c, v, &schema.columns[c].data_type);
                    }
                    if parquet.file_column.is_some() {
                        w.text(from_file, &file.display);
                    }
                    if !w.end_row() {
                        // The load fails at the refused row: nothing after it is wanted.
                        tx.send_blocking(w.batch(0))?;
                        return Ok(());
                    }
                }
                row_in_file += n as u64;
                sent += take as u64;
                if w.rows() > 0 {
                    tx.send_blocking(w.batch(sent + 1))?;
                }
                if opts.limit.is_some_and(|l| sent >= l) {
                    return Ok(());
                }
                continue;
            }
            let mut out = Batch::new(width, sent + 1, take);
            for _ in 0..take {
                for col in cols.iter_mut() {
                    out.push(col.next().unwrap_or(Value::Null));
                }
                if parquet.file_column.is_some() {
                    out.push(Value::Text(file.display.clone()));
                }
            }
            row_in_file += n as u64;
            sent += take as u64;
            if !out.is_empty() {
                tx.send_blocking(out)?;
            }
            if opts.limit.is_some_and(|l| sent >= l) {
                return Ok(());
            }
        }
        if conv.truncated && parquet.nanoseconds == Nanoseconds::Truncate {
            tracing::warn!(
                "{}: timestamps or times with nanoseconds were truncated to microseconds (nanoseconds: \"truncate\")",
                file.display
            );
        }
    }
    Ok(())
}
