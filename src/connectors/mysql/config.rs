//! A `mysql://` (or `mariadb://`) URL turned into mysql_async options and our own settings.
//!
//! `mysql://user:pass@host:port/db?ssl-mode=required&pool_size=8&tinyint1_as_bool=false&zero_dates=fail`
//!
//! Every connection is set up the same way: utf8mb4 (the server converts latin1 and other
//! column charsets), `time_zone = '+00:00'` (TIMESTAMP values arrive in UTC) and generous
//! network timeouts (a result the load reads slowly is not cut off by the server).

use std::time::Duration;

use mysql_async::{OptsBuilder, PoolConstraints, PoolOpts, SslOpts};

use crate::connectors::timeouts::{self, Timeouts};
use crate::connectors::url::{mask_url, percent_decode, Url};

/// What to do with `0000-00-00` and other dates that are not calendar dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZeroDates {
    /// NULL, counted, and a warning per column at the end of the read.
    Null,
    /// The read fails naming the column and row.
    Fail,
}

pub struct Settings {
    pub opts: mysql_async::Opts,
    pub tinyint1_as_bool: bool,
    pub zero_dates: ZeroDates,
    /// Statement and read timeouts, keepalive: etl.toml's `[connections]`, then the URL.
    pub timeouts: Timeouts,
    /// `user@host:port/db`, for messages (never the password).
    pub display: String,
}

const DEFAULT_POOL_SIZE: usize = 8;
const DEFAULT_PORT: u16 = 3306;

/// Session setup run on every new (and every reset) connection.
pub const SESSION_SETUP: [&str; 2] = [
    "SET NAMES utf8mb4",
    "SET time_zone = '+00:00', net_write_timeout = 3600, net_read_timeout = 3600",
];

