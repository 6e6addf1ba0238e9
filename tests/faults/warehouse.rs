//! The warehouse a test loads into, PostgreSQL or the embedded SQLite, read from outside the
//! `etl` process: a table's contents as a fingerprint, leftovers of a load, the audit table,
//! and what the database shows of a load in progress.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::ValueRef;

use crate::common::{text, PgTestDb};
use crate::rig::wait_until;

pub enum Warehouse {
    Pg(PgTestDb),
    /// The file (created by the first load) in a folder of its own.
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
}

/// A record of `etl_runs`.
#[derive(Clone, Debug)]
pub struct AuditRow {
    pub id: i64,
    pub run_id: String,
    pub task: String,
    pub status: String,
    pub target_table: Option<String>,
    pub error_message: Option<String>,
}

impl Warehouse {
    pub fn pg(test: &str) -> Warehouse {
        Warehouse::Pg(PgTestDb::new(test))
    }

    pub fn sqlite() -> Warehouse {
        let dir = tempfile::Builder::new()
            .prefix("etl-faults-dw-")
            .tempdir()
            .expect("temp dir");
        let path = dir.path().join("warehouse.db");
        Warehouse::Sqlite { _dir: dir, path }
    }

    pub fn url(&self) -> String {
        match self {
            Warehouse::Pg(db) => db.url().to_string(),
            Warehouse::Sqlite { path, .. } => format!("sqlite://{}", path.display()),
        }
    }

    pub fn is_pg(&self) -> bool {
        matches!(self, Warehouse::Pg(_))
    }

    pub fn pg_db(&self) -> &PgTestDb {
        match self {
            Warehouse::Pg(db) => db,
            Warehouse::Sqlite { .. } => panic!("not a PostgreSQL warehouse"),
        }
    }

