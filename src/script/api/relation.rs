//! Relations: lazy descriptions of rows (`conn.table`, `conn.sql`, `csv_file`) with optional
//! row-level script steps. Nothing is read until a load, `.rows()`, `.count()` or an output.

use std::path::PathBuf;
use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, FnPtr, Map, NativeCallContext};

use super::values::{dynamic_type, from_dynamic, row_to_map, to_dynamic};
use super::{fail, Res};
use crate::connectors::csv::{CsvOptions, CsvSource};
use crate::connectors::files::{self, ByFile, ByFileSource, FileRef, FileSelection};
use crate::connectors::json::{JsonOptions, JsonSource};
use crate::connectors::{ReadOptions, Source};
use crate::data::{Batch, Column, Schema, Value};
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

/// The columns' names in key order (as a script map keeps them), with their positions.
fn sorted_keys(schema: &Schema) -> Vec<(String, usize)> {
    let mut keys: Vec<(String, usize)> = schema
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.clone(), i))
        .collect();
    keys.sort();
    keys
}

/// Runs `.map`/`.filter`/`.limit` steps on batches, calling script closures per row.
pub struct RhaiTransform<'a> {
    ctx: &'a NativeCallContext<'a>,
    steps: Vec<Step>,
    input: Schema,
    output: Option<Schema>,
    has_map: bool,
    counts: Vec<u64>,
    rows_seen: u64,
    /// The input columns' names as map keys, in key order, with their positions: a row's map
    /// is built from a sorted run (no sorting per row).
    in_keys: Vec<(rhai::Identifier, usize)>,
    /// The output columns' names in key order, with their positions: a mapped row's entries
    /// are placed by walking both in order (no lookup per column).
    out_keys: Vec<(String, usize)>,
    /// The map the last `.map` returned, emptied of its values: the next row's map is filled
    /// into it rather than built, when it still has the input columns' keys.
    spare: Option<Map>,
}

