//! Running a relation's `.map`/`.filter`/`.limit` steps on batches, calling the script's
//! closures once per row. Two ways, the same rows out:
//! - `full`: each call gets the whole row as a map (what the script sees), and a `.map`'s
//!   result is laid out in the output columns;
//! - `narrow`: when every closure uses its row only as `r.name` (`row_use`), each call gets
//!   only the columns it names and the others pass through untouched. Taken once the output
//!   columns are known (the first batch fixes them through `full`).

mod full;
mod narrow;
mod row_use;

use rhai::{Dynamic, FnPtr, Map, NativeCallContext};

use super::relation::Step;
use super::values::from_dynamic;
use crate::data::{Batch, Schema};
use crate::error::{EtlError, Result};
use crate::load::Transform;

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
    /// The columns each step's closure names, when every closure can be called with those
    /// alone (None: each gets the whole row).
    narrow: Option<narrow::Narrow>,
    /// A written output batch's buffer, emptied: the next output batch is laid out in it.
    recycled: Vec<crate::data::Value>,
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
            narrow: None,
            recycled: Vec::new(),
        };
        if let Some(input) = input {
            t.start(&input);
        }
        t
    }

    /// True once the last step is a limit that is full: nothing more can pass.
    pub fn exhausted(&self) -> bool {
        matches!(self.steps.last(), Some(Step::Limit(n)) if self.counts[self.steps.len() - 1] >= *n)
    }

    /// Calls a step's closure with the row; the row is moved in, not copied, where nothing
    /// after the step needs it (a copy of a 10-column row is a tenth of the step's cost).
    fn call(&self, f: &FnPtr, row: Map, what: &str) -> Result<Dynamic> {
        // Passed as a Dynamic already: a map argument would be rebuilt entry by entry.
        f.call_within_context::<Dynamic>(self.ctx, (Dynamic::from_map(row),))
            .map_err(|e| {
                EtlError::Other(format!(
                    "{what} failed at row {}: {}",
                    self.rows_seen,
                    e.to_string().lines().next().unwrap_or_default()
                ))
            })
    }

    /// An empty output batch for `rows` rows, in the last written batch's buffer when there
    /// is one.
    fn out_batch(&mut self, width: usize, first_row: u64, rows: usize) -> Batch {
        let mut values = std::mem::take(&mut self.recycled);
        values.clear();
        values.reserve(width * rows);
        Batch::from_values(width, first_row, values)
    }

    /// Converts a mapped row's entries into `row` at their output columns (the map keeps its
    /// keys), telling `set` each column; a key the first batch never showed is an error
    /// rather than silently dropped.
    fn lay_out(
        &self,
        schema: &Schema,
        m: &mut Map,
        row: &mut [crate::data::Value],
        n: u64,
        mut set: impl FnMut(usize),
    ) -> Result<()> {
        // Both in key order: each entry finds its column where the walk stands.
        let mut at = 0;
        for (k, v) in m.iter_mut() {
            while at < self.out_keys.len() && self.out_keys[at].0.as_str() < k.as_str() {
                at += 1;
            }
            let Some((_, j)) = self.out_keys.get(at).filter(|(name, _)| name == k) else {
                return Err(EtlError::Other(format!(
                    ".map: row {n} returns column '{k}', which the first rows did not have; \
                     return every column from the first row on (use () for NULL)"
                )));
            };
            let c = &schema.columns[*j];
            row[*j] = from_dynamic(std::mem::take(v), Some(&c.data_type))
                .map_err(|e| column_error(n, &c.name, e))?;
            set(*j);
            at += 1;
        }
        Ok(())
    }

    /// A `.filter`'s answer, which must be a bool.
    fn keep(&self, answer: Dynamic) -> Result<bool> {
        answer.as_bool().map_err(|_| {
            EtlError::Other(format!(
                ".filter must return true or false, not {} (row {})",
                answer.type_name(),
                self.rows_seen
            ))
        })
    }

    /// A `.map`'s answer, which must be a map.
    fn mapped(&self, answer: Dynamic) -> Result<Map> {
        if !answer.is_map() {
            return Err(EtlError::Other(format!(
                ".map must return a map #{{...}}, not {} (row {})",
                answer.type_name(),
                self.rows_seen
            )));
        }
        Ok(answer.cast::<Map>())
    }
}

/// Counts a row through a `.limit(n)` that has let `count` rows through; false once full.
fn admitted(count: &mut u64, n: u64) -> bool {
    if *count >= n {
        return false;
    }
    *count += 1;
    true
}

/// A value of a `.map`'s row that does not fit its output column.
fn column_error(n: u64, column: &str, e: String) -> EtlError {
    EtlError::Other(format!(".map: row {n}, column '{column}': {e}"))
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
        self.narrow = narrow::Narrow::plan(self.ctx, &self.steps, input);
    }

    fn is_identity(&self) -> bool {
        self.steps.is_empty()
    }

    fn apply(&mut self, batch: Batch) -> Result<Batch> {
        if self.steps.is_empty() {
            return Ok(batch);
        }
        if self.narrow.is_some() && self.output.is_some() {
            return self.apply_narrow(batch);
        }
        self.apply_full(batch)
    }

    fn output_schema(&self) -> Option<Schema> {
        self.output.clone()
    }

    fn recycle(&mut self, written: Batch) {
        // Only a buffer this transform laid out: a filter's kept rows or a map's output.
        if !self.steps.is_empty() {
            self.recycled = written.into_values();
            self.recycled.clear();
        }
    }
}
