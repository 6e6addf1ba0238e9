use super::{Reject, Value};

/// A bounded run of rows stored flat (one allocation per batch, not per row).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    width: usize,
    values: Vec<Value>,
    /// 1-based number of the first row in its source stream, for error messages.
    pub first_row: u64,
    /// Records of this stretch of the source that were set aside instead of read (only when
    /// the read asked for it: `ReadOptions::keep_going`).
    pub rejects: Vec<Reject>,
    /// Rows handed over already in the target's wire format instead of as values
    /// (`ReadOptions::encoded`); `values` is then empty.
    pub encoded: Option<Encoded>,
}

/// Whole rows in the wire format a target asked its source for (`ReadOptions::encoded`),
/// back to back: the target writes the bytes as they are, nothing is decoded on the way.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Encoded {
    pub bytes: bytes::Bytes,
    pub rows: usize,
    /// The first row the target would refuse: the load fails there, as it would have while
    /// encoding the row's values.
    pub refused: Option<Refused>,
    /// The cursor column's values, when the read was told which column is the cursor.
    pub cursor: Option<CursorSeen>,
}

/// What a batch's cursor column held: the load's watermark and NULL handling come from it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CursorSeen {
    pub min: Option<Value>,
    pub max: Option<Value>,
    pub nulls: u64,
    /// 0-based row of the first NULL.
    pub first_null: Option<usize>,
}

impl CursorSeen {
    /// One row's cursor (None or `Value::Null` for NULL).
    pub fn see(&mut self, v: Option<&Value>, row: usize) {
        let Some(v) = v.filter(|v| !v.is_null()) else {
            self.nulls += 1;
            self.first_null.get_or_insert(row);
            return;
        };
        if self
            .min
            .as_ref()
            .is_none_or(|m| v.compare(m) == Some(std::cmp::Ordering::Less))
        {
            self.min = Some(v.clone());
        }
        if self
            .max
            .as_ref()
            .is_none_or(|m| v.compare(m) == Some(std::cmp::Ordering::Greater))
        {
            self.max = Some(v.clone());
        }
    }
}

/// A row a source encoding for its target stopped at.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Refused {
    /// 0-based in its batch.
    pub row: usize,
    pub column: usize,
    /// Why; None for a NULL in a column that may not hold one (a key).
    pub reason: Option<String>,
}

impl Batch {
    pub fn new(width: usize, first_row: u64, capacity_rows: usize) -> Batch {
        Batch {
            width,
            values: Vec::with_capacity(width * capacity_rows),
            first_row,
            rejects: Vec::new(),
            encoded: None,
        }
    }

    /// Wraps rows already encoded for the target.
    pub fn from_encoded(width: usize, first_row: u64, encoded: Encoded) -> Batch {
        Batch {
            width,
            values: Vec::new(),
            first_row,
            rejects: Vec::new(),
            encoded: Some(encoded),
        }
    }

    /// Wraps values already laid out row after row.
    pub fn from_values(width: usize, first_row: u64, values: Vec<Value>) -> Batch {
        debug_assert_eq!(values.len() % width.max(1), 0, "whole rows");
        Batch {
            width,
            values,
            first_row,
            rejects: Vec::new(),
            encoded: None,
        }
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn len(&self) -> usize {
        match &self.encoded {
            Some(e) => e.rows,
            None => self.values.len().checked_div(self.width).unwrap_or(0),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one row; `row` must hold exactly `width` values.
    pub fn push_row(&mut self, row: impl IntoIterator<Item = Value>) {
        let before = self.values.len();
        self.values.extend(row);
        debug_assert_eq!(self.values.len() - before, self.width, "row width");
    }

    /// Appends one field; callers push exactly `width` fields per row.
    pub fn push(&mut self, value: Value) {
        self.values.push(value);
    }

    pub fn rows(&self) -> std::slice::ChunksExact<'_, Value> {
        self.values.chunks_exact(self.width.max(1))
    }

    pub fn rows_mut(&mut self) -> std::slice::ChunksExactMut<'_, Value> {
        self.values.chunks_exact_mut(self.width.max(1))
    }

    pub fn into_values(self) -> Vec<Value> {
        self.values
    }
}