    /// Every row of a query as text (None for NULL).
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self {
            Warehouse::Pg(db) => db.query(sql),
            Warehouse::Sqlite { path, .. } => sqlite_rows(path, sql, false),
        }
    }

    pub fn scalar(&self, sql: &str) -> Option<String> {
        self.rows(sql)
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten())
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.scalar(sql)
            .unwrap_or_else(|| panic!("no count from {sql}"))
            .parse()
            .expect("a count")
    }

    pub fn table_exists(&self, table: &str) -> bool {
        match self {
            Warehouse::Pg(_) => {
                self.count(&format!(
                    "SELECT count(*) FROM pg_tables WHERE tablename = '{table}'"
                )) > 0
            }
            Warehouse::Sqlite { path, .. } => {
                path.exists()
                    && self.count(&format!(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
                )) > 0
            }
        }
    }

    /// Row count and a hash of every row in key order: equal fingerprints, equal contents.
    pub fn fingerprint(&self, table: &str) -> String {
        match self {
            Warehouse::Pg(db) => text(
                db,
                &format!(
                    "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t.id)), '-') FROM {table} t"
                ),
            )
            .remove(0),
            Warehouse::Sqlite { path, .. } => {
                let sql = format!("SELECT * FROM \"{table}\" ORDER BY id");
                let rows = sqlite_rows(path, &sql, true);
                let mut h = std::collections::hash_map::DefaultHasher::new();
                rows.hash(&mut h);
                format!("{}:{:016x}", rows.len(), h.finish())
            }
        }
    }

    /// Rows whose key appears more than once.
    pub fn duplicate_keys(&self, table: &str) -> i64 {
        self.count(&format!(
            "SELECT count(*) - count(DISTINCT id) FROM {}",
            self.quoted(table)
        ))
    }

    fn quoted(&self, table: &str) -> String {
        format!("\"{table}\"")
    }

    /// Tables a load builds and drops (`X__etl_new`, stages), still there.
    pub fn leftovers(&self) -> Vec<String> {
        let sql = match self {
            Warehouse::Pg(_) => {
                "SELECT schemaname || '.' || tablename FROM pg_tables \
                 WHERE tablename LIKE '%etl_new%' OR tablename LIKE '%etl_stage%' ORDER BY 1"
            }
            Warehouse::Sqlite { .. } => {
                "SELECT name FROM sqlite_master WHERE name LIKE '%etl_new%' OR name LIKE '%etl_stage%' ORDER BY 1"
            }
        };
        self.rows(sql)
            .into_iter()
            .map(|r| r[0].clone().unwrap_or_default())
            .collect()
    }

    fn audit_table(&self) -> &'static str {
        match self {
            Warehouse::Pg(_) => "etl.etl_runs",
            Warehouse::Sqlite { .. } => "etl_runs",
        }
    }

    /// Audit records with an id above `after`, oldest first (none before the table exists).
    pub fn audit_after(&self, after: i64) -> Vec<AuditRow> {
        let exists = match self {
            Warehouse::Pg(_) => self
                .scalar("SELECT to_regclass('etl.etl_runs')::text")
                .is_some(),
            Warehouse::Sqlite { .. } => self.table_exists("etl_runs"),
        };
        if !exists {
            return Vec::new();
        }
        self.rows(&format!(
            "SELECT id, run_id, task, status, target_table, error_message FROM {} WHERE id > {after} ORDER BY id",
            self.audit_table()
        ))
        .into_iter()
        .map(|r| {
            let mut r = r.into_iter();
            let mut next = || r.next().expect("column");
            AuditRow {
                id: next().expect("id").parse().expect("id"),
                run_id: next().expect("run_id"),
                task: next().expect("task"),
                status: next().expect("status"),
                target_table: next(),
                error_message: next(),
            }
        })
        .collect()
    }

    pub fn last_audit_id(&self) -> i64 {
        self.audit_after(-1).last().map_or(0, |r| r.id)
    }

    /// Waits until the server has ended every session of a killed `etl` (PostgreSQL rolls a
    /// transaction back when its client's socket closes); nothing to wait for with SQLite,
    /// whose locks die with the process.
    pub fn wait_for_sessions_to_end(&self) {
        if let Warehouse::Pg(db) = self {
            let sql = format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'etl'",
                db.name()
            );
            wait_until("the killed run's PostgreSQL sessions to end", || {
                db.scalar(&sql).as_deref() == Some("0")
            });
        }
    }

    /// Rows the COPY into the warehouse has processed so far (PostgreSQL, while one runs).
    pub fn copy_progress(&self) -> Option<i64> {
        let Warehouse::Pg(db) = self else { return None };
        db.scalar(&format!(
            "SELECT coalesce(max(tuples_processed), -1) FROM pg_stat_progress_copy WHERE datname = '{}'",
            db.name()
        ))
        .and_then(|v| v.parse().ok())
        .filter(|n: &i64| *n >= 0)
    }

    /// Whether a session of `etl` waits for a lock (PostgreSQL).
    pub fn etl_waits_for_a_lock(&self) -> bool {
        let Warehouse::Pg(db) = self else {
            return false;
        };
        db.scalar(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'etl' \
             AND wait_event_type = 'Lock'",
            db.name()
        ))
        .as_deref()
            != Some("0")
    }

    /// What the sessions of `etl` are doing, as PostgreSQL shows them; for SQLite, how big the
    /// write-ahead log is (a load's uncommitted pages spill there).
    pub fn activity(&self) -> String {
        match self {
            Warehouse::Pg(db) => {
                let rows = text(
                    db,
                    &format!(
                        "SELECT state || coalesce(' (waits: ' || wait_event_type || ')', '') || ': ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 60) \
                         FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'etl' AND xact_start IS NOT NULL ORDER BY backend_start",
                        db.name()
                    ),
                );
                let copy = self
                    .copy_progress()
                    .map(|n| format!("; COPY at row {n}"))
                    .unwrap_or_default();
                if rows.is_empty() {
                    format!("no etl transaction{copy}")
                } else {
                    format!("{}{copy}", rows.join(" | "))
                }
            }
            Warehouse::Sqlite { path, .. } => {
                let mut wal = path.clone().into_os_string();
                wal.push("-wal");
                match std::fs::metadata(&wal) {
                    Ok(m) => format!("WAL {} KiB", m.len() / 1024),
                    Err(_) => "no WAL".into(),
                }
            }
        }
    }
}

/// Rows of a query on a SQLite file; `tagged` shows each value's storage class (1, 1.0 and '1'
/// differ), for fingerprints.
fn sqlite_rows(path: &Path, sql: &str, tagged: bool) -> Vec<Vec<Option<String>>> {
    let conn = rusqlite::Connection::open(path).expect("open the SQLite warehouse");
    conn.busy_timeout(Duration::from_secs(30))
        .expect("busy timeout");
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let width = stmt.column_count();
    let rows = stmt
        .query_map([], |r| {
            (0..width)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => None,
                        ValueRef::Integer(n) => Some(n.to_string()),
                        ValueRef::Real(f) if tagged => Some(format!("{f:?}r")),
                        ValueRef::Real(f) => Some(f.to_string()),
                        ValueRef::Text(t) if tagged => {
                            Some(format!("'{}'", String::from_utf8_lossy(t)))
                        }
                        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Some(format!("x{b:02x?}")),
                    })
                })
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.collect::<rusqlite::Result<_>>()
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}
