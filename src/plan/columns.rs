//! The DDL a load would run on its target and the source -> target type of each column, with
//! lossy and narrowing casts flagged.

use super::collect::ColumnMap;
use crate::connectors::{LoadTarget, TargetColumn};
use crate::data::{Column, DataType, Schema};
use crate::load::{LoadMode, LoadSpec};

/// The DDL the load would run and the source -> target type of each column.
pub(super) fn target_changes(
    target: &dyn LoadTarget,
    spec: &LoadSpec,
    mode: LoadMode,
    columns: &Schema,
    existing: Option<&[TargetColumn]>,
) -> (Vec<String>, Vec<ColumnMap>) {
    let existing = existing.map(|cols| {
        Schema::new(
            cols.iter()
                .map(|c| Column::new(c.name.clone(), c.data_type.clone()))
                .collect(),
        )
    });
    let existing = existing.as_ref();
    let mut ddl = Vec::new();
    let mut map = Vec::new();
    let replace = mode == LoadMode::Full;
    let streams = match spec.parallel {
        Some(n) if n > 1 && replace => format!(" over up to {n} COPY streams"),
        _ => String::new(),
    };
    match existing {
        None => ddl.push(target.create_table_sql(&spec.into, columns, &spec.key)),
        Some(_) if replace => ddl.push(format!(
            "{}  -- built beside the table{streams}, then swapped in",
            target.create_table_sql(&spec.into, columns, &spec.key)
        )),
        Some(_) => {}
    }
    for c in &columns.columns {
        let have = existing.and_then(|e| e.index_of(&c.name).map(|i| &e.columns[i]));
        let (target, flag) = match have {
            None if existing.is_some() && !replace => {
                ddl.push(target.add_column_sql(&spec.into, &c.name, &c.data_type));
                (c.data_type.to_string(), Some("new column".to_string()))
            }
            None => (c.data_type.to_string(), None),
            Some(t) if replace => {
                let flag = (t.data_type != c.data_type)
                    .then(|| format!("type change: the table's {} is replaced", t.data_type));
                (c.data_type.to_string(), flag)
            }
            Some(t) => (
                t.data_type.to_string(),
                cast_flag(&c.data_type, &t.data_type, spec),
            ),
        };
        map.push(ColumnMap {
            name: c.name.clone(),
            source: c.data_type.to_string(),
            target,
            flag,
        });
    }
    if let Some(e) = existing {
        for t in &e.columns {
            if columns.index_of(&t.name).is_none() {
                map.push(ColumnMap {
                    name: t.name.clone(),
                    source: "-".into(),
                    target: t.data_type.to_string(),
                    flag: Some(if replace {
                        "not in the source: dropped by the swap".into()
                    } else {
                        "not in the source: NULL in new rows".into()
                    }),
                });
            }
        }
    }
    (ddl, map)
}

/// Flags a source type the existing column cannot hold exactly.
fn cast_flag(source: &DataType, target: &DataType, spec: &LoadSpec) -> Option<String> {
    if source.widens_to(target) {
        return None;
    }
    let what = if narrows(source, target) {
        "NARROWING"
    } else {
        "LOSSY"
    };
    Some(if spec.allow_type_change {
        format!("{what} cast (allow_type_change: rows whose values do not fit fail)")
    } else {
        format!("{what} cast: the load refuses it (cast in the source or allow_type_change: true)")
    })
}

/// Same kind of value, smaller range (integer widths, text lengths, numeric digits).
fn narrows(source: &DataType, target: &DataType) -> bool {
    use DataType::*;
    matches!(
        (source, target),
        (Int16 | Int32 | Int64, Int16 | Int32 | Int64)
            | (Float64, Float32)
            | (Text { .. }, Text { .. })
            | (Decimal { .. }, Decimal { .. })
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_are_flagged_by_kind() {
        let t = |s| DataType::parse(s).unwrap();
        let spec = LoadSpec {
            into: "t".into(),
            key: vec![],
            cursor: None,
            mode: None,
            null_cursor: crate::load::NullCursor::Load,
            batch_rows: 10,
            allow_type_change: false,
            limit: None,
            max_errors: None,
            max_error_ratio: None,
            checks: Vec::new(),
            on_check_fail: crate::load::checks::Severity::Error,
            scd2: None,
            lookups: Vec::new(),
            lookback: None,
            soft_delete: None,
            parallel: None,
        };
        assert!(cast_flag(&t("integer"), &t("bigint"), &spec).is_none());
        assert!(cast_flag(&t("bigint"), &t("integer"), &spec)
            .unwrap()
            .starts_with("NARROWING"));
        assert!(cast_flag(&t("numeric(12,2)"), &t("integer"), &spec)
            .unwrap()
            .starts_with("LOSSY"));
    }
}