impl<'a> RhaiTransform<'a> {
    /// Steps over rows of `input`; a load gives the input later, through `start`.
    pub fn new(
        ctx: &'a NativeCallContext<'a>,
        steps: &[Step],
        input: Option<Schema>,
    ) -> RhaiTransform<'a> {
        let has_map = steps.iter().any(|s| matches!(s, Step::Map(_)));
        let mut t = RhaiTransform {
            ctx,
            steps: steps.to_vec(),
            output: None,
            input: Schema::default(),
            has_map,
            counts: vec![0; steps.len()],
            rows_seen: 0,
            in_keys: Vec::new(),
            out_keys: Vec::new(),
            spare: None,
        };
        if let Some(input) = input {
            t.start(&input);
        }
        t
    }

    /// True once the last step is a limit that is full: nothing more can pass.
    fn exhausted(&self) -> bool {
        matches!(self.steps.last(), Some(Step::Limit(n)) if self.counts[self.steps.len() - 1] >= *n)
    }

    /// Calls a step's closure with the row; the row is moved in, not copied, where nothing
    /// after the step needs it (a copy of a 10-column row is a tenth of the step's cost).
    fn call(&self, f: &FnPtr, row: Map, what: &str) -> Result<Dynamic> {
        f.call_within_context::<Dynamic>(self.ctx, (row,))
            .map_err(|e| {
                EtlError::Other(format!(
                    "{what} failed at row {}: {}",
                    self.rows_seen,
                    e.to_string().lines().next().unwrap_or_default()
                ))
            })
    }

    /// The output columns from the first mapped row: input columns first in their order,
    /// then new ones; types kept from the input where the value still fits them.
    fn fix_schema(&mut self, rows: &[(u64, Map)]) {
        // The first non-NULL value of a column decides its type, over the whole first batch.
        let first_value = |name: &str| {
            rows.iter()
                .filter_map(|(_, m)| m.get(name))
                .find(|v| !v.is_unit())
        };
        let mut cols = Vec::new();
        for c in &self.input.columns {
            if rows.iter().any(|(_, m)| m.contains_key(c.name.as_str())) {
                let t = match first_value(&c.name) {
                    Some(v) if from_dynamic(v.clone(), Some(&c.data_type)).is_err() => {
                        dynamic_type(v).unwrap_or(crate::data::DataType::TEXT)
                    }
                    _ => c.data_type.clone(),
                };
                cols.push(Column::new(c.name.clone(), t));
            }
        }
        let mut new_names: Vec<&str> = rows
            .iter()
            .flat_map(|(_, m)| m.keys().map(|k| k.as_str()))
            .filter(|k| self.input.index_of(k).is_none())
            .collect();
        new_names.sort_unstable();
        new_names.dedup();
        for k in new_names {
            let t = first_value(k)
                .and_then(dynamic_type)
                .unwrap_or(crate::data::DataType::TEXT);
            cols.push(Column::new(k.to_string(), t));
        }
        let output = Schema::new(cols);
        self.out_keys = sorted_keys(&output);
        self.output = Some(output);
    }

    /// A row as the script sees it; with `take` its values are moved out of the batch (the
    /// row is not needed again), otherwise copied.
    fn row_map(&self, row: &mut [Value], take: bool) -> Map {
        self.in_keys
            .iter()
            .map(|(k, i)| {
                let v = if take {
                    std::mem::take(&mut row[*i])
                } else {
                    row[*i].clone()
                };
                (k.clone(), to_dynamic(v))
            })
            .collect()
    }

    /// The next row's map: the spare map refilled where it still holds every input column
    /// (a map step's added keys are dropped), otherwise a new one. Refilling saves building
    /// a map per row, the largest cost of a `.map` after the call itself.
    fn refill(&self, spare: Option<Map>, row: &mut [Value], take: bool) -> Map {
        let Some(mut m) = spare else {
            return self.row_map(row, take);
        };
        // Both in key order: keep each entry that is the input column the walk stands at.
        let mut want = self.in_keys.iter().peekable();
        m.retain(|k, _| match want.peek() {
            Some((name, _)) if name == k => {
                want.next();
                true
            }
            _ => false,
        });
        if m.len() != self.in_keys.len() {
            return self.row_map(row, take);
        }
        for (v, (_, i)) in m.values_mut().zip(&self.in_keys) {
            *v = to_dynamic(if take {
                std::mem::take(&mut row[*i])
            } else {
                row[*i].clone()
            });
        }
        m
    }

    /// Lays mapped rows out in the output columns.
    fn mapped_batch(&self, rows: Vec<(u64, Map)>, first_row: u64) -> Result<Batch> {
        let schema = self.output.as_ref().expect("schema fixed");
        let mut out = Batch::new(schema.len(), first_row, rows.len());
        let mut row: Vec<Value> = vec![Value::Null; schema.len()];
        for (n, mut m) in rows {
            self.push_mapped(&mut out, &mut row, n, &mut m)?;
        }
        Ok(out)
    }

    /// Moves a mapped row's values into `out` in the output columns, leaving the map's keys;
    /// a column the first batch never showed is an error rather than silently dropped.
    fn push_mapped(&self, out: &mut Batch, row: &mut [Value], n: u64, m: &mut Map) -> Result<()> {
        let schema = self.output.as_ref().expect("schema fixed");
        // Both in key order: each entry finds its column where the walk stands.
        let mut at = 0;
        for (k, v) in m.iter_mut() {
            while at < self.out_keys.len() && self.out_keys[at].0.as_str() < k.as_str() {
                at += 1;
            }
            let Some((_, i)) = self.out_keys.get(at).filter(|(name, _)| name == k) else {
                return Err(EtlError::Other(format!(
                    ".map: row {n} returns column '{k}', which the first rows did not have; \
                     return every column from the first row on (use () for NULL)"
                )));
            };
            let c = &schema.columns[*i];
            row[*i] = from_dynamic(std::mem::take(v), Some(&c.data_type))
                .map_err(|e| EtlError::Other(format!(".map: row {n}, column '{}': {e}", c.name)))?;
            at += 1;
        }
        out.push_row(row.iter_mut().map(std::mem::take));
        Ok(())
    }
}

