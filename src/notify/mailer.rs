//! Sending one message over SMTP (lettre, async, rustls): bounded time per attempt, a few
//! retries with a doubling delay for temporary failures, none for permanent refusals.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment as Part, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio_util::sync::CancellationToken;

use super::config::{SmtpConfig, TlsMode};

/// A file to attach.
#[derive(Clone, Debug)]
pub struct Attachment {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A message to send: a text part, optionally an HTML alternative, and attachments.
#[derive(Clone, Debug, Default)]
pub struct Mail {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// No usable `[smtp]` settings, or the password variable is missing.
    #[error("{0}")]
    Config(String),
    /// The message cannot be built (a bad address).
    #[error("{0}")]
    Message(String),
    /// The server could not be reached or did not accept the message.
    #[error("{server}: {message} (after {attempts} attempt{})", if *attempts == 1 { "" } else { "s" })]
    Send {
        server: String,
        attempts: u32,
        message: String,
    },
    #[error("cancelled")]
    Cancelled,
}

/// Each attempt gives up after this many `timeout`s at most, whatever the server does.
const ATTEMPT_TIMEOUTS: u32 = 3;

/// Sends `mail` with `smtp`; returns the number of attempts it took.
pub async fn send(
    smtp: Option<&SmtpConfig>,
    mail: &Mail,
    cancel: &CancellationToken,
) -> Result<u32, MailError> {
    let smtp = smtp.ok_or_else(|| {
        MailError::Config(
            "no mail server is configured: add an [smtp] section with a host to etl.toml".into(),
        )
    })?;
    let message = build(smtp, mail)?;
    let transport = transport(smtp)?;
    let server = smtp.describe();
    let attempts = smtp.retries + 1;
    let mut last = String::new();
    for attempt in 1..=attempts {
        let outcome = tokio::select! {
            r = tokio::time::timeout(smtp.timeout * ATTEMPT_TIMEOUTS, transport.send(message.clone())) => r,
            _ = cancel.cancelled() => return Err(MailError::Cancelled),
        };
        match outcome {
            Ok(Ok(_)) => return Ok(attempt),
            Ok(Err(e)) if e.is_permanent() => {
                return Err(MailError::Send {
                    server,
                    attempts: attempt,
                    message: format!("the server refused the message: {e}"),
                })
            }
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => {
                last = format!(
                    "no answer within {:.0}s",
                    (smtp.timeout * ATTEMPT_TIMEOUTS).as_secs_f64()
                )
            }
        }
        if attempt < attempts {
            let delay = smtp.retry_delay * 2u32.saturating_pow(attempt - 1);
            tracing::warn!(
                "Sending mail via {server} failed (attempt {attempt} of {attempts}): {last}; retrying in {:.1}s.",
                delay.as_secs_f64()
            );
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = cancel.cancelled() => return Err(MailError::Cancelled),
            }
        }
    }
    Err(MailError::Send {
        server,
        attempts,
        message: last,
    })
}

fn mailbox(address: &str, what: &str) -> Result<Mailbox, MailError> {
    address
        .trim()
        .parse()
        .map_err(|e| MailError::Message(format!("{what} '{address}' is not a valid address: {e}")))
}

/// The MIME message: text (+ HTML alternative), then the attachments.
fn build(smtp: &SmtpConfig, mail: &Mail) -> Result<Message, MailError> {
    let from = smtp.from.as_deref().ok_or_else(|| {
        MailError::Config("[smtp] from is not set (nor a user that is an address)".into())
    })?;
    if mail.to.is_empty() {
        return Err(MailError::Message("the message has no recipient".into()));
    }
    let mut builder = Message::builder()
        .from(mailbox(from, "[smtp] from")?)
        .subject(mail.subject.clone());
    for to in &mail.to {
        builder = builder.to(mailbox(to, "recipient")?);
    }
    for cc in &mail.cc {
        builder = builder.cc(mailbox(cc, "cc recipient")?);
    }
    let text = SinglePart::plain(mail.text.clone());
    let body = match &mail.html {
        Some(html) => MultiPart::alternative()
            .singlepart(text)
            .singlepart(SinglePart::html(html.clone())),
        None if mail.attachments.is_empty() => {
            return builder
                .singlepart(text)
                .map_err(|e| MailError::Message(e.to_string()))
        }
        None => MultiPart::mixed().singlepart(text),
    };
    let message = if mail.attachments.is_empty() {
        builder.multipart(body)
    } else {
        let mut mixed = if mail.html.is_some() {
            MultiPart::mixed().multipart(body)
        } else {
            body
        };
        for a in &mail.attachments {
            mixed = mixed
                .singlepart(Part::new(a.name.clone()).body(a.bytes.clone(), content_type(&a.name)));
        }
        builder.multipart(mixed)
    };
    message.map_err(|e| MailError::Message(e.to_string()))
}

