//! What a load changed since the previous re-run: the target table is read back after the
//! load and compared, row by row, with what it held after the last one. Rows are matched by
//! the load's key (added, removed, changed); without a key, as a multiset of whole rows
//! (added, removed). Only columns present both times are compared, so an added column does
//! not count every row as changed.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::connectors::{Connection, Io, ReadOptions, TableOptions};
use crate::error::Result;

/// Larger tables are counted but not compared (the summary says so).
pub const MAX_ROWS: u64 = 200_000;

/// A table's rows as hashes: per row, one hash per column (and the key's hash).
pub struct Snapshot {
    pub columns: Vec<String>,
    rows: Vec<(Option<u64>, Vec<u64>)>,
    pub count: u64,
    /// More rows than [`MAX_ROWS`]: only `count` is known.
    pub truncated: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Change {
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    pub columns_added: Vec<String>,
    pub columns_removed: Vec<String>,
}

fn hash_of(v: &impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

impl Snapshot {
    /// Reads `table` back (blocking: call it from a blocking thread).
    pub fn take(db: &Connection, io: &Io, table: &str, key: &[String]) -> Result<Snapshot> {
        let source = db.relations()?.table(table, &TableOptions::default())?;
        let mut stream = source.open(io, &ReadOptions::default())?;
        let schema = stream.schema.clone();
        let key_idx: Vec<usize> = key.iter().filter_map(|k| schema.index_of(k)).collect();
        let keyed = !key.is_empty() && key_idx.len() == key.len();
        let mut rows = Vec::new();
        let mut count = 0u64;
        let mut truncated = false;
        while let Some(batch) = stream.next_blocking() {
            let batch = batch?;
            for row in batch.rows() {
                count += 1;
                if count > MAX_ROWS {
                    truncated = true;
                    continue;
                }
                let cells: Vec<u64> = row
                    .iter()
                    .map(|v| hash_of(&(v.is_null(), v.to_text())))
                    .collect();
                let k =
                    keyed.then(|| hash_of(&key_idx.iter().map(|i| cells[*i]).collect::<Vec<_>>()));
                rows.push((k, cells));
            }
        }
        Ok(Snapshot {
            columns: schema.names().iter().map(|s| s.to_string()).collect(),
            rows: if truncated { Vec::new() } else { rows },
            count,
            truncated,
        })
    }

    /// What changed from `old` to `self`.
    pub fn since(&self, old: &Snapshot) -> Option<Change> {
        if self.truncated || old.truncated {
            return None;
        }
        let mut change = Change {
            columns_added: self
                .columns
                .iter()
                .filter(|c| !old.columns.contains(c))
                .cloned()
                .collect(),
            columns_removed: old
                .columns
                .iter()
                .filter(|c| !self.columns.contains(c))
                .cloned()
                .collect(),
            ..Change::default()
        };
        // Positions of the common columns in each snapshot.
        let common: Vec<(usize, usize)> = self
            .columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| old.columns.iter().position(|o| o == c).map(|j| (i, j)))
            .collect();
        let new_row =
            |cells: &[u64]| hash_of(&common.iter().map(|(i, _)| cells[*i]).collect::<Vec<_>>());
        let old_row =
            |cells: &[u64]| hash_of(&common.iter().map(|(_, j)| cells[*j]).collect::<Vec<_>>());
        let keyed = self.rows.first().is_some_and(|r| r.0.is_some())
            && old.rows.first().is_some_and(|r| r.0.is_some());
        if keyed {
            let before: HashMap<u64, u64> = old
                .rows
                .iter()
                .map(|(k, c)| (k.unwrap_or(0), old_row(c)))
                .collect();
            let mut seen = 0u64;
            for (k, c) in &self.rows {
                match before.get(&k.unwrap_or(0)) {
                    None => change.added += 1,
                    Some(h) => {
                        seen += 1;
                        if *h != new_row(c) {
                            change.changed += 1;
                        }
                    }
                }
            }
            change.removed = (before.len() as u64).saturating_sub(seen);
        } else {
            let mut counts: HashMap<u64, i64> = HashMap::new();
            for (_, c) in &old.rows {
                *counts.entry(old_row(c)).or_default() -= 1;
            }
            for (_, c) in &self.rows {
                *counts.entry(new_row(c)).or_default() += 1;
            }
            for n in counts.values() {
                if *n > 0 {
                    change.added += *n as u64;
                } else {
                    change.removed += n.unsigned_abs();
                }
            }
        }
        Some(change)
    }
}

impl Change {
    /// `+2 -1 ~3 rows, +column note` or `no change`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.added + self.removed + self.changed > 0 {
            let mut rows = Vec::new();
            if self.added > 0 {
                rows.push(format!("+{}", self.added));
            }
            if self.removed > 0 {
                rows.push(format!("-{}", self.removed));
            }
            if self.changed > 0 {
                rows.push(format!("~{}", self.changed));
            }
            parts.push(format!("{} rows", rows.join(" ")));
        }
        for c in &self.columns_added {
            parts.push(format!("+column {c}"));
        }
        for c in &self.columns_removed {
            parts.push(format!("-column {c}"));
        }
        if parts.is_empty() {
            "no change".into()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(columns: &[&str], keyed: bool, rows: &[&[&str]]) -> Snapshot {
        Snapshot {
            columns: columns.iter().map(|s| s.to_string()).collect(),
            rows: rows
                .iter()
                .map(|r| {
                    let cells: Vec<u64> = r.iter().map(hash_of).collect();
                    (keyed.then(|| hash_of(&vec![cells[0]])), cells)
                })
                .collect(),
            count: rows.len() as u64,
            truncated: false,
        }
    }

    #[test]
    fn keyed_rows_are_added_removed_and_changed() {
        let old = snap(&["id", "v"], true, &[&["1", "a"], &["2", "b"], &["3", "c"]]);
        let new = snap(
            &["id", "v", "w"],
            true,
            &[&["1", "a", "x"], &["2", "B", "x"], &["4", "d", "x"]],
        );
        let c = new.since(&old).unwrap();
        assert_eq!((c.added, c.removed, c.changed), (1, 1, 1));
        assert_eq!(c.columns_added, ["w"]);
        assert_eq!(c.describe(), "+1 -1 ~1 rows, +column w");
    }

    #[test]
    fn unkeyed_rows_compare_as_a_multiset() {
        let old = snap(&["v"], false, &[&["a"], &["a"], &["b"]]);
        let new = snap(&["v"], false, &[&["a"], &["b"], &["c"]]);
        let c = new.since(&old).unwrap();
        assert_eq!((c.added, c.removed, c.changed), (1, 1, 0));
        assert_eq!(
            snap(&["v"], false, &[&["a"]])
                .since(&snap(&["v"], false, &[&["a"]]))
                .unwrap()
                .describe(),
            "no change"
        );
    }
}
