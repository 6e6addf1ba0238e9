//! `send_email(#{ to, cc, subject, body, html, attach })`: a message from a task, sent with the
//! `[smtp]` settings of etl.toml. Attachments are paths relative to the project's folder (or
//! absolute, like the paths `output_csv` returns).

use std::sync::Arc;

use rhai::{Engine, Map};

use super::options::Options;
use super::{fail, Res};
use crate::context::current_task;
use crate::notify::compose::size;
use crate::notify::mailer::{self, Attachment, Mail};
use crate::notify::settings::check_address;
use crate::script::host::Host;

const OPTIONS: &[&str] = &["to", "cc", "subject", "body", "html", "attach"];

pub fn register(engine: &mut Engine, host: &Arc<Host>) {
    let h = host.clone();
    engine.register_fn("send_email", move |opts: Map| send_email(&h, opts));
}

/// Returns true when the message was sent, false when mail is off for this run
/// (`--no-notify`, the environment's `notify = false`) or in a dry run.
fn send_email(host: &Host, opts: Map) -> Res<bool> {
    let task = current_task().ok_or_else(|| fail("send_email() runs inside a task"))?;
    let mut o = Options::new("send_email()", opts, OPTIONS)?;
    let to = o.strings("to")?.unwrap_or_default();
    if to.is_empty() {
        return Err(fail("send_email(): 'to' names no recipient"));
    }
    let cc = o.strings("cc")?.unwrap_or_default();
    for a in to.iter().chain(&cc) {
        check_address(a).map_err(|e| fail(format!("send_email(): {e}")))?;
    }
    let subject = o
        .string("subject")?
        .ok_or_else(|| fail("send_email(): 'subject' is required"))?;
    let html = o.string("html")?;
    let text = o.string("body")?.unwrap_or_default();
    let paths = o.strings("attach")?.unwrap_or_default();
    let cap = host
        .config
        .smtp
        .as_ref()
        .map(|s| s.attach_max_bytes)
        .unwrap_or(crate::notify::config::DEFAULT_ATTACH_MAX_BYTES);
    let mut attachments = Vec::new();
    let mut total = 0u64;
    for p in &paths {
        let path = host
            .script_file(p)
            .map_err(|e| fail(format!("send_email(): attachment \"{p}\": {e}")))?;
        let bytes = std::fs::read(&path)
            .map_err(|e| fail(format!("send_email(): attachment {}: {e}", path.display())))?;
        total += bytes.len() as u64;
        if total > cap {
            return Err(fail(format!(
                "send_email(): the attachments add up to more than the {} limit ([smtp] attach_max_bytes in etl.toml)",
                size(cap)
            )));
        }
        attachments.push(Attachment {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.clone()),
            bytes,
        });
    }
    let recipients = to.join(", ");
    if task.run.dry_run {
        tracing::info!(task = %task.task, "Dry run: would send '{subject}' to {recipients}.");
        return Ok(false);
    }
    if !crate::notify::mail_enabled(&host.config, task.run.notify) {
        tracing::info!(task = %task.task, "Mail is off for this run (--no-notify or the environment's notify = false): '{subject}' to {recipients} not sent.");
        return Ok(false);
    }
    let mail = Mail {
        to,
        cc,
        subject: subject.clone(),
        text,
        html,
        attachments,
    };
    let smtp = host.config.smtp.as_ref();
    let io = host.task_io();
    io.handle
        .block_on(mailer::send(smtp, &mail, &io.cancel))
        .map_err(|e| {
            fail(format!(
                "send_email(): '{subject}' to {recipients} was not sent: {e}"
            ))
        })?;
    tracing::info!(task = %task.task, "Sent '{subject}' to {recipients}.");
    Ok(true)
}
