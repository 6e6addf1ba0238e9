//! Relations: lazy descriptions of rows (`conn.table`, `conn.sql`, `csv_file`) with optional
//! row-level script steps. Nothing is read until a load, `.rows()`, `.count()` or an output.

use std::path::PathBuf;
use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, FnPtr, Map, NativeCallContext};

use super::transform::RhaiTransform;
use super::values::row_to_map;
use super::{fail, Res};
use crate::connectors::csv::{CsvOptions, CsvSource};
use crate::connectors::files::{self, ByFile, ByFileSource, FileRef, FileSelection};
use crate::connectors::json::{JsonOptions, JsonSource};
use crate::connectors::{ReadOptions, Source};
use crate::data::{Batch, Schema};
use crate::error::{EtlError, Result};
use crate::load::Transform;
use crate::script::host::Host;
use crate::script::limits::Growth;

#[derive(Clone)]
pub enum Step {
    Map(FnPtr),
    Filter(FnPtr),
    Limit(u64),
}

/// Where a relation's rows come from, as the script wrote it: what `etl plan` shows and
/// what `etl watch` compares between two versions of a script.
#[derive(Clone, Debug, Default)]
pub enum Origin {
    Table {
        connection: String,
        table: String,
    },
    Sql {
        connection: String,
        sql: String,
        params: crate::connectors::Params,
    },
    Csv {
        /// The path or glob, resolved against the project's folder.
        path: std::path::PathBuf,
        /// The files it named when the script ran, in the order they are read.
        files: Vec<std::path::PathBuf>,
        /// The options as given (types, delimiter, ...).
        options: String,
    },
    /// `http_json(url, #{...})`: a changed URL or option is a changed task for `etl watch`.
    Http {
        url: String,
        options: String,
    },
    #[default]
    Other,
}

#[derive(Clone)]
pub struct Relation {
    pub source: Arc<dyn Source>,
    pub steps: Vec<Step>,
    pub origin: Origin,
}

impl Relation {
    pub fn new(source: Arc<dyn Source>) -> Relation {
        Relation::with_origin(source, Origin::Other)
    }

    pub fn with_origin(source: Arc<dyn Source>, origin: Origin) -> Relation {
        Relation {
            source,
            steps: Vec::new(),
            origin,
        }
    }

    /// Notes, for `etl watch`, the file this relation reads (CSV) as an input of the task.
    pub fn record_read(&self, host: &Host) {
        if let Origin::Csv { files, .. } = &self.origin {
            for path in files {
                host.record_input(path);
            }
        }
    }

    fn with(&self, step: Step) -> Relation {
        let mut r = self.clone();
        r.steps.push(step);
        r
    }

    /// A leading `.limit(n)` is pushed into the read itself.
    pub fn read_limit(&self) -> Option<u64> {
        match self.steps.first() {
            Some(Step::Limit(n)) => Some(*n),
            _ => None,
        }
    }

    /// Streams the relation through its steps, handing each output batch to `each`.
    pub fn for_each_batch(
        &self,
        host: &Host,
        ctx: &NativeCallContext,
        mut each: impl FnMut(&Schema, Batch) -> Result<()>,
    ) -> Result<Schema> {
        self.record_read(host);
        let limit = host.mode.read_limit(self.read_limit());
        let opts = ReadOptions {
            limit,
            ..ReadOptions::default()
        };
        let mut stream = self.source.open(&host.task_io(), &opts)?;
        let mut transform = RhaiTransform::new(ctx, &self.steps, Some(stream.schema.clone()));
        while let Some(batch) = stream.next_blocking() {
            let out = transform.apply(batch?)?;
            if let Some(schema) = transform.output_schema() {
                if !out.is_empty() {
                    each(&schema, out)?;
                }
            }
            if transform.exhausted() {
                break;
            }
        }
        Ok(transform.output_schema().unwrap_or_default())
    }
}

