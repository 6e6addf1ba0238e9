//! `odbc://` and `oracle://` URLs turned into an ODBC connection string, and what messages may
//! show of it.
//!
//! - `odbc://DSN`, `odbc://user:password@DSN`: a data source of odbc.ini.
//! - `odbc://?connection_string=Driver%3D...`: a full connection string. A secret in it is
//!   written only as `${VAR}`, expanded from the environment when connecting, so neither the
//!   URL nor any message carries it.
//! - `oracle://user:password@host:1521/SERVICE[?driver=NAME]`: Oracle's ODBC driver.
//!
//! Common parameters: `buffer_mb` (the byte budget of one read's column buffers).

use crate::connectors::url::{mask_url, percent_decode, Url};

/// The driver name Oracle's Instant Client ODBC package registers on Linux
/// (`odbc_update_ini.sh`); `?driver=` overrides it.
pub const ORACLE_DRIVER: &str = "Oracle 21 ODBC driver";

/// Column buffers of one read hold at most this many bytes unless `buffer_mb` says otherwise.
pub const DEFAULT_BUFFER_BYTES: usize = 8 << 20;

#[derive(Clone, Debug)]
pub struct Settings {
    /// The connection string with `${VAR}` still in it (expanded by `expand` when connecting).
    pub connection_string: String,
    /// For messages: DSN, user and host, never a secret.
    pub display: String,
    pub buffer_bytes: usize,
}

/// Keys of a connection string whose values are secrets.
const SECRET_KEYS: [&str; 5] = ["pwd", "password", "accesstoken", "token", "secret"];

/// The URL as messages show it: the password masked, and the secrets of a connection string
/// too (a literal one is refused, but the refusal must not print it).
pub fn masked_url(url: &str) -> String {
    let masked = mask_url(url);
    let key = "connection_string=";
    let Some(at) = masked.find(key) else {
        return masked;
    };
    let start = at + key.len();
    let end = masked[start..]
        .find('&')
        .map_or(masked.len(), |n| start + n);
    let cs = mask_connection_string(&percent_decode(&masked[start..end]));
    format!("{}{cs}{}", &masked[..start], &masked[end..])
}

pub fn parse(url: &str) -> Result<Settings, String> {
    let masked = masked_url(url);
    let u = Url::parse(url).ok_or_else(|| {
        format!("{masked}: expected odbc://DSN, odbc://user:password@DSN or odbc://?connection_string=...")
    })?;
    let mut explicit: Option<String> = None;
    let mut driver: Option<String> = None;
    let mut buffer_bytes = DEFAULT_BUFFER_BYTES;
    for p in &u.params {
        let Some(v) = p.value.map(percent_decode) else {
            return Err(format!("{masked}: a query segment is not key=value"));
        };
        if p.is_secret() {
            return Err(format!(
                "{masked}: the password goes before the host (odbc://user:password@DSN), not in a parameter"
            ));
        }
        match p.key.to_ascii_lowercase().as_str() {
            "connection_string" => explicit = Some(v),
            "driver" => driver = Some(v),
            "buffer_mb" => {
                let mb: usize = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=4096).contains(n))
                    .ok_or_else(|| format!("{masked}: buffer_mb must be 1..4096, not '{v}'"))?;
                buffer_bytes = mb << 20;
            }
            other => {
                return Err(format!(
                    "{masked}: unknown parameter '{other}' (known: connection_string, driver, buffer_mb)"
                ))
            }
        }
    }
    let (user, pass) = (u.user_decoded(), u.password_decoded());
    let mut parts: Vec<(String, String)> = Vec::new();
    let display;
    match u.scheme.to_ascii_lowercase().as_str() {
        "oracle" => {
            let service = u.path.map(percent_decode).filter(|s| !s.is_empty());
            let (Some(service), false) = (service, u.host.is_empty()) else {
                return Err(format!(
                    "{masked}: expected oracle://user:password@host:1521/SERVICE"
                ));
            };
            let host = percent_decode(u.host);
            let host = if host.contains(':') {
                host
            } else {
                format!("{host}:1521")
            };
            parts.push((
                "Driver".into(),
                driver.unwrap_or_else(|| ORACLE_DRIVER.to_string()),
            ));
            parts.push(("DBQ".into(), format!("//{host}/{service}")));
            display = format!("oracle {}@{host}/{service}", user.as_deref().unwrap_or(""));
        }
        _ => {
            if let Some(cs) = explicit {
                if !u.host.is_empty() {
                    return Err(format!(
                        "{masked}: give either a DSN (odbc://DSN) or ?connection_string=, not both"
                    ));
                }
                check_secrets(&cs).map_err(|e| format!("{masked}: {e}"))?;
                display = format!("odbc {}", mask_connection_string(&cs));
                let mut cs = cs;
                for (k, v) in [("UID", user), ("PWD", pass)] {
                    if let Some(v) = v {
                        cs = format!("{};{k}={}", cs.trim_end_matches(';'), cs_value(&v));
                    }
                }
                return Ok(Settings {
                    connection_string: cs,
                    display,
                    buffer_bytes,
                });
            }
            let dsn = percent_decode(u.host);
            if dsn.is_empty() {
                return Err(format!(
                    "{masked}: no data source: write odbc://DSN or odbc://?connection_string=..."
                ));
            }
            if let Some(d) = driver {
                parts.push(("Driver".into(), d));
            }
            parts.push(("DSN".into(), dsn.clone()));
            display = format!(
                "odbc {}{dsn}",
                user.as_deref().map(|u| format!("{u}@")).unwrap_or_default()
            );
        }
    }
    if let Some(user) = user {
        parts.push(("UID".into(), user));
    }
    if let Some(pass) = pass {
        parts.push(("PWD".into(), pass));
    }
    let connection_string = parts
        .iter()
        .map(|(k, v)| format!("{k}={}", cs_value(v)))
        .collect::<Vec<_>>()
        .join(";");
    Ok(Settings {
        connection_string,
        display,
        buffer_bytes,
    })
}

