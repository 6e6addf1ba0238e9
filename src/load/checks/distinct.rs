//! Integer values of a column, noted as the rows are written: a bit per value over the span
//! of values seen. Keys are mostly dense integers, so a million rows need a few hundred
//! kilobytes. For `unique` on one column, no value twice proves it without its query (a
//! DISTINCT count, a sort of every value on one core, the dearest of a load's checks); for
//! `relationships`, the bits are the keys to look up, each once (`KeyBits`). A span too wide
//! for the bits allowed, or a `unique` value seen twice, leaves the check to its query.

use super::spec::{CheckKind, CheckSpec};
use crate::data::{DataType, Schema};

/// The most bits one column may use: 4 MiB, values spanning 33.5 million.
const MAX_WORDS: usize = 1 << 19;

pub struct Distinct {
    /// The column's position in a written row, and its name.
    pub column: usize,
    pub name: String,
    /// For `relationships`: values may repeat, the bits are the keys.
    keys: bool,
    /// Values marked.
    count: u64,
    /// The value of the first bit (a multiple of 64).
    low: i64,
    bits: Vec<u64>,
    state: State,
}

/// The keys a load brought for a `relationships` check: bit `i` (bit `i % 8` of byte `i / 8`)
/// marks the value `low + i`.
pub struct KeyBits {
    pub column: String,
    pub low: i64,
    /// Bits in `bits`.
    pub span: u64,
    /// Bits set: distinct keys.
    pub count: u64,
    pub bits: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Unique,
    /// A value came twice, or the span outgrew `MAX_WORDS`: the query decides.
    Unknown,
}

impl Distinct {
    /// A tracker for each one-column `unique` and each `relationships` on an integer column
    /// the rows bring (not one a lookup fills in after the rows are written).
    pub fn for_checks(checks: &[CheckSpec], written: &Schema, filled: &[String]) -> Vec<Distinct> {
        let mut out: Vec<Distinct> = Vec::new();
        for check in checks {
            let (name, keys) = match &check.kind {
                CheckKind::Unique(cols) if cols.len() == 1 => (&cols[0], false),
                CheckKind::Relationships { column, .. } => (column, true),
                _ => continue,
            };
            // Exactly the column the check's query names (quoted, so case counts).
            let Some(column) = written.columns.iter().position(|c| &c.name == name) else {
                continue;
            };
            let integer = matches!(
                written.columns[column].data_type,
                DataType::Int16 | DataType::Int32 | DataType::Int64
            );
            let new = out.iter().all(|d| d.column != column || d.keys != keys);
            if integer && !filled.contains(name) && new {
                out.push(Distinct::new(column, name, keys));
            }
        }
        out
    }

    fn new(column: usize, name: &str, keys: bool) -> Distinct {
        Distinct {
            column,
            name: name.to_string(),
            keys,
            count: 0,
            low: 0,
            bits: Vec::new(),
            state: State::Unique,
        }
    }

    /// True while no value came twice (NULLs never count, as in `unique`'s query).
    pub fn unique(&self) -> bool {
        !self.keys && self.state == State::Unique
    }

    /// Still noting values (not given up).
    pub fn noting(&self) -> bool {
        self.state == State::Unique
    }

    /// The keys seen, for `relationships`.
    pub fn key_bits(&self) -> Option<KeyBits> {
        if !self.keys || self.state != State::Unique {
            return None;
        }
        // Without the empty words at either end, which a lookup would only pass over.
        let first = self.bits.iter().position(|w| *w != 0).unwrap_or(0);
        let last = self
            .bits
            .iter()
            .rposition(|w| *w != 0)
            .map_or(first, |l| l + 1);
        let words = &self.bits[first..last.max(first)];
        Some(KeyBits {
            column: self.name.clone(),
            low: self.low + first as i64 * 64,
            span: words.len() as u64 * 64,
            count: self.count,
            bits: words.iter().flat_map(|w| w.to_le_bytes()).collect(),
        })
    }

    /// Gives up: rows went by that were not seen.
    pub fn see_unknown(&mut self) {
        self.state = State::Unknown;
        self.bits = Vec::new();
    }