pub fn register(engine: &mut Engine, host: &Arc<Host>) {
    engine.register_type_with_name::<Relation>("Relation");
    let h = host.clone();
    engine.register_fn("csv_file", move |path: &str| csv_file(&h, path, Map::new()));
    let h = host.clone();
    engine.register_fn("csv_file", move |path: &str, opts: Map| {
        csv_file(&h, path, opts)
    });
    let h = host.clone();
    engine.register_fn("json_file", move |path: &str| {
        json_file(&h, path, Map::new())
    });
    let h = host.clone();
    engine.register_fn("json_file", move |path: &str, opts: Map| {
        json_file(&h, path, opts)
    });
    #[cfg(feature = "parquet")]
    {
        let h = host.clone();
        engine.register_fn("parquet_file", move |path: &str| {
            parquet_file(&h, path, Map::new())
        });
        let h = host.clone();
        engine.register_fn("parquet_file", move |path: &str, opts: Map| {
            parquet_file(&h, path, opts)
        });
    }
    engine.register_fn("map", |r: &mut Relation, f: FnPtr| r.with(Step::Map(f)));
    engine.register_fn("filter", |r: &mut Relation, f: FnPtr| {
        r.with(Step::Filter(f))
    });
    engine.register_fn("limit", |r: &mut Relation, n: i64| -> Res<Relation> {
        let n = u64::try_from(n).map_err(|_| fail(format!("limit must be 0 or more, not {n}")))?;
        Ok(r.with(Step::Limit(n)))
    });
    let h = host.clone();
    engine.register_fn("rows", move |ctx: NativeCallContext, r: &mut Relation| {
        rows(&h, &ctx, r)
    });
    let h = host.clone();
    engine.register_fn(
        "count",
        move |ctx: NativeCallContext, r: &mut Relation| -> Res<i64> {
            let mut n = 0i64;
            r.for_each_batch(&h, &ctx, |_, b| {
                n += b.len() as i64;
                Ok(())
            })
            .map_err(fail)?;
            Ok(n)
        },
    );
    let h = host.clone();
    engine.register_fn("columns", move |r: &mut Relation| -> Res<Array> {
        let schema = r.source.schema(&h.task_io()).map_err(fail)?;
        Ok(schema
            .columns
            .iter()
            .map(|c| {
                Dynamic::from(Map::from_iter([
                    ("name".into(), c.name.clone().into()),
                    ("type".into(), c.data_type.to_string().into()),
                ]))
            })
            .collect())
    });
    engine.register_fn("to_string", |r: &mut Relation| r.source.describe());
}

fn csv_file(host: &Host, path: &str, mut opts: Map) -> Res<Relation> {
    let err = |e: String| fail(format!("csv_file(\"{path}\"): {e}"));
    let selection = FileSelection::take(&mut opts).map_err(err)?;
    let opts = CsvOptions::from_map(&opts).map_err(err)?;
    let (pattern, files) = file_set(host, path).map_err(err)?;
    let origin = Origin::Csv {
        path: pattern,
        files: local_paths(&files),
        options: format!("{opts:?}"),
    };
    let display = path.to_string();
    let read = move |files| -> Arc<dyn Source> {
        Arc::new(CsvSource::from_files(files, display.clone(), opts.clone()))
    };
    Ok(Relation::with_origin(
        by_file(files, selection, read),
        origin,
    ))
}

fn json_file(host: &Host, path: &str, mut opts: Map) -> Res<Relation> {
    let err = |e: String| fail(format!("json_file(\"{path}\"): {e}"));
    let selection = FileSelection::take(&mut opts).map_err(err)?;
    let opts = JsonOptions::from_map(&opts).map_err(err)?;
    let (pattern, files) = file_set(host, path).map_err(err)?;
    // The same origin as a CSV file's: `etl watch` re-runs the task when one of them changes.
    let origin = Origin::Csv {
        path: pattern,
        files: local_paths(&files),
        options: format!("{opts:?}"),
    };
    let display = path.to_string();
    let read = move |files| -> Arc<dyn Source> {
        Arc::new(JsonSource::from_files(files, display.clone(), opts.clone()))
    };
    Ok(Relation::with_origin(
        by_file(files, selection, read),
        origin,
    ))
}

