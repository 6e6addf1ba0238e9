//! An `mssql://` (or `sqlserver://`) URL turned into tiberius' configuration.
//!
//! `mssql://user:password@host:1433/database?encrypt=required&trust_server_certificate=true`
//!
//! - `auth=sql` (the default: user and password of the URL), `auth=entra` with
//!   `token_env=VAR` (an Entra ID / Azure AD access token read from the environment when
//!   connecting). Windows and integrated (Kerberos) logins are refused: on Linux tiberius
//!   needs the system's GSSAPI library for them, which this build does not link.
//! - `encrypt=required|on|off|not_supported` (default required), `trust_server_certificate`,
//!   `instance=NAME` (a named instance on a fixed port), `application_name`.
//! - `sub_microsecond=warn|fail`: datetime2(7)/time(7) values whose 100 ns digit is not zero
//!   cannot be held in microseconds: truncated with a warning per column (default), or the
//!   read fails naming the row.
//! - etl.toml's statement/read timeouts and the URL's `read_timeout`, as for every connector.

use tiberius::{AuthMethod, Config, EncryptionLevel};

use crate::connectors::timeouts::{self, Timeouts};
use crate::connectors::url::{mask_url, percent_decode, Url};

/// What to do with a value finer than a microsecond.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubMicros {
    Warn,
    Fail,
}

#[derive(Clone, Debug)]
pub enum Auth {
    Sql {
        user: String,
        password: String,
    },
    /// The name of the environment variable holding the token.
    Entra {
        token_env: String,
    },
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub database: Option<String>,
    pub instance: Option<String>,
    pub application_name: String,
    pub auth: Auth,
    pub encrypt: EncryptionLevel,
    pub trust_cert: bool,
    pub sub_micros: SubMicros,
    pub timeouts: Timeouts,
    /// `user@host:port/db`, for messages (never a secret).
    pub display: String,
}

const DEFAULT_PORT: u16 = 1433;

pub fn parse(url: &str, defaults: Timeouts) -> Result<Settings, String> {
    let masked = mask_url(url);
    let u = Url::parse(url)
        .ok_or_else(|| format!("{masked}: expected mssql://user:password@host:1433/database"))?;
    let (host, port) = match u.host.rsplit_once(':') {
        Some((h, p)) => (
            percent_decode(h),
            p.parse()
                .map_err(|_| format!("{masked}: port '{p}' is not a number"))?,
        ),
        None => (percent_decode(u.host), DEFAULT_PORT),
    };
    if host.is_empty() {
        return Err(format!(
            "{masked}: no host (mssql://user:password@host:1433/database)"
        ));
    }
    let database = u.path.map(percent_decode).filter(|d| !d.is_empty());
    let mut auth_kind = "sql".to_string();
    let mut token_env = None;
    let mut encrypt = EncryptionLevel::Required;
    let mut trust_cert = false;
    let mut instance = None;
    let mut application_name = "etl".to_string();
    let mut sub_micros = SubMicros::Warn;
    let mut timeouts = defaults;
    for p in &u.params {
        let Some(v) = p.value.map(percent_decode) else {
            return Err(format!("{masked}: a query segment is not key=value"));
        };
        if p.is_secret() {
            return Err(format!(
                "{masked}: the password goes before the host (mssql://user:password@host/db), not in a parameter"
            ));
        }
        let key = p.key.to_ascii_lowercase().replace('-', "_");
        if timeouts::PARAMS.contains(&key.as_str()) {
            timeouts
                .set(&key, &v)
                .map_err(|e| format!("{masked}: {e}"))?;
            continue;
        }
        let flag = || match v.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(true),
            "false" | "no" | "0" => Ok(false),
            _ => Err(format!("{masked}: {key} must be true or false, not '{v}'")),
        };
        match key.as_str() {
            "auth" | "authentication" => auth_kind = v.to_ascii_lowercase(),
            "token_env" => token_env = Some(v),
            "encrypt" => {
                encrypt = match v.to_ascii_lowercase().as_str() {
                    "required" | "strict" | "true" | "yes" | "mandatory" => EncryptionLevel::Required,
                    "on" => EncryptionLevel::On,
                    "off" | "false" | "no" | "optional" => EncryptionLevel::Off,
                    "not_supported" | "none" => EncryptionLevel::NotSupported,
                    _ => {
                        return Err(format!(
                            "{masked}: encrypt must be required, on, off or not_supported, not '{v}'"
                        ))
                    }
                }
            }
            "trust_server_certificate" | "trustservercertificate" => trust_cert = flag()?,
            "instance" => instance = Some(v),
            "application_name" | "app" => application_name = v,
            "sub_microsecond" => {
                sub_micros = match v.to_ascii_lowercase().as_str() {
                    "warn" => SubMicros::Warn,
                    "fail" => SubMicros::Fail,
                    _ => return Err(format!("{masked}: sub_microsecond must be warn or fail, not '{v}'")),
                }
            }
            other => {
                return Err(format!(
                    "{masked}: unknown parameter '{other}' (known: auth, token_env, encrypt, trust_server_certificate, instance, application_name, sub_microsecond, {})",
                    timeouts::PARAMS.join(", ")
                ))
            }
        }
    }
    let user = u.user_decoded().unwrap_or_default();
    let auth = match auth_kind.as_str() {
        "sql" | "sqlpassword" => {
            if user.is_empty() {
                return Err(format!(
                    "{masked}: SQL Server login needs a user (mssql://user:password@host/db), or auth=entra&token_env=VAR"
                ));
            }
            Auth::Sql {
                user: user.clone(),
                password: u.password_decoded().unwrap_or_default(),
            }
        }
        "entra" | "aad" | "azure_ad" | "token" => Auth::Entra {
            token_env: token_env.ok_or_else(|| {
                format!("{masked}: auth=entra needs token_env=VAR naming the environment variable that holds the access token")
            })?,
        },
        "windows" | "integrated" | "kerberos" | "ntlm" => {
            return Err(format!(
                "{masked}: auth={auth_kind} is not supported: on Linux tiberius needs the system's GSSAPI (Kerberos) library for Windows/integrated logins, which this build does not link; use a SQL login or auth=entra&token_env=VAR"
            ))
        }
        other => {
            return Err(format!(
                "{masked}: auth must be sql or entra, not '{other}'"
            ))
        }
    };
    let who = match &auth {
        Auth::Sql { user, .. } => format!("{user}@"),
        Auth::Entra { .. } => "entra@".into(),
    };
    let display = format!("{who}{host}:{port}/{}", database.as_deref().unwrap_or(""));
    Ok(Settings {
        host,
        port,
        database,
        instance,
        application_name,
        auth,
        encrypt,
        trust_cert,
        sub_micros,
        timeouts,
        display,
    })
}