fn content_type(name: &str) -> ContentType {
    let ext = name
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mime = match ext.as_str() {
        "csv" => "text/csv",
        "txt" | "log" => "text/plain",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/octet-stream",
    };
    ContentType::parse(mime).unwrap_or(ContentType::TEXT_PLAIN)
}

fn transport(smtp: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let tls_error =
        |e: lettre::transport::smtp::Error| MailError::Config(format!("[smtp] {}: {e}", smtp.host));
    let builder = match smtp.tls {
        TlsMode::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        TlsMode::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(tls_error)?
        }
        TlsMode::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(tls_error)?
        }
    };
    let builder = match (&smtp.ca_file, smtp.tls) {
        (Some(file), TlsMode::Starttls | TlsMode::Tls) => {
            let pem = std::fs::read(file).map_err(|e| {
                MailError::Config(format!("[smtp] ca_file {}: {e}", file.display()))
            })?;
            let cert = Certificate::from_pem(&pem).map_err(|e| {
                MailError::Config(format!("[smtp] ca_file {}: {e}", file.display()))
            })?;
            let params = TlsParameters::builder(smtp.host.clone())
                .add_root_certificate(cert)
                .build_rustls()
                .map_err(tls_error)?;
            builder.tls(if smtp.tls == TlsMode::Tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            })
        }
        _ => builder,
    };
    let mut builder = builder
        .port(smtp.port)
        .timeout(Some(smtp.timeout.max(Duration::from_millis(100))));
    if let Some(user) = &smtp.user {
        // Read at the last moment and handed to the transport only: never logged.
        let password = std::env::var(&smtp.password_env)
            .ok()
            .or_else(|| {
                smtp.password_from_dotenv
                    .as_ref()
                    .map(|s| s.expose().to_string())
            })
            .ok_or_else(|| {
            MailError::Config(format!(
                "[smtp] user is set but the password variable {} is not (set it in the environment or .env)",
                smtp.password_env
            ))
        })?;
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp() -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: 1,
            tls: TlsMode::None,
            user: None,
            from: Some("etl <etl@example.org>".into()),
            password_env: "ETL_TEST_NO_SUCH_VAR".into(),
            timeout: Duration::from_secs(1),
            retries: 0,
            retry_delay: Duration::ZERO,
            attach_max_bytes: 10,
            ca_file: None,
            password_from_dotenv: None,
        }
    }

    #[test]
    fn builds_text_html_and_attachments() {
        let mail = Mail {
            to: vec!["a@example.org".into()],
            subject: "Hello".into(),
            text: "plain".into(),
            html: Some("<p>html</p>".into()),
            attachments: vec![Attachment {
                name: "x.csv".into(),
                bytes: b"a,b\n1,2\n".to_vec(),
            }],
            ..Mail::default()
        };
        let raw = String::from_utf8(build(&smtp(), &mail).unwrap().formatted()).unwrap();
        assert!(raw.contains("Subject: Hello"), "{raw}");
        assert!(raw.contains("multipart/mixed") && raw.contains("multipart/alternative"));
        assert!(
            raw.contains("filename=\"x.csv\"") && raw.contains("text/csv"),
            "{raw}"
        );
        let bad = Mail {
            to: vec!["not an address".into()],
            ..mail
        };
        assert!(matches!(build(&smtp(), &bad), Err(MailError::Message(_))));
    }

    #[test]
    fn a_user_without_its_password_variable_is_a_configuration_error() {
        let mut s = smtp();
        s.user = Some("etl".into());
        let Err(err) = transport(&s) else {
            panic!("a missing password variable is an error")
        };
        let err = err.to_string();
        assert!(err.contains("ETL_TEST_NO_SUCH_VAR"), "{err}");
    }
}