#[cfg(feature = "parquet")]
fn parquet_file(host: &Host, path: &str, mut opts: Map) -> Res<Relation> {
    use crate::connectors::parquet::{ParquetOptions, ParquetSource};
    let err = |e: String| fail(format!("parquet_file(\"{path}\"): {e}"));
    let selection = FileSelection::take(&mut opts).map_err(err)?;
    let opts = ParquetOptions::from_map(&opts).map_err(err)?;
    let (pattern, files) = file_set(host, path).map_err(err)?;
    let origin = Origin::Csv {
        path: pattern,
        files: local_paths(&files),
        options: format!("{opts:?}"),
    };
    let display = path.to_string();
    let read = move |files| -> Arc<dyn Source> {
        Arc::new(ParquetSource::from_files(
            files,
            display.clone(),
            opts.clone(),
        ))
    };
    Ok(Relation::with_origin(
        by_file(files, selection, read),
        origin,
    ))
}

/// The source over `files`; with `incremental: "files"` or `file_date`, one whose loads read
/// only the files those let through.
fn by_file(
    files: Vec<FileRef>,
    selection: FileSelection,
    read: impl Fn(Vec<FileRef>) -> Arc<dyn Source> + Send + Sync + 'static,
) -> Arc<dyn Source> {
    let inner = read(files.clone());
    if !selection.any() {
        return inner;
    }
    Arc::new(ByFileSource {
        inner,
        by_file: ByFile {
            files,
            selection,
            read: Arc::new(read),
        },
    })
}

/// The local files among `files`, which `etl watch` can watch.
fn local_paths(files: &[FileRef]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|f| f.object.is_none())
        .map(|f| f.path.clone())
        .collect()
}

/// The files a path or glob names, resolved against the project's folder and fenced by
/// `[security] allowed_paths`; the resolved path or pattern too.
fn file_set(host: &Host, path: &str) -> std::result::Result<(PathBuf, Vec<FileRef>), String> {
    if files::is_url(path) {
        let storage = host.config.storage_for(path)?;
        return Ok((PathBuf::from(path), files::objects(path, storage.as_ref())?));
    }
    let pattern = host.script_file(path)?;
    let mut files = files::expand(&pattern, path)?;
    // A glob's matches are checked one by one: a symbolic link among them may point elsewhere.
    for f in &mut files {
        f.path = host.script_file(&f.path.to_string_lossy())?;
    }
    Ok((pattern, files))
}

fn rows(host: &Host, ctx: &NativeCallContext, r: &Relation) -> Res<Array> {
    let cap = host.limits().max_rows_in_script;
    let mut out = Array::new();
    // Each row is measured as it comes, so rows that would pass the engine's size limits stop
    // the read there rather than after all of them are in memory.
    let mut growth = Growth::default();
    let mut too_large = None;
    let read = r.for_each_batch(host, ctx, |schema, batch| {
        for row in batch.rows() {
            if out.len() == cap {
                return Err(EtlError::Other(format!(
                    ".rows() stops at {cap} rows (limits.max_rows_in_script): load the relation instead, or .limit(n) it"
                )));
            }
            let row: Dynamic = row_to_map(schema, row).into();
            if let Err(e) = growth.push(ctx.engine(), &row) {
                too_large = Some(e);
                // Stops the read; the engine's own error is what the script gets.
                return Err(EtlError::Other(String::new()));
            }
            out.push(row);
        }
        Ok(())
    });
    match (read, too_large) {
        (_, Some(e)) => Err(e),
        (Err(e), None) => Err(fail(e)),
        (Ok(_), None) => Ok(out),
    }
}