    /// Notes one row's value.
    pub fn see(&mut self, v: Option<i64>) {
        let Some(v) = v else { return };
        if self.state != State::Unique {
            return;
        }
        if !self.covers(v) && !self.grow(v) {
            return self.see_unknown();
        }
        let at = (v as i128 - self.low as i128) as usize;
        let (word, bit) = (at / 64, 1u64 << (at % 64));
        if self.bits[word] & bit != 0 {
            if !self.keys {
                self.see_unknown();
            }
            return;
        }
        self.bits[word] |= bit;
        self.count += 1;
    }

    fn covers(&self, v: i64) -> bool {
        let at = v as i128 - self.low as i128;
        at >= 0 && at < self.bits.len() as i128 * 64
    }

    /// Widens the bits to cover `v`, at least doubling them so a run of rising or falling
    /// keys costs a copy per doubling, not per row; false past `MAX_WORDS`.
    fn grow(&mut self, v: i64) -> bool {
        let word_of = |x: i64| (x as i128).div_euclid(64);
        if self.bits.is_empty() {
            self.low = (word_of(v) * 64) as i64;
            self.bits = vec![0; 16];
            return true;
        }
        let first = word_of(self.low);
        let last = first + self.bits.len() as i128 - 1;
        let (mut lo, mut hi) = (first.min(word_of(v)), last.max(word_of(v)));
        let want = (hi - lo + 1).max(2 * self.bits.len() as i128);
        if want > MAX_WORDS as i128 {
            return false;
        }
        // The extra room goes on the side the new value came from.
        if word_of(v) < first {
            lo = hi - want + 1;
        } else {
            hi = lo + want - 1;
        }
        // Bits past either end of i64 would never be set; only the first one's value must fit.
        let low = (lo * 64).max(i64::MIN as i128);
        let lo = low.div_euclid(64);
        if (hi - lo + 1) > MAX_WORDS as i128 {
            return false;
        }
        let mut bits = vec![0; want as usize];
        let offset = (first - lo) as usize;
        bits[offset..offset + self.bits.len()].copy_from_slice(&self.bits);
        self.bits = bits;
        self.low = low as i64;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked(values: &[Option<i64>]) -> bool {
        let mut d = Distinct::new(0, "id", false);
        for v in values {
            d.see(*v);
        }
        d.unique()
    }

    #[test]
    fn distinct_values_in_any_order_prove_the_column_unique() {
        let rising: Vec<Option<i64>> = (1..=100_000).map(Some).collect();
        assert!(tracked(&rising));
        let falling: Vec<Option<i64>> = (-50_000..50_000).rev().map(Some).collect();
        assert!(tracked(&falling));
        // Both ends of the type, NULLs in between (never counted, as in the query).
        assert!(tracked(&[Some(i64::MAX), None, Some(i64::MAX - 1), None]));
        assert!(tracked(&[Some(i64::MIN), Some(i64::MIN + 64), None]));
        assert!(tracked(&[]));
    }

    #[test]
    fn keys_are_bits_from_the_lowest_key_seen_in_postgresql_bit_order() {
        let mut d = Distinct::new(0, "customer_id", true);
        for v in [1000, 1003, 1000, 1064, 1063] {
            d.see(Some(v));
        }
        d.see(None);
        let k = d.key_bits().expect("keys");
        assert_eq!((k.low, k.span, k.count), (960, 128, 4));
        let set: Vec<i64> = (0..k.span as usize)
            .filter(|i| k.bits[i / 8] >> (i % 8) & 1 == 1)
            .map(|i| k.low + i as i64)
            .collect();
        assert_eq!(set, [1000, 1003, 1063, 1064]);
        assert!(!d.unique(), "keys prove nothing about unique");
    }

    #[test]
    fn a_repeated_value_or_a_span_too_wide_leaves_it_to_the_query() {
        assert!(!tracked(&[Some(5), Some(900), Some(-3), Some(900)]));
        assert!(!tracked(&[Some(i64::MIN), Some(i64::MAX)]));
        assert!(!tracked(&[Some(0), Some(MAX_WORDS as i64 * 64)]));
        assert!(tracked(&[Some(0), Some(MAX_WORDS as i64 * 64 - 1)]));
    }
}
