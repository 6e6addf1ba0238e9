//! The whole-row way: each closure gets the row as a map of every column.

use rhai::Map;

use super::{admitted, sorted_keys, RhaiTransform, Step};
use crate::data::{Batch, Column, Schema, Value};
use crate::error::Result;
use crate::script::api::values::{dynamic_type, from_dynamic, to_dynamic};

impl RhaiTransform<'_> {
    /// Runs the steps on a batch, each closure called with the whole row.
    pub(super) fn apply_full(&mut self, batch: Batch) -> Result<Batch> {
        let mut mapped: Vec<(u64, Map)> = Vec::new();
        let width_in = batch.width();
        let first_row = batch.first_row;
        let mut kept = if self.has_map {
            Batch::new(width_in, first_row, 0)
        } else {
            self.out_batch(width_in, first_row, batch.len())
        };
        // Once the output columns are known, each mapped row goes straight into them.
        let width = self.output.as_ref().map_or(0, Schema::len);
        let mut out = (self.has_map && self.output.is_some())
            .then(|| self.out_batch(width, first_row, batch.len()));
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
                        if !admitted(&mut self.counts[i], *n) {
                            pass = false;
                            break;
                        }
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
                        let answer = self.call(f, arg, ".filter")?;
                        if !self.keep(answer)? {
                            pass = false;
                            break;
                        }
                    }
                    Step::Map(f) => {
                        let m = match map.take() {
                            Some(m) => m,
                            None => self.refill(spare.take(), row, take),
                        };
                        let answer = self.call(f, m, ".map")?;
                        map = Some(self.mapped(answer)?);
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

    /// Moves a mapped row's values into `out` in the output columns, leaving the map's keys.
    fn push_mapped(&self, out: &mut Batch, row: &mut [Value], n: u64, m: &mut Map) -> Result<()> {
        let schema = self.output.as_ref().expect("schema fixed");
        self.lay_out(schema, m, row, n, |_| ())?;
        out.push_row(row.iter_mut().map(std::mem::take));
        Ok(())
    }
}
