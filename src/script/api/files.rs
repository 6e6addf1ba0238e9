//! Output files: `output_csv(name, relation)` writes `metadata/output/PROJECT/NAME_STAMP.csv`.

use std::sync::Arc;

use rhai::{Engine, NativeCallContext};

use super::relation::Relation;
use super::{fail, Res};
use crate::connectors::csv::CsvWriter;
use crate::context::current_task;
use crate::error::EtlError;
use crate::script::host::Host;

pub fn register(engine: &mut Engine, host: &Arc<Host>) {
    let h = host.clone();
    engine.register_fn(
        "output_csv",
        move |ctx: NativeCallContext, name: &str, r: Relation| output_csv(&h, &ctx, name, &r),
    );
}

fn output_csv(host: &Host, ctx: &NativeCallContext, name: &str, r: &Relation) -> Res<String> {
    let task = current_task().ok_or_else(|| fail("output_csv() runs inside a task"))?;
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(fail(format!(
            "output_csv: '{name}' must be a plain file name without folders"
        )));
    }
    let dir = task.run.output_dir.clone();
    if task.run.dry_run {
        let path = dir.join(format!("{name}_{}.csv", task.run.file_stamp()));
        tracing::info!(task = %task.task, "Dry run: would write {}.", path.display());
        return Ok(path.display().to_string());
    }
    std::fs::create_dir_all(&dir).map_err(|e| fail(EtlError::io(&dir, e)))?;
    let path = dir.join(format!("{name}_{}.csv", task.run.file_stamp()));
    let tmp = path.with_extension("csv.partial");
    // Written under a temporary name and renamed: a reader never sees half a file.
    let file = std::fs::File::create(&tmp).map_err(|e| fail(EtlError::io(&tmp, e)))?;
    let schema = r.source.schema(&host.task_io()).map_err(fail)?;
    let mut writer: Option<CsvWriter<std::io::BufWriter<std::fs::File>>> = None;
    let mut file = Some(std::io::BufWriter::new(file));
    let mut rows = 0u64;
    let io_err = |e: std::io::Error| EtlError::io(&tmp, e);
    let result = r.for_each_batch(host, ctx, |schema, batch| {
        if writer.is_none() {
            writer =
                Some(CsvWriter::new(file.take().expect("file"), schema, b',').map_err(io_err)?);
        }
        let w = writer.as_mut().expect("writer");
        for row in batch.rows() {
            w.write_row(row).map_err(io_err)?;
        }
        rows += batch.len() as u64;
        Ok(())
    });
    let finish = result.and_then(|out_schema| {
        let w = match writer {
            Some(w) => w,
            // No rows: still a valid file with the header.
            None => CsvWriter::new(
                file.take().expect("file"),
                if out_schema.is_empty() {
                    &schema
                } else {
                    &out_schema
                },
                b',',
            )
            .map_err(io_err)?,
        };
        w.finish().map(drop).map_err(io_err)
    });
    if let Err(e) = finish {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    std::fs::rename(&tmp, &path).map_err(|e| fail(EtlError::io(&path, e)))?;
    task.run
        .output_files
        .lock()
        .expect("output lock")
        .push(path.clone());
    tracing::info!(task = %task.task, file = %path.display(), rows, "Wrote {rows} rows to {}.", path.display());
    Ok(path.display().to_string())
}