/// A connection-string value, in braces when it holds `;`, `{`, `}` or `=` (ODBC's quoting:
/// `}` doubled inside). A `${VAR}` reference is left as written, expanded later.
pub fn cs_value(v: &str) -> String {
    if v.contains([';', '{', '}', '=']) || v.starts_with(' ') || v.ends_with(' ') {
        format!("{{{}}}", v.replace('}', "}}"))
    } else {
        v.to_string()
    }
}

/// The `key=value` pairs of a connection string (braced values kept as written).
fn pairs(cs: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let b = cs.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let key_end = cs[i..].find('=').map_or(b.len(), |n| i + n);
        let key = cs[i..key_end].trim();
        let mut j = (key_end + 1).min(b.len());
        let start = j;
        if b.get(j) == Some(&b'{') {
            j += 1;
            while j < b.len() {
                if b[j] == b'}' {
                    if b.get(j + 1) == Some(&b'}') {
                        j += 2;
                        continue;
                    }
                    j += 1;
                    break;
                }
                j += 1;
            }
        }
        let end = cs[j..].find(';').map_or(b.len(), |n| j + n);
        if !key.is_empty() {
            out.push((key, &cs[start..end]));
        }
        i = end + 1;
    }
    out
}

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace(['_', ' '], "");
    SECRET_KEYS.iter().any(|s| k == *s)
}

/// A secret written into a connection string would end up in etl.toml and in messages.
fn check_secrets(cs: &str) -> Result<(), String> {
    for (k, v) in pairs(cs) {
        let v = v.trim();
        let reference = v.starts_with("${") && v.ends_with('}') && !v[2..v.len() - 1].contains('}');
        if is_secret_key(k) && !v.is_empty() && !reference {
            return Err(format!(
                "the connection string's {k} is written out; write it as {k}=${{SOME_VAR}} and set SOME_VAR in the environment"
            ));
        }
    }
    Ok(())
}

/// The connection string with every secret value shown as `***`.
pub fn mask_connection_string(cs: &str) -> String {
    pairs(cs)
        .into_iter()
        .map(|(k, v)| {
            if is_secret_key(k) {
                format!("{k}=***")
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// `${VAR}` references replaced by the environment's values (quoted as connection-string
/// values). The error names the variable, never a value.
pub fn expand(cs: &str) -> Result<String, String> {
    let mut out = String::with_capacity(cs.len());
    let mut rest = cs;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let Some(end) = rest[at..].find('}') else {
            return Err("unclosed ${ in the connection string".into());
        };
        let var = &rest[at + 2..at + end];
        let value = std::env::var(var).map_err(|_| {
            format!(
                "the connection string uses ${{{var}}}, but {var} is not set in the environment"
            )
        })?;
        out.push_str(&cs_value(&value));
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_urls_become_connection_strings() {
        let s = parse("odbc://warehouse").unwrap();
        assert_eq!(s.connection_string, "DSN=warehouse");
        let s = parse("odbc://ann:p%3Bw@warehouse?buffer_mb=2").unwrap();
        assert_eq!(s.connection_string, "DSN=warehouse;UID=ann;PWD={p;w}");
        assert_eq!(s.buffer_bytes, 2 << 20);
        assert!(!s.display.contains("p;w"), "{}", s.display);
    }

    #[test]
    fn connection_strings_take_secrets_only_from_the_environment() {
        let url = "odbc://?connection_string=Driver%3D%7BPostgreSQL%20Unicode%7D%3BServer%3Dh%3BPWD%3Dhunter2";
        let e = parse(url).unwrap_err();
        assert!(
            e.contains("PWD=${SOME_VAR}") && !e.contains("hunter2"),
            "{e}"
        );
        let url = "odbc://?connection_string=Driver%3D%7BPostgreSQL%20Unicode%7D%3BServer%3Dh%3BPWD%3D%24%7BETL_ODBC_TEST_PW%7D";
        let s = parse(url).unwrap();
        assert_eq!(
            s.display,
            "odbc Driver={PostgreSQL Unicode};Server=h;PWD=***"
        );
        std::env::set_var("ETL_ODBC_TEST_PW", "se;cret");
        assert_eq!(
            expand(&s.connection_string).unwrap(),
            "Driver={PostgreSQL Unicode};Server=h;PWD={se;cret}"
        );
        std::env::remove_var("ETL_ODBC_TEST_PW");
        let e = expand(&s.connection_string).unwrap_err();
        assert!(e.contains("ETL_ODBC_TEST_PW is not set"), "{e}");
    }

    #[test]
    fn oracle_urls_go_through_oracles_odbc_driver() {
        let s = parse("oracle://scott:tiger@db.example:1521/ORCLPDB1").unwrap();
        assert_eq!(
            s.connection_string,
            "Driver=Oracle 21 ODBC driver;DBQ=//db.example:1521/ORCLPDB1;UID=scott;PWD=tiger"
        );
        assert_eq!(s.display, "oracle scott@db.example:1521/ORCLPDB1");
        let s = parse("oracle://scott@db/XE?driver=Oracle%20in%20instantclient_23_5").unwrap();
        assert!(s
            .connection_string
            .starts_with("Driver=Oracle in instantclient_23_5;DBQ=//db:1521/XE"));
        assert!(parse("oracle://scott@db").is_err());
    }
}
