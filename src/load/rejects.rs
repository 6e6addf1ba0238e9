//! Rows set aside instead of failing a load (`max_errors`, `max_error_ratio`): each goes to a
//! rejects file under the run's output folder (source, line, row, column, reason, the record),
//! and the load commits the other rows as long as the rejects stay under the limits; over them
//! it rolls everything back and says where the rejects are.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use super::LoadSpec;
use crate::connectors::csv::CsvWriter;
use crate::context::RunInfo;
use crate::data::{Column, DataType, Reject, Schema, Value};
use crate::error::{EtlError, Result};

pub(super) struct Rejects {
    max_errors: Option<u64>,
    max_ratio: Option<f64>,
    pub count: u64,
    pub path: PathBuf,
    source: String,
    table: String,
    writer: Option<CsvWriter<BufWriter<File>>>,
}

impl Rejects {
    /// None unless the load sets rejects aside.
    pub fn new(spec: &LoadSpec, run: &RunInfo, source: &str) -> Option<Rejects> {
        if !spec.rejects_allowed() {
            return None;
        }
        let name: String = spec
            .into
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '.' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Some(Rejects {
            max_errors: spec.max_errors,
            max_ratio: spec.max_error_ratio,
            count: 0,
            path: run.output_dir.join(format!(
                "{name}_rejects_{}_{}.csv",
                run.file_stamp(),
                run.id
            )),
            source: source.to_string(),
            table: spec.into.clone(),
            writer: None,
        })
    }

    /// Records one reject; an error once there are more than `max_errors`.
    pub fn add(&mut self, r: Reject) -> Result<()> {
        let io = |e: std::io::Error| EtlError::io(&self.path, e);
        if self.writer.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let file = File::create(&self.path).map_err(io)?;
            let columns = ["source", "line", "row", "column", "reason", "record"];
            let schema = Schema::new(
                columns
                    .iter()
                    .map(|c| Column::new(*c, DataType::TEXT))
                    .collect(),
            );
            self.writer = Some(CsvWriter::new(BufWriter::new(file), &schema, b',').map_err(io)?);
        }
        let text = |s: String| Value::Text(s);
        let row = [
            text(self.source.clone()),
            r.line.map(|l| text(l.to_string())).unwrap_or(Value::Null),
            text(r.row.to_string()),
            r.column.map(text).unwrap_or(Value::Null),
            text(r.reason),
            text(r.record),
        ];
        let writer = self.writer.as_mut().expect("opened above");
        writer.write_row(&row).map_err(io)?;
        self.count += 1;
        match self.max_errors {
            Some(max) if self.count > max => {
                self.close();
                Err(EtlError::load(
                    &self.table,
                    format!(
                        "more than max_errors: {max} rows were rejected, so nothing was loaded; \
                         the rejected rows are in {}",
                        self.path.display()
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Checks the share of rejected rows once all are read (`good` rows were kept).
    pub fn finish(&mut self, good: u64) -> Result<()> {
        self.close();
        let read = good + self.count;
        if let Some(max) = self.max_ratio {
            if read > 0 && self.count as f64 / read as f64 > max {
                return Err(EtlError::load(
                    &self.table,
                    format!(
                        "{} of {read} rows ({:.2}%) were rejected, more than max_error_ratio: {max}, so \
                         nothing was loaded; the rejected rows are in {}",
                        self.count,
                        100.0 * self.count as f64 / read as f64,
                        self.path.display()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Writes out what is buffered; the file stays, whatever happens to the load.
    fn close(&mut self) {
        if let Some(w) = self.writer.take() {
            if let Err(e) = w.finish() {
                tracing::warn!(
                    "Could not finish the rejects file {}: {e}",
                    self.path.display()
                );
            }
        }
    }
}

impl Drop for Rejects {
    fn drop(&mut self) {
        self.close();
    }
}