pub fn parse(url: &str, defaults: Timeouts) -> Result<Settings, String> {
    let masked = mask_url(url);
    let u = Url::parse(url)
        .ok_or_else(|| format!("{masked}: expected mysql://user:password@host:port/database"))?;
    if u.scheme != "mysql" && u.scheme != "mariadb" {
        return Err(format!("{masked}: not a mysql:// or mariadb:// URL"));
    }
    let (user, pass) = (u.user_decoded(), u.password_decoded());
    let (host, port) = split_host_port(u.host).map_err(|e| format!("{masked}: {e}"))?;
    let database = u.path.map(percent_decode).filter(|d| !d.is_empty());
    let mut ssl_mode = "disabled".to_string();
    let mut ssl_ca: Option<String> = None;
    let mut pool_size = DEFAULT_POOL_SIZE;
    let mut tinyint1_as_bool = true;
    let mut zero_dates = ZeroDates::Null;
    let mut timeouts = defaults;
    for p in &u.params {
        let Some(v) = p.value.map(percent_decode) else {
            return Err(format!(
                "{masked}: a query segment is not key=value (write `&` in a value as %26)"
            ));
        };
        if p.is_secret() {
            return Err(format!(
                "{masked}: the password goes before the host (mysql://user:password@host/db), not in a parameter"
            ));
        }
        let key = p.key.to_ascii_lowercase().replace('-', "_");
        if timeouts::PARAMS.contains(&key.as_str()) {
            timeouts
                .set(&key, &v)
                .map_err(|e| format!("{masked}: {e}"))?;
            continue;
        }
        match key.replace('_', "-").as_str() {
            "ssl-mode" | "sslmode" => ssl_mode = v.to_ascii_lowercase().replace('-', "_"),
            "ssl-ca" | "sslrootcert" => ssl_ca = Some(v),
            "pool-size" => {
                pool_size = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| format!("{masked}: pool_size must be a number from 1 to 1000, not '{v}'"))?
            }
            "tinyint1-as-bool" => {
                tinyint1_as_bool = parse_bool(&v)
                    .ok_or_else(|| format!("{masked}: tinyint1_as_bool must be true or false, not '{v}'"))?
            }
            "zero-dates" => {
                zero_dates = match v.to_ascii_lowercase().as_str() {
                    "null" => ZeroDates::Null,
                    "fail" | "error" => ZeroDates::Fail,
                    _ => return Err(format!("{masked}: zero_dates must be null or fail, not '{v}'")),
                }
            }
            other => {
                return Err(format!(
                    "{masked}: unknown parameter '{other}' (known: ssl-mode, ssl-ca, pool_size, tinyint1_as_bool, zero_dates, statement_timeout, read_timeout, keepalives, keepalives_idle)"
                ))
            }
        }
    }
    let ssl = match ssl_mode.as_str() {
        "disabled" | "disable" => None,
        "required" | "require" | "preferred" | "prefer" => Some(
            SslOpts::default()
                .with_danger_accept_invalid_certs(true)
                .with_danger_skip_domain_validation(true),
        ),
        "verify_ca" => Some(SslOpts::default().with_danger_skip_domain_validation(true)),
        "verify_identity" | "verify_full" => Some(SslOpts::default()),
        other => {
            return Err(format!(
                "{masked}: ssl-mode '{other}' is not one of disabled, required, verify_ca, verify_identity"
            ))
        }
    };
    let ssl = match (ssl, ssl_ca) {
        (Some(s), Some(ca)) => Some(s.with_root_certs(vec![std::path::PathBuf::from(ca).into()])),
        (s, _) => s,
    };
    let constraints = PoolConstraints::new(0, pool_size).expect("0 <= pool_size");
    let builder = OptsBuilder::default()
        .ip_or_hostname(host.clone())
        .tcp_port(port)
        .user(user.clone())
        .pass(pass)
        .db_name(database.clone())
        .ssl_opts(ssl)
        .prefer_socket(false)
        .tcp_nodelay(true)
        .tcp_keepalive(
            timeouts
                .keepalive_idle
                .map(|d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX)),
        )
        .setup(setup(&timeouts))
        .pool_opts(
            PoolOpts::default()
                .with_constraints(constraints)
                .with_inactive_connection_ttl(Duration::from_secs(60)),
        );
    Ok(Settings {
        opts: builder.into(),
        tinyint1_as_bool,
        zero_dates,
        timeouts,
        display: format!(
            "{}@{host}:{port}/{}",
            user.as_deref().unwrap_or(""),
            database.as_deref().unwrap_or("")
        ),
    })
}

