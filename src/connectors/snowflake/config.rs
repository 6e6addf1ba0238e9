//! `snowflake://USER[:PASSWORD]@ACCOUNT/DB/SCHEMA?warehouse=..&role=..` parsed into settings;
//! nothing connects here.
//!
//! Authentication: the URL's password, or `private_key_file=PATH` (an unencrypted PKCS#8 PEM
//! key registered with `ALTER USER .. SET RSA_PUBLIC_KEY`) for key-pair JWT login.
//! `host=` and `protocol=http` point the connector elsewhere than
//! `ACCOUNT.snowflakecomputing.com` (a proxy, a private link, or the test emulator).

use crate::connectors::url::{percent_decode, Url};

#[derive(Clone, Debug)]
pub enum Auth {
    Password(String),
    KeyPair { pem_file: String },
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub account: String,
    pub user: String,
    pub auth: Auth,
    pub database: String,
    pub schema: Option<String>,
    pub warehouse: Option<String>,
    pub role: Option<String>,
    /// `https://ACCOUNT.snowflakecomputing.com` unless the URL says otherwise.
    pub base_url: String,
    /// Result chunks fetched at once.
    pub chunk_parallel: usize,
    /// What messages show: no password.
    pub display: String,
}

pub fn parse(url: &str) -> Result<Settings, String> {
    let example = "snowflake://USER[:PASSWORD]@ACCOUNT/DB/SCHEMA?warehouse=WH&role=ROLE";
    let u = Url::parse(url).ok_or_else(|| format!("not a URL (expected {example})"))?;
    let user = u
        .user_decoded()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("the URL names no user (expected {example})"))?;
    let account = percent_decode(u.host);
    if account.is_empty() {
        return Err(format!("the URL names no account (expected {example})"));
    }
    let path: Vec<String> = u
        .path
        .unwrap_or("")
        .split('/')
        .filter(|p| !p.is_empty())
        .map(percent_decode)
        .collect();
    let (database, schema) = match path.as_slice() {
        [db] => (db.clone(), None),
        [db, schema] => (db.clone(), Some(schema.clone())),
        _ => {
            return Err(format!(
                "the URL's path must be /DB or /DB/SCHEMA (expected {example})"
            ))
        }
    };
    let (mut warehouse, mut role, mut key, mut host, mut protocol) = (None, None, None, None, None);
    let mut chunk_parallel = 2;
    for p in &u.params {
        let value = p.value.map(percent_decode).unwrap_or_default();
        match p.key {
            "warehouse" => warehouse = Some(value),
            "role" => role = Some(value),
            "private_key_file" => key = Some(value),
            "host" => host = Some(value),
            "protocol" => protocol = Some(value),
            "chunk_parallel" => {
                chunk_parallel = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .ok_or_else(|| format!("chunk_parallel={value}: expected 1 to 64"))?
            }
            other => {
                return Err(format!(
                    "unknown URL parameter '{other}' (known: warehouse, role, private_key_file, host, protocol, chunk_parallel)"
                ))
            }
        }
    }
    let auth = match (u.password_decoded(), key) {
        (Some(_), Some(_)) => {
            return Err("give either a password or private_key_file, not both".into())
        }
        (Some(p), None) => Auth::Password(p),
        (None, Some(f)) => Auth::KeyPair { pem_file: f },
        (None, None) => {
            return Err("no credentials: put the password in the URL (from ETL_CONN_<NAME> or .env) or set private_key_file=PATH for key-pair login".into())
        }
    };
    let protocol = protocol.unwrap_or_else(|| "https".into());
    if protocol != "https" && protocol != "http" {
        return Err(format!("protocol={protocol}: expected https or http"));
    }
    let host = host.unwrap_or_else(|| format!("{account}.snowflakecomputing.com"));
    let display = format!(
        "{user}@{account}/{database}{}",
        schema.as_ref().map(|s| format!("/{s}")).unwrap_or_default()
    );
    Ok(Settings {
        account,
        user,
        auth,
        database,
        schema,
        warehouse,
        role,
        base_url: format!("{protocol}://{host}"),
        chunk_parallel,
        display,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_gives_account_database_schema_and_options() {
        let s = parse("snowflake://etl:p%40ss@xy12345/ANALYTICS/RAW?warehouse=LOAD_WH&role=ETL")
            .unwrap();
        assert_eq!(s.account, "xy12345");
        assert_eq!(s.database, "ANALYTICS");
        assert_eq!(s.schema.as_deref(), Some("RAW"));
        assert_eq!(s.warehouse.as_deref(), Some("LOAD_WH"));
        assert!(matches!(s.auth, Auth::Password(ref p) if p == "p@ss"));
        assert_eq!(s.base_url, "https://xy12345.snowflakecomputing.com");
        assert!(!s.display.contains("p@ss"));
    }

    #[test]
    fn missing_or_doubled_credentials_are_refused() {
        let e = parse("snowflake://etl@acct/DB").unwrap_err();
        assert!(e.contains("private_key_file"), "{e}");
        let e = parse("snowflake://etl:pw@acct/DB?private_key_file=k.p8").unwrap_err();
        assert!(e.contains("not both"), "{e}");
        let s =
            parse("snowflake://etl@acct/DB/S?private_key_file=k.p8&host=127.0.0.1:9&protocol=http")
                .unwrap();
        assert_eq!(s.base_url, "http://127.0.0.1:9");
        assert!(parse("snowflake://etl:pw@acct").is_err());
        assert!(parse("snowflake://etl:pw@acct/DB?colour=red").is_err());
    }
}
