//! The run modes and what each does to the connections a script gets and to its loads.

use std::sync::Arc;

use super::readonly::{ReadOnlySql, RefusedTarget, Skip, SkippedAudit};
use super::sample::{Sample, SampleRelations, ScratchTarget};
use crate::connectors::{Connection, ScratchNaming};
use crate::error::Result;
use crate::load::{run_load, LoadFigures, LoadRequest, LoadSpec};

/// `etl plan`'s side of a plan run: it is told what would be run instead of running it.
pub trait Planner: Send + Sync {
    /// A statement the current task would run on `connection`.
    fn statement(&self, connection: &str, what: String);
    /// Describes a load instead of running it; only reads (catalogs, counts, the audit table).
    fn load(&self, conn: &Connection, req: LoadRequest<'_>) -> Result<()>;
}

/// How a run treats the databases it reaches.
#[derive(Clone, Default)]
pub enum RunMode {
    /// `etl exec`, `etl backfill`, `etl schedule`: everything runs.
    #[default]
    Write,
    /// `--dry-run`: reads run; loads, statements and audit records are logged instead.
    Dry,
    /// `etl watch --limit N`: sources read at most N rows, loads and their audit records go to
    /// scratch, raw SQL is skipped, queries are read-only.
    Sample(Arc<Sample>),
    /// `etl plan`: loads are described, statements shown, queries read-only, nothing written.
    Plan(Arc<dyn Planner>),
}

impl RunMode {
    /// The connection as scripts of this mode see it.
    pub fn connection(&self, conn: Connection) -> Connection {
        let skip = match self {
            RunMode::Write => return conn,
            RunMode::Dry => Skip::Dry,
            RunMode::Plan(p) => Skip::Plan(p.clone()),
            RunMode::Sample(s) => Skip::Sample {
                scratch: s.scratch.clone(),
            },
        };
        let name = conn.name.clone();
        let mut out = conn.clone();
        out.sql = conn.sql.map(|inner| {
            Arc::new(ReadOnlySql {
                inner,
                connection: name.clone(),
                skip: skip.clone(),
            }) as _
        });
        match self {
            RunMode::Sample(sample) => {
                let naming = conn
                    .target
                    .as_ref()
                    .map(|t| t.scratch_naming())
                    .unwrap_or(ScratchNaming::Prefix);
                out.relations = conn.relations.map(|inner| {
                    Arc::new(SampleRelations {
                        inner,
                        sample: sample.clone(),
                        connection: name.clone(),
                        naming,
                    }) as _
                });
                out.target = conn.target.map(|inner| {
                    Arc::new(ScratchTarget {
                        inner,
                        sample: sample.clone(),
                    }) as _
                });
                out.audit = conn.audit.map(|a| a.relocated(&sample.scratch));
            }
            _ => {
                let why = match self {
                    RunMode::Plan(_) => "etl plan writes nothing",
                    _ => "a dry run writes nothing",
                };
                out.target = conn.target.map(|inner| {
                    Arc::new(RefusedTarget {
                        inner,
                        connection: name.clone(),
                        why,
                    }) as _
                });
                out.audit = conn.audit.map(|inner| {
                    Arc::new(SkippedAudit {
                        inner,
                        connection: name.clone(),
                        skip: skip.clone(),
                    }) as _
                });
            }
        }
        out
    }

    /// Carries out a `load()` call on a connection this mode wrapped.
    pub fn load(&self, conn: &Connection, req: LoadRequest<'_>) -> Result<LoadFigures> {
        match self {
            RunMode::Write => run_load(conn, req),
            RunMode::Dry => {
                tracing::info!(task = %req.task.task, table = %req.spec.into, "Dry run: would load {} into {}.", req.source.describe(), req.spec.into);
                Ok(LoadFigures {
                    table: req.spec.into.clone(),
                    ..LoadFigures::default()
                })
            }
            RunMode::Plan(planner) => {
                let table = req.spec.into.clone();
                planner.load(conn, req)?;
                Ok(LoadFigures {
                    table,
                    ..LoadFigures::default()
                })
            }
            RunMode::Sample(sample) => {
                let production = req.spec.into.clone();
                let naming = conn.target()?.scratch_naming();
                let spec = LoadSpec {
                    into: sample.target(&production, naming),
                    limit: sample.read_limit(req.spec.limit),
                    ..req.spec.clone()
                };
                let figures = run_load(conn, LoadRequest { spec, ..req })?;
                sample.mark_loaded(&conn.name, &production);
                Ok(figures)
            }
        }
    }

    /// The row limit of a read outside a load (`.rows()`, `.count()`, outputs).
    pub fn read_limit(&self, own: Option<u64>) -> Option<u64> {
        match self {
            RunMode::Sample(sample) => sample.read_limit(own),
            _ => own,
        }
    }

    /// Whether scripts of this run write nothing at all (dry runs and plans).
    pub fn writes_nothing(&self) -> bool {
        matches!(self, RunMode::Dry | RunMode::Plan(_))
    }
}
