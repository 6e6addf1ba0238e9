//! What is applied and what is pending, and applying: each migration in one transaction that
//! takes its set's lock, re-checks the record, runs the file, writes the record and commits.

use std::time::Instant;

use super::files::MigrationSet;
use super::store::{Record, Store};
use crate::data::Value;
use crate::error::EtlError;

/// Why migrations could not be applied.
#[derive(Debug)]
pub enum MigrateError {
    /// The files are wrong (names, a changed applied file, order): the user fixes them (exit 2).
    Invalid(String),
    /// A migration or the database failed; nothing of that migration stayed (exit 1).
    Failed(String),
}

impl std::fmt::Display for MigrateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MigrateError::Invalid(m) | MigrateError::Failed(m) => f.write_str(m),
        }
    }
}

impl From<EtlError> for MigrateError {
    fn from(e: EtlError) -> MigrateError {
        match e {
            EtlError::Config(m) => MigrateError::Invalid(m),
            other => MigrateError::Failed(other.to_string()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Applied,
    Pending,
    /// Applied, but its file is gone (a warning).
    Missing,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Missing => "file missing",
        }
    }
}

/// One migration of one set, as the database and the folder see it.
#[derive(Clone, Debug)]
pub struct Status {
    pub project: String,
    pub name: String,
    pub number: u64,
    /// The file that runs (or ran) on this connection.
    pub file: String,
    pub state: State,
    pub record: Option<Record>,
    checksum: String,
    sql: String,
}

fn number_of(name: &str) -> u64 {
    let digits: String = name.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().unwrap_or(0)
}

/// The state of every migration of `sets` on `store`, read-only. A changed applied file or a
/// pending migration numbered below an applied one is an error; a record whose file is gone
/// is a warning.
pub fn status(store: &Store, sets: &[MigrationSet]) -> Result<Vec<Status>, MigrateError> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for set in sets {
        let base = set.dir.parent().unwrap_or(&set.dir);
        let records = store.records(&set.project)?;
        let mut statuses = Vec::new();
        for m in &set.migrations {
            let chosen = m
                .choose(store.dialect, base)
                .map_err(MigrateError::Invalid)?;
            let record = records.iter().find(|r| r.name == m.name).cloned();
            if let Some(r) = &record {
                if r.checksum != chosen.checksum {
                    problems.push(changed(&set.project, &chosen.file, r, &chosen.checksum));
                }
            }
            statuses.push(Status {
                project: set.project.clone(),
                name: m.name.clone(),
                number: m.number,
                file: chosen.file,
                state: if record.is_some() {
                    State::Applied
                } else {
                    State::Pending
                },
                record,
                checksum: chosen.checksum,
                sql: chosen.sql,
            });
        }
        for r in &records {
            if !set.migrations.iter().any(|m| m.name == r.name) {
                tracing::warn!(
                    connection = %store.conn.name,
                    "Migration {} of project '{}' was applied on {} but its file {} is gone; \
                     the record is kept (restore the file to silence this).",
                    r.name, set.project, r.applied_at, r.file
                );
                statuses.push(Status {
                    project: set.project.clone(),
                    name: r.name.clone(),
                    number: number_of(&r.name),
                    file: r.file.clone(),
                    state: State::Missing,
                    record: Some(r.clone()),
                    checksum: r.checksum.clone(),
                    sql: String::new(),
                });
            }
        }
        statuses.sort_by_key(|s| s.number);
        let last_applied = statuses
            .iter()
            .filter(|s| s.state != State::Pending)
            .max_by_key(|s| s.number);
        if let Some(last) = last_applied {
            for s in statuses
                .iter()
                .filter(|s| s.state == State::Pending && s.number < last.number)
            {
                let rest = s.name.trim_start_matches(|c: char| c.is_ascii_digit());
                problems.push(format!(
                    "{}: migration {} of project '{}' is pending but {} is already applied on \
                     connection '{}'; migrations apply in order, so give it a number above {} \
                     (e.g. {}{rest}.sql)",
                    s.file,
                    s.name,
                    s.project,
                    last.name,
                    store.conn.name,
                    last.number,
                    last.number + 1
                ));
            }
        }
        out.extend(statuses);
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(MigrateError::Invalid(problems.join("\n")))
    }
}

fn changed(project: &str, file: &str, r: &Record, now: &str) -> String {
    format!(
        "{file}: migration {} of project '{project}' changed after it was applied on {} \
         (recorded checksum {}, file now {now}); an applied migration must not change: restore \
         the file and put the change in a new migration",
        r.name, r.applied_at, r.checksum
    )
}

/// Applies the pending migrations of `statuses` numbered at most `to`, in order; stops at the
/// first that fails (rolled back, not recorded). Returns the statuses as they end.
pub fn apply(
    store: &Store,
    mut statuses: Vec<Status>,
    to: Option<u64>,
    run_id: &str,
) -> Result<Vec<Status>, MigrateError> {
    if !statuses.iter().any(|s| s.state == State::Pending) {
        return Ok(statuses);
    }
    store.ensure()?;
    for s in statuses.iter_mut() {
        if s.state != State::Pending || to.is_some_and(|to| s.number > to) {
            continue;
        }
        let record = apply_one(store, s, run_id).map_err(|e| match e {
            MigrateError::Failed(m) => MigrateError::Failed(format!(
                "{}: migration {} of project '{}' failed on connection '{}' and was rolled \
                 back (not recorded; later migrations were not run): {m}\nFix the file and \
                 run `etl migrate` again.",
                s.file, s.name, s.project, store.conn.name
            )),
            invalid => invalid,
        })?;
        s.state = State::Applied;
        s.record = Some(record);
    }
    Ok(statuses)
}

fn apply_one(store: &Store, s: &Status, run_id: &str) -> Result<Record, MigrateError> {
    let mut txn = store.conn.sql()?.begin(&store.io)?;
    if store.schema_lock() {
        txn.execute(
            &Store::lock_sql("key"),
            &vec![("key".into(), Value::Text(Store::lock_key(&s.project)))],
        )?;
    }
    // Another process may have applied it while this one waited for the lock.
    if let Some(r) = store.record_in(txn.as_mut(), &s.project, &s.name)? {
        if r.checksum == s.checksum {
            tracing::info!(
                connection = %store.conn.name,
                "Migration {} of project '{}' was applied meanwhile by run {}.",
                s.name, s.project, r.run_id
            );
            return Ok(r);
        }
        return Err(MigrateError::Invalid(changed(
            &s.project,
            &s.file,
            &r,
            &s.checksum,
        )));
    }
    let started = Instant::now();
    txn.run_script(&s.file, &s.sql, &Vec::new())?;
    let record = Record {
        name: s.name.clone(),
        file: s.file.clone(),
        checksum: s.checksum.clone(),
        applied_at: chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        duration_ms: started.elapsed().as_millis() as i64,
        run_id: run_id.to_string(),
    };
    store.insert_in(txn.as_mut(), &s.project, &record)?;
    txn.commit()?;
    tracing::info!(
        connection = %store.conn.name,
        "Applied migration {} of project '{}' ({}, {} ms).",
        s.name, s.project, s.file, record.duration_ms
    );
    Ok(record)
}
