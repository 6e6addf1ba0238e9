//! Audit functions for custom loads, named as in the system `etl` replaces:
//! `create_etl_runs_table(conn)`, `insert_etl_runs_record(conn, map)` -> id,
//! `update_etl_runs_record(conn, id, map)`.

use std::sync::Arc;

use chrono::Utc;
use rhai::{Engine, Map};

use super::connection::Conn;
use super::{fail, Res};
use crate::audit::{AuditRecord, Status};
use crate::context::current_task;
use crate::script::host::Host;

pub fn register(engine: &mut Engine, host: &Arc<Host>) {
    let h = host.clone();
    engine.register_fn("create_etl_runs_table", move |c: Conn| -> Res<()> {
        c.open()?
            .audit()
            .map_err(fail)?
            .ensure(&h.task_io())
            .map_err(fail)
    });
    let h = host.clone();
    engine.register_fn(
        "insert_etl_runs_record",
        move |c: Conn, fields: Map| -> Res<i64> {
            let conn = c.open()?;
            let mut rec = defaults(&conn.name);
            apply(&mut rec, fields).map_err(fail)?;
            conn.audit()
                .map_err(fail)?
                .insert(&h.task_io(), &rec)
                .map_err(fail)
        },
    );
    let h = host.clone();
    engine.register_fn(
        "update_etl_runs_record",
        move |c: Conn, id: i64, fields: Map| -> Res<()> {
            let mut fields = Some(fields);
            c.open()?
                .audit()
                .map_err(fail)?
                .amend(&h.task_io(), id, &mut |rec| {
                    apply(rec, fields.take().unwrap_or_default())
                })
                .map_err(|e| fail(format!("update_etl_runs_record: {e}")))
        },
    );
}

/// A record pre-filled from the current run and task, so scripts give only what differs.
fn defaults(database: &str) -> AuditRecord {
    let mut rec = AuditRecord {
        status: Status::Running.as_str().into(),
        target_database: database.to_string(),
        start_script_execution_time: Some(Utc::now()),
        ..AuditRecord::default()
    };
    if let Some(t) = current_task() {
        rec.run_id = t.run.id.clone();
        rec.project = t.run.project.clone();
        rec.task = t.task.clone();
        rec.load_type = t.run.load_type.code().into();
        rec.environment = t.run.env.clone();
        rec.script_version = t.run.script_version.clone();
    }
    rec
}

fn apply(rec: &mut AuditRecord, fields: Map) -> Result<(), String> {
    for (k, v) in fields {
        let text = if v.is_unit() {
            None
        } else {
            Some(v.to_string())
        };
        rec.set(k.as_str(), text)?;
    }
    Ok(())
}
