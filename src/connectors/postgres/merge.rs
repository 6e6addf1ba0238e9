//! Merging into PostgreSQL: the unique key `ON CONFLICT` needs, and the upsert from the stage.

use super::error::message;
use super::swap::short_name;
use super::target::{quoted, PgColumn};
use super::txn::PgTxn;
use super::types::{quote_ident, Wire};
use crate::connectors::{MergeCounts, TableId};
use crate::error::{EtlError, Result};

impl PgTxn {
    /// ON CONFLICT needs a unique index on exactly the key columns; an existing table without
    /// one gets it (which fails, clearly, when the table holds duplicates).
    pub(super) fn unique_key(&self, table: &TableId, key: &[String]) -> Result<()> {
        self.io.block_on(async {
            let c = self.client();
            let rows = c
                .query(
                    "SELECT ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) \
                     FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid \
                     AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = i.indnatts",
                    &[&quoted(table)],
                )
                .await
                .map_err(|e| self.pg(&e, "reading the table's unique indexes"))?;
            let mut want: Vec<&str> = key.iter().map(String::as_str).collect();
            want.sort_unstable();
            let found = rows.iter().any(|r| {
                let mut cols: Vec<String> = r.get(0);
                cols.sort_unstable();
                cols == want
            });
            if found {
                return Ok(());
            }
            let index = quote_ident(&short_name(&table.name, "__etl_key"));
            let keys: Vec<String> = key.iter().map(|k| quote_ident(k)).collect();
            c.batch_execute(&format!(
                "CREATE UNIQUE INDEX {index} ON {} ({})",
                quoted(table),
                keys.join(", ")
            ))
            .await
            .map_err(|e| {
                EtlError::load(
                    &self.table,
                    format!(
                        "merging on ({}) needs a unique index on those columns; creating one failed: {} \
                         (remove the duplicates or choose another key)",
                        key.join(", "),
                        message(&e)
                    ),
                )
            })?;
            tracing::info!(table = %self.table, "Created a unique index on ({}) for merging.", key.join(", "));
            Ok(())
        })
    }

    /// The last row of each key in the stage wins; unchanged rows are left alone.
    pub(super) fn upsert(
        &self,
        stage: &TableId,
        target: &TableId,
        columns: &[String],
        key: &[String],
    ) -> Result<MergeCounts> {
        let target_cols = self.columns_of(target)?;
        let q = |n: &str| quote_ident(n);
        let keys: Vec<String> = key.iter().map(|k| q(k)).collect();
        let cols: Vec<String> = columns.iter().map(|c| q(c)).collect();
        let others: Vec<&PgColumn> = columns
            .iter()
            .filter(|c| !key.contains(c))
            .filter_map(|c| target_cols.iter().find(|t| t.name == *c))
            .collect();
        let action = if others.is_empty() {
            "DO NOTHING".to_string()
        } else {
            let sets: Vec<String> = others
                .iter()
                .map(|t| format!("{0} = EXCLUDED.{0}", q(&t.name)))
                .collect();
            let changed: Vec<String> = others
                .iter()
                .map(|t| {
                    // json and json[] have no equality operator: compare their text.
                    let cast = if has_json(&t.pg.wire) { "::text" } else { "" };
                    format!(
                        "t.{0}{cast} IS DISTINCT FROM EXCLUDED.{0}{cast}",
                        q(&t.name)
                    )
                })
                .collect();
            format!(
                "DO UPDATE SET {} WHERE {}",
                sets.join(", "),
                changed.join(" OR ")
            )
        };
        let sql = format!(
            "WITH m AS (INSERT INTO {target} AS t ({cols}) \
             SELECT DISTINCT ON ({keys}) {cols} FROM {stage} ORDER BY {keys}, ctid DESC \
             ON CONFLICT ({keys}) {action} RETURNING (xmax = 0) AS inserted) \
             SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM m",
            target = quoted(target),
            stage = quoted(stage),
            cols = cols.join(", "),
            keys = keys.join(", "),
        );
        self.io.block_on(async {
            let row = self
                .client()
                .query_one(&sql, &[])
                .await
                .map_err(|e| self.pg(&e, "merging the staged rows"))?;
            Ok(MergeCounts {
                inserted: row.get::<_, i64>(0) as u64,
                updated: row.get::<_, i64>(1) as u64,
            })
        })
    }
}

fn has_json(w: &Wire) -> bool {
    match w {
        Wire::Json => true,
        Wire::Array { elem, .. } => has_json(elem),
        _ => false,
    }
}
