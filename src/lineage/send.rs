//! Sending an event: a JSON line appended to the file, an HTTP POST to the endpoint. Each is
//! bounded by the timeout and only ever warns.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};

use serde_json::Value;

use super::LineageConfig;

/// Sends `event` where `[lineage]` says; a failure is logged as a warning and forgotten.
pub fn emit(config: &LineageConfig, event: &Value, api_key: Option<&str>) {
    let text = event.to_string();
    if let Some(path) = &config.file {
        if let Err(e) = append(path, &text) {
            tracing::warn!(
                "Lineage: cannot write the event to {}: {e} (the run goes on).",
                path.display()
            );
        }
    }
    if let Some(url) = &config.url {
        if let Err(e) = post(url, &text, api_key, config.timeout) {
            tracing::warn!("Lineage: cannot send the event to {url}: {e} (the run goes on).");
        }
    }
}

fn append(path: &std::path::Path, line: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // One write per line, so events of parallel tasks never interleave.
    f.write_all(format!("{line}\n").as_bytes())
}

/// A minimal HTTP/1.1 POST (`Connection: close`); success is a 2xx status.
fn post(
    url: &str,
    body: &str,
    api_key: Option<&str>,
    timeout: std::time::Duration,
) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// is supported")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let with_port = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("the host name has no address")?;
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let auth = api_key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{auth}Connection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let n = s.read(&mut head).map_err(|e| e.to_string())?;
    let status_line = String::from_utf8_lossy(&head[..n]);
    let code = status_line.split_whitespace().nth(1).unwrap_or("");
    if code.starts_with('2') {
        Ok(())
    } else {
        Err(format!(
            "the endpoint answered \"{}\"",
            status_line.lines().next().unwrap_or("").trim()
        ))
    }
}
