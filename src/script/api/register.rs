//! Registers every domain of the script API on an engine; the error helper they share.

use std::sync::Arc;

use rhai::{Engine, EvalAltResult, Position};

use super::{
    audit, backfill, checks, connection, files, http, introspect, log, mail, project, relation,
    util, values,
};
use crate::script::host::Host;

pub fn register(engine: &mut Engine, host: &Arc<Host>) {
    values::register(engine);
    project::register(engine, host);
    connection::register(engine, host);
    relation::register(engine, host);
    files::register(engine, host);
    http::register(engine);
    audit::register(engine, host);
    checks::register(engine, host);
    log::register(engine);
    mail::register(engine, host);
    backfill::register(engine, host);
    introspect::register(engine);
    util::register(engine, host);
}

/// An error raised by an API function. Its position is left empty so Rhai fills in the
/// script line that made the call.
pub(crate) fn fail(message: impl std::fmt::Display) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.to_string().into(), Position::NONE).into()
}

pub(crate) type Res<T> = Result<T, Box<EvalAltResult>>;
