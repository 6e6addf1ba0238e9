//! Connection URLs as etl reads them. One parser serves both connecting and masking, so what
//! a message hides is exactly what the connector uses as the password.
//!
//! `scheme://[user[:password]@]host[:port][,host...][/path][?key=value&...]`
//!
//! Passwords are often pasted unencoded, so the password may hold `/`, `?`, `#`, `:`, `&`,
//! `%` and `@`: the userinfo runs to the LAST `@` of the URL. The price: an `@` in the path or
//! in a parameter value must be written `%40`, and `&` in a parameter value `%26`
//! (docs/operations.md#passwords-in-urls). The drivers never split a URL themselves: the
//! PostgreSQL connector hands tokio-postgres a rebuilt URL with the user and password
//! percent-encoded, the MySQL connector builds its options from these parts.

use std::ops::Range;

/// The parts of a connection URL, each as written (still percent-encoded).
#[derive(Debug)]
pub struct Url<'a> {
    pub scheme: &'a str,
    pub user: Option<&'a str>,
    pub password: Option<&'a str>,
    /// `host[:port]`, a comma-separated list of them, or empty.
    pub host: &'a str,
    /// What follows the `/` after the host (None without a `/`).
    pub path: Option<&'a str>,
    pub params: Vec<Param<'a>>,
    /// Byte ranges of the source that are secret: the password, the values of `*password*`
    /// parameters, and query segments that are not `key=value` (a fragment of a value with an
    /// unencoded `&` could be a piece of a password).
    secrets: Vec<Range<usize>>,
}

/// One `key=value` of the query (`value` is None for a segment without `=`).
#[derive(Debug)]
pub struct Param<'a> {
    pub key: &'a str,
    pub value: Option<&'a str>,
}

impl Param<'_> {
    /// Whether the value is a secret: a key containing "password", in any case.
    pub fn is_secret(&self) -> bool {
        percent_decode(self.key)
            .to_ascii_lowercase()
            .contains("password")
    }

    /// `key=value` as written.
    pub fn as_written(&self) -> String {
        match self.value {
            Some(v) => format!("{}={v}", self.key),
            None => self.key.to_string(),
        }
    }
}

impl<'a> Url<'a> {
    /// Splits `s`; None when it has no `scheme://`.
    pub fn parse(s: &'a str) -> Option<Url<'a>> {
        let scheme_end = s.find("://")?;
        let start = scheme_end + 3;
        let rest = &s[start..];
        let mut secrets = Vec::new();
        let (mut user, mut password, mut hostpart) = (None, None, rest);
        if let Some(at) = rest.rfind('@') {
            let userinfo = &rest[..at];
            // A user name without a password holding `/` or `?` is a path or a query with an
            // unencoded `@`, not a user.
            if userinfo.contains(':') || !userinfo.contains(['/', '?']) {
                match userinfo.split_once(':') {
                    Some((u, p)) => {
                        user = Some(u);
                        password = Some(p);
                        let from = start + u.len() + 1;
                        secrets.push(from..start + at);
                    }
                    None => user = Some(userinfo),
                }
                hostpart = &rest[at + 1..];
            }
        }
        let host_end = hostpart.find(['/', '?']).unwrap_or(hostpart.len());
        let host = &hostpart[..host_end];
        let tail = &hostpart[host_end..];
        let (path, query) = match tail.strip_prefix('/') {
            Some(p) => match p.split_once('?') {
                Some((p, q)) => (Some(p), Some(q)),
                None => (Some(p), None),
            },
            None => (None, tail.strip_prefix('?')),
        };
        let mut params = Vec::new();
        if let Some(query) = query {
            let mut at = s.len() - query.len();
            for segment in query.split('&') {
                let param = match segment.split_once('=') {
                    Some((key, value)) => Param {
                        key,
                        value: Some(value),
                    },
                    None => Param {
                        key: segment,
                        value: None,
                    },
                };
                if param.value.is_none() && !segment.is_empty() {
                    secrets.push(at..at + segment.len());
                } else if param.is_secret() {
                    secrets.push(at + param.key.len() + 1..at + segment.len());
                }
                if !segment.is_empty() {
                    params.push(param);
                }
                at += segment.len() + 1;
            }
        }
        Some(Url {
            scheme: &s[..scheme_end],
            user,
            password,
            host,
            path,
            params,
            secrets,
        })
    }

    /// The user name, decoded.
    pub fn user_decoded(&self) -> Option<String> {
        self.user.map(percent_decode)
    }

    /// The password, decoded.
    pub fn password_decoded(&self) -> Option<String> {
        self.password.map(percent_decode)
    }
}

/// A URL safe to print: the password, every `*password*` parameter (any case) and any query
/// segment that is not `key=value` replaced by `***`. Without `scheme://`, `key=value` pairs
/// whose key contains "password" are masked.
pub fn mask_url(url: &str) -> String {
    let secrets = match Url::parse(url) {
        Some(u) => u.secrets,
        None => loose_secrets(url),
    };
    let mut out = String::with_capacity(url.len());
    let mut at = 0;
    for r in secrets {
        out.push_str(&url[at..r.start]);
        out.push_str("***");
        at = r.end;
    }
    out.push_str(&url[at..]);
    out
}

/// `password=...` values in text that is not a URL (`host=h password=x`).
fn loose_secrets(text: &str) -> Vec<Range<usize>> {
    let lower = text.to_ascii_lowercase();
    let mut secrets = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find("password") {
        let key_end = from + i + "password".len();
        let Some(eq) = lower[key_end..].find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        else {
            break;
        };
        let start = key_end + eq;
        if !text[start..].starts_with('=') {
            from = start;
            continue;
        }
        let end = text[start + 1..]
            .find(['&', ' ', ';', '\n'])
            .map_or(text.len(), |j| start + 1 + j);
        secrets.push(start + 1..end);
        from = end;
    }
    secrets
}

/// Decodes `%XX` escapes (user names, passwords, paths and parameters in URLs); a `%` not
/// followed by two hex digits stays as it is.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes every byte but letters, digits and `-._~`, so that a driver's parser reads the
/// value back exactly, whatever it splits on.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[path = "url_tests.rs"]
pub(crate) mod tests;
