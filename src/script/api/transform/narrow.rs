//! The narrow way: each closure is called with only the columns it names (`row_use`), and the
//! other columns pass from the input row to the output untouched. A row's state between steps
//! is its input values plus the entries the `.map`s so far returned (`over`), which win.

use std::collections::BTreeSet;

use rhai::{Identifier, Map, NativeCallContext};

use super::row_use::columns_used;
use super::{admitted, column_error, RhaiTransform, Step};
use crate::data::{Batch, DataType, Schema, Value};
use crate::error::Result;
use crate::script::api::values::{from_dynamic, to_dynamic};

pub(super) struct Narrow {
    /// Per step, the columns its closure names, in key order, with their input positions
    /// (None: not an input column; a `.map` before may have added it). Empty for a limit.
    steps: Vec<Vec<(Identifier, Option<usize>)>>,
    /// Per output column, the input column it passes through from and whether the two have
    /// the same type; filled on first use.
    from_input: Vec<Option<(usize, bool)>>,
    /// Per output column, whether this row's `.map`s set it (scratch).
    set: Vec<bool>,
}

impl Narrow {
    /// The columns each step needs, when every closure can be called with those alone.
    pub(super) fn plan(ctx: &NativeCallContext, steps: &[Step], input: &Schema) -> Option<Narrow> {
        if steps.iter().all(|s| matches!(s, Step::Limit(_))) {
            return None;
        }
        let mut per_step: Vec<Vec<(Identifier, Option<usize>)>> = Vec::with_capacity(steps.len());
        for step in steps {
            let names = match step {
                Step::Limit(_) => BTreeSet::new(),
                Step::Map(f) => columns_used(ctx, f, true)?,
                Step::Filter(f) => columns_used(ctx, f, false)?,
            };
            per_step.push(
                names
                    .into_iter()
                    .map(|name| {
                        let at = exactly(input, &name);
                        (name.into(), at)
                    })
                    .collect(),
            );
        }
        let named: BTreeSet<&str> = per_step.iter().flatten().map(|(n, _)| n.as_str()).collect();
        tracing::debug!(
            "The .map/.filter closures use their row only as r.name ({}): each call gets {} of the {} columns, the others pass through.",
            named.iter().copied().collect::<Vec<_>>().join(", "),
            named.iter().filter(|n| exactly(input, n).is_some()).count(),
            input.len(),
        );
        Some(Narrow {
            steps: per_step,
            from_input: Vec::new(),
            set: Vec::new(),
        })
    }
}

impl RhaiTransform<'_> {
    /// Runs the steps on a batch once the output columns are known, each closure called with
    /// the columns it names.
    pub(super) fn apply_narrow(&mut self, batch: Batch) -> Result<Batch> {
        let mut narrow = self.narrow.take().expect("a narrow plan");
        let out = self.narrow_rows(&mut narrow, batch);
        self.narrow = Some(narrow);
        out
    }

    fn narrow_rows(&mut self, narrow: &mut Narrow, mut batch: Batch) -> Result<Batch> {
        let schema = self.output.clone().expect("output columns known");
        if narrow.from_input.len() != schema.len() {
            narrow.from_input = schema
                .columns
                .iter()
                .map(|c| {
                    let i = exactly(&self.input, &c.name)?;
                    Some((i, self.input.columns[i].data_type == c.data_type))
                })
                .collect();
            narrow.set = vec![false; schema.len()];
        }
        let mut out = self.out_batch(schema.len(), batch.first_row, batch.len());
        let mut out_row = vec![Value::Null; schema.len()];
        let mut over = Map::new();
        // The last row's map, its values taken: refilled for the next call rather than built.
        let mut spare = Map::new();
        for row in batch.rows_mut() {
            self.rows_seen += 1;
            if !over.is_empty() {
                spare = std::mem::take(&mut over);
            }
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
                        let arg = narrow_row(&narrow.steps[i], row, &mut over, false, &mut spare);
                        let answer = self.call(f, arg, ".filter")?;
                        if !self.keep(answer)? {
                            pass = false;
                            break;
                        }
                    }
                    Step::Map(f) => {
                        let arg = narrow_row(&narrow.steps[i], row, &mut over, true, &mut spare);
                        let answer = self.call(f, arg, ".map")?;
                        let mapped = self.mapped(answer)?;
                        if over.is_empty() {
                            over = mapped;
                        } else {
                            over.extend(mapped);
                        }
                    }
                }
            }
            if !pass {
                continue;
            }
            if self.has_map {
                self.push_narrow(narrow, &schema, &mut out, &mut out_row, row, &mut over)?;
            } else {
                out.push_row(row.iter_mut().map(std::mem::take));
            }
        }
        Ok(out)
    }

    /// Lays a row out in the output columns: what the `.map`s returned, converted as the
    /// whole-row way converts it, and every other column passed through from the input.
    fn push_narrow(
        &self,
        narrow: &mut Narrow,
        schema: &Schema,
        out: &mut Batch,
        out_row: &mut [Value],
        row: &mut [Value],
        over: &mut Map,
    ) -> Result<()> {
        let n = self.rows_seen;
        self.lay_out(schema, over, out_row, n, |j| narrow.set[j] = true)?;
        for (j, c) in schema.columns.iter().enumerate() {
            if std::mem::take(&mut narrow.set[j]) {
                continue;
            }
            // A column no `.map` set: the input's value, or NULL for a column only some
            // rows add (as the whole row way leaves it).
            match narrow.from_input[j] {
                // A source's values are of its columns' types, which a trip through a script
                // value gives back unchanged (tests/postgres/transforms.rs, every type).
                Some((i, true)) => out_row[j] = std::mem::take(&mut row[i]),
                Some((i, false)) => {
                    out_row[j] = pass_through(std::mem::take(&mut row[i]), &c.data_type)
                        .map_err(|e| column_error(n, &c.name, e))?;
                }
                None => {}
            }
        }
        out.push_row(out_row.iter_mut().map(std::mem::take));
        Ok(())
    }
}

