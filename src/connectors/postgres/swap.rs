//! A full load's swap on PostgreSQL: the replacement's primary key, built after its rows are
//! in, then the old table dropped and the new one renamed, waiting for readers only briefly.

use std::time::Duration;

use tokio_postgres::error::SqlState;

use super::error::{message, sqlstate};
use super::target::quoted;
use super::txn::PgTxn;
use super::types::quote_ident;
use crate::connectors::TableId;
use crate::error::{EtlError, Result};

impl PgTxn {
    /// The replacement's key built before the load's checks, in a savepoint: false, with the
    /// savepoint rolled back, when its rows have a duplicate or NULL key (the checks count
    /// and show them; the swap then fails on them as it would have).
    pub(super) async fn key_early(
        &mut self,
        replacement: &TableId,
        key: &[String],
    ) -> Result<bool> {
        if key.is_empty() || !self.replacements.contains(replacement) {
            return Ok(false);
        }
        if self.keyed.contains(replacement) {
            return Ok(true);
        }
        let c = self.client();
        let sql = format!("SAVEPOINT etl_key; {}", add_key(replacement, key));
        match c.batch_execute(&sql).await {
            Ok(()) => {
                c.batch_execute("RELEASE SAVEPOINT etl_key")
                    .await
                    .map_err(|e| self.pg(&e, "building the primary key"))?;
                self.keyed.insert(replacement.clone());
                Ok(true)
            }
            Err(e)
                if e.code() == Some(&SqlState::UNIQUE_VIOLATION)
                    || e.code() == Some(&SqlState::NOT_NULL_VIOLATION) =>
            {
                c.batch_execute("ROLLBACK TO SAVEPOINT etl_key; RELEASE SAVEPOINT etl_key")
                    .await
                    .map_err(|e| self.pg(&e, "building the primary key"))?;
                Ok(false)
            }
            Err(e) => Err(self.pg(&e, "building the primary key")),
        }
    }

    /// Full: the key, then the swap, each try waiting at most `swap_lock_timeout` for other
    /// sessions' locks: a swap queued behind a long reader would make every new reader wait
    /// behind it. Between tries the savepoint is rolled back, so readers go on.
    pub(super) async fn swap_in(
        &self,
        replacement: &TableId,
        target: &TableId,
        key: &[String],
    ) -> Result<()> {
        let c = self.client();
        let temp_pk = short_name(&replacement.name, "_pkey");
        if !key.is_empty() && !self.keyed.contains(replacement) {
            c.batch_execute(&add_key(replacement, key))
                .await
                .map_err(|e| {
                    EtlError::load(
                        &self.table,
                        format!(
                            "building the primary key ({}): {}",
                            key.join(", "),
                            message(&e)
                        ),
                    )
                })?;
        }
        let swap = format!(
            "DROP TABLE IF EXISTS {target}; ALTER TABLE {replacement} RENAME TO {name}",
            target = quoted(target),
            replacement = quoted(replacement),
            name = quote_ident(&target.name)
        );
        let timeout = self.shared.swap_lock_timeout;
        let attempts = self.shared.swap_attempts;
        let mut attempt = 1;
        loop {
            c.batch_execute(&format!(
                "SAVEPOINT etl_swap; SET LOCAL lock_timeout = {}",
                timeout.as_millis().max(1)
            ))
            .await
            .map_err(|e| self.pg(&e, "preparing the swap"))?;
            match c.batch_execute(&swap).await {
                Ok(()) => break,
                Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) && attempt < attempts => {
                    c.batch_execute("ROLLBACK TO SAVEPOINT etl_swap")
                        .await
                        .map_err(|e| self.pg(&e, "retrying the swap"))?;
                    let pause = Duration::from_secs(1 << (attempt - 1).min(5));
                    tracing::warn!(
                        table = %self.table,
                        "Swapping in the new {} waited {:.1}s for other sessions' locks (attempt {attempt} of {attempts}); trying again in {}s.",
                        self.table, timeout.as_secs_f64(), pause.as_secs()
                    );
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                Err(e) => {
                    let hint = if e.code() == Some(&SqlState::DEPENDENT_OBJECTS_STILL_EXIST) {
                        " (a full load replaces the table; objects depending on it, such as views, block that: \
                         load with mode \"append\" after deleting, or recreate the views after the load)".to_string()
                    } else if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
                        format!(
                            " (other sessions held locks on the table through {attempts} tries of {:.1}s; \
                             the old table is unchanged: run again when they are done, or raise \
                             [load] swap_lock_timeout_seconds / swap_attempts in etl.toml)",
                            timeout.as_secs_f64()
                        )
                    } else {
                        String::new()
                    };
                    return Err(EtlError::Database {
                        connection: self.shared.name.clone(),
                        message: format!(
                            "load into {}: swapping in the new table: {}{hint}",
                            self.table,
                            message(&e)
                        ),
                        sqlstate: sqlstate(&e),
                    });
                }
            }
        }
        c.batch_execute("RELEASE SAVEPOINT etl_swap; SET LOCAL lock_timeout TO DEFAULT")
            .await
            .map_err(|e| self.pg(&e, "swapping in the new table"))?;
        if !key.is_empty() {
            let schema = quote_ident(target.schema.as_deref().unwrap_or("public"));
            let final_pk = short_name(&target.name, "_pkey");
            let free: bool = c
                .query_one(
                    "SELECT to_regclass($1) IS NULL",
                    &[&format!("{schema}.{}", quote_ident(&final_pk))],
                )
                .await
                .map_err(|e| self.pg(&e, "naming the primary key"))?
                .get(0);
            if free {
                c.batch_execute(&format!(
                    "ALTER INDEX {schema}.{} RENAME TO {}",
                    quote_ident(&temp_pk),
                    quote_ident(&final_pk)
                ))
                .await
                .map_err(|e| self.pg(&e, "naming the primary key"))?;
            }
        }
        Ok(())
    }
}

/// The replacement's primary key, under a name of its own until the swap renames it.
fn add_key(replacement: &TableId, key: &[String]) -> String {
    let keys: Vec<String> = key.iter().map(|k| quote_ident(k)).collect();
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})",
        quoted(replacement),
        quote_ident(&short_name(&replacement.name, "_pkey")),
        keys.join(", ")
    )
}

/// `base + suffix` within PostgreSQL's 63-byte names; longer ones become a stable hash, so a
/// derived name can never be silently truncated into another table's name.
pub(super) fn short_name(base: &str, suffix: &str) -> String {
    if base.len() + suffix.len() <= 63 {
        return format!("{base}{suffix}");
    }
    let mut h: u64 = 0xcbf29ce484222325;
    for b in base.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    format!("etl_{h:016x}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names_stay_within_63_bytes() {
        assert_eq!(short_name("orders", "__etl_new"), "orders__etl_new");
        let long = "x".repeat(60);
        let a = short_name(&long, "__etl_new");
        assert!(
            a.len() <= 63 && a.starts_with("etl_") && a.ends_with("__etl_new"),
            "{a}"
        );
        assert_eq!(a, short_name(&long, "__etl_new"));
        assert_ne!(a, short_name(&"y".repeat(60), "__etl_new"));
    }
}