/// The session setup, with the statement timeout when one is set: MariaDB's
/// `max_statement_time` (every statement) and MySQL's `max_execution_time` (SELECTs only), each
/// in an executable comment only that server runs.
fn setup(t: &Timeouts) -> Vec<String> {
    let mut setup: Vec<String> = SESSION_SETUP.iter().map(|s| s.to_string()).collect();
    if let Some(d) = t.statement {
        setup.push(format!(
            "SET @etl_statement_timeout = {ms} /*!50708 , SESSION max_execution_time = {ms} */ /*M!100108 , SESSION max_statement_time = {secs} */",
            ms = d.as_millis().max(1),
            secs = d.as_secs_f64()
        ));
    }
    setup
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn split_host_port(hostport: &str) -> Result<(String, u16), String> {
    if hostport.is_empty() {
        return Ok(("localhost".into(), DEFAULT_PORT));
    }
    // [::1]:3306
    if let Some(rest) = hostport.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or("unclosed '[' in the host")?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| format!("bad port '{p}'"))?,
            None => DEFAULT_PORT,
        };
        return Ok((h.to_string(), port));
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) => Ok((
            h.to_string(),
            p.parse().map_err(|_| format!("bad port '{p}'"))?,
        )),
        None => Ok((hostport.to_string(), DEFAULT_PORT)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_options() {
        let s = parse("mysql://etl:p%40ss@db.example:3307/shop?pool_size=3&tinyint1_as_bool=false&zero_dates=fail", Timeouts::default()).unwrap();
        assert_eq!(s.display, "etl@db.example:3307/shop");
        assert_eq!(s.opts.pass(), Some("p@ss"));
        assert_eq!(s.opts.tcp_port(), 3307);
        assert_eq!(s.opts.pool_opts().constraints().max(), 3);
        assert!(!s.tinyint1_as_bool);
        assert_eq!(s.zero_dates, ZeroDates::Fail);
        assert!(s.opts.ssl_opts().is_none());
        let s = parse(
            "mariadb://root@127.0.0.1/x?ssl-mode=REQUIRED",
            Timeouts::default(),
        )
        .unwrap();
        assert!(s.opts.ssl_opts().is_some());
        assert!(s.tinyint1_as_bool);
        assert_eq!(s.zero_dates, ZeroDates::Null);
    }

    #[test]
    fn timeouts_and_keepalive_come_from_the_url_over_the_defaults() {
        use std::time::Duration;
        let s = parse("mysql://u@h/db", Timeouts::default()).unwrap();
        assert_eq!(
            s.opts.tcp_keepalive(),
            Some(60_000),
            "keepalive on by default"
        );
        assert_eq!(
            s.opts.setup().len(),
            SESSION_SETUP.len(),
            "no statement timeout"
        );
        let defaults = Timeouts {
            statement: Some(Duration::from_secs(3600)),
            ..Timeouts::default()
        };
        let s = parse(
            "mysql://u@h/db?statement-timeout=1.5s&keepalives_idle=20s",
            defaults,
        )
        .unwrap();
        assert_eq!(s.timeouts.statement, Some(Duration::from_millis(1500)));
        assert_eq!(s.opts.tcp_keepalive(), Some(20_000));
        let last = s.opts.setup().last().unwrap();
        assert!(
            last.contains("max_execution_time = 1500 */")
                && last.contains("max_statement_time = 1.5 */"),
            "{last}"
        );
        let s = parse("mysql://u@h/db?keepalives=off&read_timeout=10min", defaults).unwrap();
        assert_eq!(s.opts.tcp_keepalive(), None);
        assert_eq!(s.timeouts.read_limit(), Some(Duration::from_secs(600)));
        let e = parse("mysql://u:secret@h/db?statement_timeout=30", defaults)
            .err()
            .unwrap();
        assert!(e.contains("needs a unit") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn errors_never_show_the_password() {
        for url in [
            "mysql://u:secret@h/db?ssl-mode=bogus",
            "mysql://u:secret@h/db?nope=1",
            "mysql://u:secret@h:port/db",
            "mysql://u@h/db?password=secret",
            "mysql://u:secret@h/db?a&b=c",
        ] {
            let e = parse(url, Timeouts::default()).err().expect("an error");
            assert!(!e.contains("secret"), "{e}");
            assert!(e.contains("***"), "{e}");
        }
    }

    #[test]
    fn awkward_passwords_reach_the_driver_exactly_and_stay_out_of_errors() {
        use crate::connectors::url::percent_encode;
        use crate::connectors::url::tests::{pieces, AWKWARD};
        for pw in AWKWARD {
            let mut urls = vec![format!(
                "mysql://etl:{}@127.0.0.1:3307/shop",
                percent_encode(pw)
            )];
            if percent_decode(pw) == *pw {
                urls.push(format!("mariadb://etl:{pw}@127.0.0.1:3307/shop"));
            }
            for url in urls {
                let s = parse(&url, Timeouts::default()).unwrap_or_else(|e| panic!("{url}: {e}"));
                assert_eq!(s.opts.pass(), Some(*pw), "{url}");
                assert_eq!(s.display, "etl@127.0.0.1:3307/shop", "{url}");
                for bad in ["?ssl-mode=bogus", "?nope=1", "?pool_size=x"] {
                    let e = parse(&format!("{url}{bad}"), Timeouts::default())
                        .err()
                        .expect("an error");
                    for piece in pieces(pw) {
                        assert!(!e.contains(&piece), "{piece:?} in {e}");
                    }
                }
            }
        }
    }
}