/// The column named exactly `name`: a map's keys are matched exactly, where
/// `Schema::index_of` also accepts another case.
fn exactly(schema: &Schema, name: &str) -> Option<usize> {
    schema.columns.iter().position(|c| c.name == name)
}

/// The map a step's closure is called with: its columns from what earlier `.map`s returned,
/// else from the input row. A `.map` takes them (its result holds them all again, since it
/// returns its row); a `.filter` gets copies.
fn narrow_row(
    names: &[(Identifier, Option<usize>)],
    row: &mut [Value],
    over: &mut Map,
    take: bool,
    spare: &mut Map,
) -> Map {
    // Both in key order: keep each of the spare's keys that is a name the walk stands at.
    let mut want = names.iter().peekable();
    let mut m = std::mem::take(spare);
    m.retain(|k, _| {
        while want
            .peek()
            .is_some_and(|(name, _)| name.as_str() < k.as_str())
        {
            want.next();
        }
        want.peek().is_some_and(|(name, _)| name == k)
    });
    for (name, at) in names {
        let v = if take {
            over.remove(name)
        } else {
            over.get(name).cloned()
        };
        let v = match (v, at) {
            (Some(v), _) => v,
            (None, Some(i)) if take => to_dynamic(std::mem::take(&mut row[*i])),
            (None, Some(i)) => to_dynamic(row[*i].clone()),
            (None, None) => {
                m.remove(name);
                continue;
            }
        };
        match m.get_mut(name) {
            Some(slot) => *slot = v,
            None => {
                m.insert(name.clone(), v);
            }
        }
    }
    m
}

/// An input value for an output column of another type `ty` (a first batch whose values did
/// not fit the input's type), exactly as the whole-row way gives it, `from_dynamic(to_dynamic(v),
/// Some(ty))`, without the round trip through a script value where that trip changes nothing.
fn pass_through(v: Value, ty: &DataType) -> std::result::Result<Value, String> {
    let same_type = v.data_type().as_ref() == Some(ty);
    match v {
        // These come back as other values (text, a widened number): convert as the script would.
        Value::Json(_) | Value::Uuid(_) | Value::Interval { .. } | Value::Array(_) => {
            from_dynamic(to_dynamic(v), Some(ty))
        }
        Value::Int16(_) | Value::Int32(_) | Value::Float32(_) if !same_type => {
            from_dynamic(to_dynamic(v), Some(ty))
        }
        v if same_type => Ok(v),
        v => v.coerce(ty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Decimal;
    use chrono::NaiveDate;

    #[test]
    fn a_passed_through_value_is_what_the_round_trip_through_a_script_gives() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::Int16(7),
            Value::Int32(-40_000),
            Value::Int64(1 << 40),
            Value::Float32(1.5),
            Value::Float64(2.25),
            Value::Decimal(Decimal::parse("12.5").unwrap()),
            Value::Decimal(Decimal::parse("123456.789").unwrap()),
            Value::Text("paid".into()),
            Value::Text("a longer text".into()),
            Value::Text("2026-12-05".into()),
            Value::Date(day),
            Value::Timestamp(day.and_hms_opt(1, 2, 3).unwrap()),
            Value::TimestampTz(day.and_hms_opt(1, 2, 3).unwrap().and_utc()),
            Value::Json(r#"{"a": [1, 2]}"#.into()),
            Value::Bytes(vec![0, 1, 255]),
            Value::Array(vec![Value::Int32(1), Value::Null]),
        ];
        let types = [
            DataType::Bool,
            DataType::Int16,
            DataType::Int32,
            DataType::Int64,
            DataType::Float32,
            DataType::Float64,
            DataType::NUMERIC,
            DataType::Decimal {
                precision: Some(12),
                scale: Some(2),
            },
            DataType::TEXT,
            DataType::Text { max_len: Some(5) },
            DataType::Date,
            DataType::Timestamp,
            DataType::TimestampTz,
            DataType::Json,
            DataType::Bytes,
            DataType::Array(Box::new(DataType::Int32)),
        ];
        for v in &values {
            for ty in &types {
                assert_eq!(
                    format!("{:?}", pass_through(v.clone(), ty)),
                    format!("{:?}", from_dynamic(to_dynamic(v.clone()), Some(ty))),
                    "{v:?} as {ty}"
                );
            }
        }
    }
}