impl Transform for RhaiTransform<'_> {
    fn start(&mut self, input: &Schema) {
        self.input = input.clone();
        self.in_keys = sorted_keys(input)
            .into_iter()
            .map(|(k, i)| (k.into(), i))
            .collect();
        if !self.has_map {
            self.output = Some(input.clone());
        }
    }

    fn is_identity(&self) -> bool {
        self.steps.is_empty()
    }

    fn apply(&mut self, batch: Batch) -> Result<Batch> {
        if self.steps.is_empty() {
            return Ok(batch);
        }
        let mut mapped: Vec<(u64, Map)> = Vec::new();
        let width_in = batch.width();
        let first_row = batch.first_row;
        let mut kept = Batch::new(width_in, first_row, batch.len());
        // Once the output columns are known, each mapped row goes straight into them.
        let width = self.output.as_ref().map_or(0, Schema::len);
        let mut out = (self.has_map && self.output.is_some())
            .then(|| Batch::new(width, first_row, batch.len()));
        let mut out_row: Vec<Value> = vec![Value::Null; width];
        let mut spare = self.spare.take();
        let mut batch = batch;
        // With a map the input row is never needed again: its values move into the map.
        let take = self.has_map;
        for row in batch.rows_mut() {
            self.rows_seen += 1;
            let mut map: Option<Map> = None;
            let mut pass = true;
            for (i, step) in self.steps.iter().enumerate() {
                match step {
                    Step::Limit(n) => {
                        if self.counts[i] >= *n {
                            pass = false;
                            break;
                        }
                        self.counts[i] += 1;
                    }
                    Step::Filter(f) => {
                        let m = map.take().unwrap_or_else(|| self.row_map(row, take));
                        // The row is needed again by a later map or filter, or as the output
                        // of an earlier map; otherwise a kept row is taken from the batch.
                        let later = self.has_map
                            || self.steps[i + 1..]
                                .iter()
                                .any(|s| !matches!(s, Step::Limit(_)));
                        let arg = if later {
                            let copy = m.clone();
                            map = Some(m);
                            copy
                        } else {
                            m
                        };
                        let keep = self.call(f, arg, ".filter")?;
                        let keep = keep.as_bool().map_err(|_| {
                            EtlError::Other(format!(
                                ".filter must return true or false, not {} (row {})",
                                keep.type_name(),
                                self.rows_seen
                            ))
                        })?;
                        if !keep {
                            pass = false;
                            break;
                        }
                    }
                    Step::Map(f) => {
                        let m = match map.take() {
                            Some(m) => m,
                            None => self.refill(spare.take(), row, take),
                        };
                        let next = self.call(f, m, ".map")?;
                        if !next.is_map() {
                            return Err(EtlError::Other(format!(
                                ".map must return a map #{{...}}, not {} (row {})",
                                next.type_name(),
                                self.rows_seen
                            )));
                        }
                        map = Some(next.cast::<Map>());
                    }
                }
            }
            if !pass {
                continue;
            }
            if !self.has_map {
                kept.push_row(row.iter().cloned());
                continue;
            }
            let mut m = map.expect("a map step produced a row");
            match out.as_mut() {
                Some(batch) => {
                    self.push_mapped(batch, &mut out_row, self.rows_seen, &mut m)?;
                    spare = Some(m);
                }
                None => mapped.push((self.rows_seen, m)),
            }
        }
        self.spare = spare;
        if !self.has_map {
            return Ok(kept);
        }
        if let Some(batch) = out {
            return Ok(batch);
        }
        if self.output.is_none() && !mapped.is_empty() {
            self.fix_schema(&mapped);
        }
        if self.output.is_none() {
            return Ok(Batch::new(0, first_row, 0));
        }
        self.mapped_batch(mapped, first_row)
    }

    fn output_schema(&self) -> Option<Schema> {
        self.output.clone()
    }
}