impl Settings {
    /// tiberius' configuration; an Entra token is read from the environment here, on each
    /// connect (tokens expire; the variable may be refreshed between runs).
    pub fn config(&self) -> Result<Config, String> {
        let mut c = Config::new();
        c.host(&self.host);
        c.port(self.port);
        if let Some(db) = &self.database {
            c.database(db);
        }
        if let Some(i) = &self.instance {
            c.instance_name(i);
        }
        c.application_name(&self.application_name);
        c.encryption(self.encrypt);
        if self.trust_cert {
            c.trust_cert();
        }
        c.authentication(match &self.auth {
            Auth::Sql { user, password } => AuthMethod::sql_server(user, password),
            Auth::Entra { token_env } => {
                let token = std::env::var(token_env).map_err(|_| {
                    format!("auth=entra: the environment variable {token_env} (token_env) is not set; put an Entra ID access token for https://database.windows.net/ in it")
                })?;
                AuthMethod::aad_token(token.trim())
            }
        });
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_settings_without_showing_secrets() {
        let s = parse(
            "sqlserver://etl:p%40ss@db.example:14330/dw?trust_server_certificate=true&sub_microsecond=fail",
            Timeouts::default(),
        )
        .unwrap();
        assert_eq!((s.host.as_str(), s.port), ("db.example", 14330));
        assert_eq!(s.database.as_deref(), Some("dw"));
        assert!(s.trust_cert);
        assert_eq!(s.sub_micros, SubMicros::Fail);
        assert_eq!(s.display, "etl@db.example:14330/dw");
        assert!(matches!(&s.auth, Auth::Sql { password, .. } if password == "p@ss"));
    }

    #[test]
    fn entra_tokens_come_from_the_environment() {
        let s = parse(
            "mssql://x.database.windows.net/dw?auth=entra&token_env=ETL_MSSQL_TEST_TOKEN",
            Timeouts::default(),
        )
        .unwrap();
        std::env::remove_var("ETL_MSSQL_TEST_TOKEN");
        let e = s.config().unwrap_err();
        assert!(e.contains("ETL_MSSQL_TEST_TOKEN"), "{e}");
        std::env::set_var("ETL_MSSQL_TEST_TOKEN", "eyJ0");
        assert!(s.config().is_ok());
        std::env::remove_var("ETL_MSSQL_TEST_TOKEN");
    }

    #[test]
    fn unsupported_logins_are_refused_with_what_to_do() {
        let e = parse("mssql://h/db?auth=windows", Timeouts::default()).unwrap_err();
        assert!(e.contains("GSSAPI") && e.contains("auth=entra"), "{e}");
        let e = parse("mssql://h/db", Timeouts::default()).unwrap_err();
        assert!(e.contains("needs a user"), "{e}");
        let e = parse("mssql://u:pw@h/db?password=x", Timeouts::default()).unwrap_err();
        assert!(!e.contains("pw@") && !e.contains("=x"), "{e}");
    }
}
