//! Tracked SQL migrations: `migrations/NNN_name.sql` of a project (and shared sets under
//! `stdlib/migrations/NAME/`) applied once each, in order, on the project's target, each in a
//! transaction with its record in `etl_migrations`. `etl migrate` applies them on demand;
//! every run applies the pending ones before its first task (or refuses to start).

mod apply;
mod command;
mod files;
mod store;

pub use crate::script::migration_options::{Options, Pending};
pub use apply::{apply, status, MigrateError, State, Status};
pub use command::{command, MigrateArgs};
pub use files::{checksum, read_set, Migration, MigrationSet};
pub use store::{Record, Store};

use crate::runmode::RunMode;
use crate::script::Project;

/// The sets a project applies: its shared sets first, then its own `migrations/` folder.
pub fn sets_of(project: &Project) -> Result<Vec<MigrationSet>, MigrateError> {
    let options = Options::from_meta(&project.meta).map_err(MigrateError::Invalid)?;
    let stdlib = crate::script::migration_options::stdlib_dir(&project.host.config.base_dir);
    let mut sets = Vec::new();
    for include in &options.include {
        let name = include.trim_start_matches("etl/");
        let dir = stdlib.join("migrations").join(name);
        if !dir.is_dir() {
            return Err(MigrateError::Invalid(format!(
                "project() option 'migrations': the shared set \"{include}\" is not a folder \
                 ({} does not exist; shared sets live under stdlib/migrations/ or $ETL_STDLIB)",
                dir.display()
            )));
        }
        sets.push(read_set(include, &dir).map_err(MigrateError::Invalid)?);
    }
    let own = project.host.project_dir.join("migrations");
    sets.push(read_set(&project.meta.name, &own).map_err(MigrateError::Invalid)?);
    Ok(sets)
}

/// The project's target as a migration store, as the host's run mode lets scripts use it.
pub fn store_of(project: &Project) -> Result<Store, MigrateError> {
    let host = &project.host;
    let conn = host.connection(&project.meta.target)?;
    Ok(Store::new(
        conn,
        &host.config.open_options().audit_schema,
        host.io.clone(),
    )?)
}

/// What a run does before its first task: nothing without migrations; otherwise checks the
/// files and records, then applies the pending ones (a writing run whose project does not
/// refuse them) or lists them. Blocking: call it on a blocking thread.
pub fn before_run(project: &Project, run_id: &str) -> Result<Vec<Status>, MigrateError> {
    let sets = sets_of(project)?;
    if sets.iter().all(|s| s.migrations.is_empty()) {
        return Ok(Vec::new());
    }
    let options = Options::from_meta(&project.meta).map_err(MigrateError::Invalid)?;
    let store = store_of(project)?;
    let statuses = status(&store, &sets)?;
    let pending: Vec<&Status> = statuses
        .iter()
        .filter(|s| s.state == State::Pending)
        .collect();
    if pending.is_empty() {
        return Ok(statuses);
    }
    let names: Vec<String> = pending.iter().map(|s| s.file.clone()).collect();
    if !matches!(project.host.mode, RunMode::Write) {
        tracing::info!(
            connection = %store.conn.name,
            "Pending migrations (not applied by this run): {}.",
            names.join(", ")
        );
        return Ok(statuses);
    }
    if options.pending == Pending::Refuse {
        return Err(MigrateError::Invalid(format!(
            "project '{}' has pending migrations on connection '{}': {}; its option \
             migrations: #{{ pending: \"refuse\" }} keeps runs from applying them, so apply \
             them with `etl migrate {}` first",
            project.meta.name,
            store.conn.name,
            names.join(", "),
            project.host.script.display()
        )));
    }
    apply(&store, statuses, None, run_id)
}

/// The status table `etl migrate` and `etl plan` print.
pub fn table(statuses: &[Status]) -> String {
    let mut rows = vec![[
        "project",
        "migration",
        "file",
        "state",
        "applied_at",
        "ms",
        "run_id",
    ]
    .map(String::from)
    .to_vec()];
    for s in statuses {
        let r = s.record.as_ref();
        rows.push(vec![
            s.project.clone(),
            s.name.clone(),
            s.file.clone(),
            s.state.as_str().to_string(),
            r.map(|r| r.applied_at.clone()).unwrap_or_default(),
            r.map(|r| r.duration_ms.to_string()).unwrap_or_default(),
            r.map(|r| r.run_id.clone()).unwrap_or_default(),
        ]);
    }
    crate::table::render(&rows)
}
