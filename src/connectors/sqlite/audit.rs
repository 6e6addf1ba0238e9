//! `etl_runs` in SQLite.

use rusqlite::{params_from_iter, Connection};

use crate::audit::{max_watermark, AuditRecord, Field, COLUMNS, TABLE};

const CREATE: &str = "CREATE TABLE IF NOT EXISTS etl_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    project TEXT NOT NULL,
    task TEXT NOT NULL,
    status TEXT NOT NULL,
    load_type TEXT NOT NULL,
    environment TEXT NOT NULL,
    script_version TEXT NOT NULL,
    target_database TEXT NOT NULL,
    target_table TEXT,
    start_load_date TEXT,
    end_load_date TEXT,
    previous_max_date TEXT,
    data_min_date TEXT,
    data_max_date TEXT,
    number_of_records BIGINT,
    start_script_execution_time TIMESTAMPTZ,
    end_script_execution_time TIMESTAMPTZ,
    error_message TEXT
);
CREATE INDEX IF NOT EXISTS etl_runs_watermark ON etl_runs (project, target_table, status);";

pub fn ensure(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(CREATE)
}

fn values(record: &AuditRecord) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value as V;
    record
        .fields()
        .into_iter()
        .map(|f| match f {
            Field::Text(Some(s)) => V::Text(s.to_string()),
            Field::Int(Some(i)) => V::Integer(i),
            Field::Time(Some(t)) => V::Text(t.format("%Y-%m-%d %H:%M:%S%.f+00:00").to_string()),
            _ => V::Null,
        })
        .collect()
}

pub fn insert(conn: &Connection, record: &AuditRecord) -> rusqlite::Result<i64> {
    let placeholders = vec!["?"; COLUMNS.len()].join(", ");
    let sql = format!(
        "INSERT INTO {TABLE} ({}) VALUES ({placeholders})",
        COLUMNS.join(", ")
    );
    conn.execute(&sql, params_from_iter(values(record)))?;
    Ok(conn.last_insert_rowid())
}

pub fn update(conn: &Connection, id: i64, record: &AuditRecord) -> rusqlite::Result<()> {
    let sets: Vec<String> = COLUMNS.iter().map(|c| format!("{c} = ?")).collect();
    let sql = format!("UPDATE {TABLE} SET {} WHERE id = ?", sets.join(", "));
    let mut v = values(record);
    v.push(rusqlite::types::Value::Integer(id));
    conn.execute(&sql, params_from_iter(v))?;
    Ok(())
}

pub fn watermark(
    conn: &Connection,
    project: &str,
    table: &str,
) -> rusqlite::Result<Option<String>> {
    let mut stmt = conn.prepare(
        "SELECT data_max_date FROM etl_runs WHERE project = ?1 AND target_table = ?2 \
         AND status = 'success' AND data_max_date IS NOT NULL",
    )?;
    let all: Vec<String> = stmt
        .query_map([project, table], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(max_watermark(all))
}

/// Records newest first, optionally of one project or the one with `id`.
pub fn history(
    conn: &Connection,
    project: Option<&str>,
    id: Option<i64>,
    limit: usize,
) -> rusqlite::Result<Vec<AuditRecord>> {
    let sql = format!(
        "SELECT id, {} FROM {TABLE} WHERE (?1 IS NULL OR project = ?1) AND (?2 IS NULL OR id = ?2) ORDER BY id DESC LIMIT ?3",
        COLUMNS.join(", ")
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params![project, id, limit as i64], |r| {
        let mut rec = AuditRecord {
            id: Some(r.get(0)?),
            ..AuditRecord::default()
        };
        for (i, col) in COLUMNS.iter().enumerate() {
            let v: Option<String> = match r.get_ref(i + 1)? {
                rusqlite::types::ValueRef::Integer(n) => Some(n.to_string()),
                rusqlite::types::ValueRef::Null => None,
                other => {
                    Some(String::from_utf8_lossy(other.as_bytes().unwrap_or_default()).into_owned())
                }
            };
            // Stored by us, so every value parses; a hand-edited row shows what it can.
            let _ = rec.set(col, v);
        }
        Ok(rec)
    })?;
    rows.collect()
}
