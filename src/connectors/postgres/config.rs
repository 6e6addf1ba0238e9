//! A `postgres://` URL turned into a tokio-postgres configuration and a rustls connector.
//! libpq's `sslmode` values are honoured (tokio-postgres itself only knows disable, prefer and
//! require), `sslrootcert` names a CA file, and `pool_size` is ours. No OpenSSL anywhere.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::connectors::timeouts::{self, Timeouts};
use crate::connectors::url::{mask_url, percent_decode, percent_encode, Url};

/// How the server's certificate is checked, after libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsCheck {
    /// disable: plain TCP.
    Off,
    /// allow / prefer / require: encrypted, the certificate is not checked (libpq does the same).
    Encrypt,
    /// verify-ca: the chain must lead to a trusted root; the host name is not compared.
    VerifyCa,
    /// verify-full: chain and host name.
    VerifyFull,
}

pub struct Settings {
    pub pg: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    pub check: TlsCheck,
    pub pool_size: usize,
    /// Statement and read timeouts, keepalive: etl.toml's `[connections]`, then the URL.
    pub timeouts: Timeouts,
    /// `user@host:port/db`, for messages (never the password).
    pub display: String,
}

const DEFAULT_POOL_SIZE: usize = 8;
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub fn parse(url: &str, defaults: Timeouts) -> Result<Settings, String> {
    let masked = mask_url(url);
    let u = Url::parse(url)
        .ok_or_else(|| format!("{masked}: expected postgres://USER:PASSWORD@HOST:5432/DB"))?;
    let mut passed: Vec<String> = Vec::new();
    let mut sslmode = "prefer".to_string();
    let mut rootcert: Option<String> = None;
    let mut pool_size = DEFAULT_POOL_SIZE;
    let mut timeouts = defaults;
    for p in &u.params {
        let Some(v) = p.value else {
            // tokio-postgres would echo it as an option name, and it may be a piece of a
            // password value holding an unencoded `&`.
            return Err(format!(
                "{masked}: a query segment is not key=value (write `&` in a value as %26)"
            ));
        };
        match p.key {
            "sslmode" => sslmode = v.to_ascii_lowercase(),
            "sslrootcert" => rootcert = Some(percent_decode(v)),
            "pool_size" | "pool_max_size" => {
                pool_size = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| {
                        format!("{masked}: pool_size must be a number from 1 to 1000, not '{v}'")
                    })?
            }
            k if timeouts::PARAMS.contains(&k) => {
                timeouts
                    .set(k, &percent_decode(v))
                    .map_err(|e| format!("{masked}: {e}"))?;
            }
            "sslcert" | "sslkey" | "sslpassword" => {
                return Err(format!(
                "{masked}: client certificates ({}) are not supported; use password authentication",
                p.key
            ))
            }
            _ => passed.push(p.as_written()),
        }
    }
    let check = match sslmode.as_str() {
        "disable" => TlsCheck::Off,
        "allow" | "prefer" => TlsCheck::Encrypt,
        // libpq: require with a root certificate behaves like verify-ca.
        "require" if rootcert.is_some() => TlsCheck::VerifyCa,
        "require" => TlsCheck::Encrypt,
        "verify-ca" => TlsCheck::VerifyCa,
        "verify-full" => TlsCheck::VerifyFull,
        other => {
            return Err(format!(
                "{masked}: sslmode '{other}' is not one of disable, allow, prefer, require, verify-ca, verify-full"
            ))
        }
    };
    let rebuilt = rebuild(&u, &passed);
    let mut pg: tokio_postgres::Config = rebuilt.parse().map_err(|e| format!("{masked}: {e}"))?;
    pg.ssl_mode(match (check, sslmode.as_str()) {
        (TlsCheck::Off, _) => SslMode::Disable,
        (TlsCheck::Encrypt, "allow" | "prefer") => SslMode::Prefer,
        _ => SslMode::Require,
    });
    if pg.get_application_name().is_none() {
        pg.application_name("etl");
    }
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    let tls = connector(check, rootcert.as_deref()).map_err(|e| format!("{masked}: {e}"))?;
    Ok(Settings {
        display: display(&pg),
        pg,
        tls,
        check,
        pool_size,
        timeouts,
    })
}

/// The URL for tokio-postgres, whose parser splits at the FIRST `@`: user and password
/// encoded, so that it reads them exactly as `Url` split them.
fn rebuild(u: &Url<'_>, params: &[String]) -> String {
    let mut out = format!("{}://", u.scheme.to_ascii_lowercase());
    if let Some(user) = u.user_decoded() {
        out.push_str(&percent_encode(&user));
        if let Some(pw) = u.password_decoded() {
            out.push(':');
            out.push_str(&percent_encode(&pw));
        }
        out.push('@');
    }
    out.push_str(u.host);
    if let Some(path) = u.path {
        out.push('/');
        out.push_str(path);
    }
    if !params.is_empty() {
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

fn display(pg: &tokio_postgres::Config) -> String {
    let host = match pg.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = pg.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{host}:{port}/{}",
        pg.get_user().unwrap_or(""),
        pg.get_dbname().unwrap_or("")
    )
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn connector(check: TlsCheck, rootcert: Option<&str>) -> Result<MakeRustlsConnect, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let config = match check {
        TlsCheck::Off | TlsCheck::Encrypt => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoCertificateCheck(provider())))
            .with_no_client_auth(),
        TlsCheck::VerifyCa | TlsCheck::VerifyFull => {
            let roots = Arc::new(roots(rootcert)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider())
                .build()
                .map_err(|e| format!("TLS setup: {e}"))?;
            if check == TlsCheck::VerifyCa {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
                    .with_no_client_auth()
            } else {
                builder.with_webpki_verifier(webpki).with_no_client_auth()
            }
        }
    };
    Ok(MakeRustlsConnect::new(config))
}

/// `sslrootcert=FILE` (PEM), `sslrootcert=system` or none: the Mozilla roots (webpki-roots).
fn roots(rootcert: Option<&str>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match rootcert {
        None | Some("system") => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            use rustls::pki_types::pem::PemObject;
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("sslrootcert {path}: {e}"))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("sslrootcert {path}: {e}"))?;
            if certs.is_empty() {
                return Err(format!(
                    "sslrootcert {path}: no PEM certificate in the file"
                ));
            }
            for c in certs {
                store
                    .add(c)
                    .map_err(|e| format!("sslrootcert {path}: {e}"))?;
            }
        }
    }
    Ok(store)
}

/// sslmode=require: encryption without authentication of the server, as libpq does it. The
/// handshake signatures are still verified, so the session key belongs to the presented key.
#[derive(Debug)]
struct NoCertificateCheck(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoCertificateCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// sslmode=verify-ca: the full chain check, minus the host name.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_libpq_sslmodes_and_strips_our_parameters() {
        let s = parse("postgres://etl:secret@db.example:6432/dw?sslmode=verify-full&pool_size=3&application_name=x", Timeouts::default()).unwrap();
        assert_eq!(s.check, TlsCheck::VerifyFull);
        assert_eq!(s.pg.get_ssl_mode(), SslMode::Require);
        assert_eq!(s.pool_size, 3);
        assert_eq!(s.display, "etl@db.example:6432/dw");
        assert_eq!(s.pg.get_application_name(), Some("x"));
        let s = parse("postgresql://postgres@127.0.0.1/x", Timeouts::default()).unwrap();
        assert_eq!(
            (s.check, s.pg.get_ssl_mode()),
            (TlsCheck::Encrypt, SslMode::Prefer)
        );
        assert_eq!(s.pg.get_application_name(), Some("etl"));
        assert_eq!(
            parse("postgres://h/x?sslmode=require", Timeouts::default())
                .unwrap()
                .check,
            TlsCheck::Encrypt
        );
        assert_eq!(
            parse("postgres://h/x?sslmode=disable", Timeouts::default())
                .unwrap()
                .pg
                .get_ssl_mode(),
            SslMode::Disable
        );
    }

    #[test]
    fn timeouts_and_keepalive_come_from_the_url_over_the_defaults() {
        use std::time::Duration;
        let defaults = Timeouts {
            statement: Some(Duration::from_secs(3600)),
            ..Timeouts::default()
        };
        let s = parse(
            "postgres://u@h/db?statement_timeout=2s&keepalives=0&application_name=a",
            defaults,
        )
        .unwrap();
        assert_eq!(s.timeouts.statement, Some(Duration::from_secs(2)));
        assert_eq!(s.timeouts.keepalive_idle, None);
        assert_eq!(s.pg.get_application_name(), Some("a"));
        let s = parse(
            "postgres://u@h/db?read_timeout=90s&keepalives_idle=15&keepalives_interval=3",
            defaults,
        )
        .unwrap();
        assert_eq!(s.timeouts.statement, Some(Duration::from_secs(3600)));
        assert_eq!(s.timeouts.read_limit(), Some(Duration::from_secs(90)));
        assert_eq!(s.timeouts.keepalive_idle, Some(Duration::from_secs(15)));
        assert_eq!(s.pg.get_keepalives_interval(), Some(Duration::from_secs(3)));
        let e = parse("postgres://u:secret@h/db?read_timeout=7", defaults)
            .err()
            .unwrap();
        assert!(
            e.contains("read_timeout needs a unit") && !e.contains("secret"),
            "{e}"
        );
    }

    #[test]
    fn errors_never_show_the_password() {
        let e = parse(
            "postgres://etl:secret@h/x?sslmode=bogus",
            Timeouts::default(),
        )
        .err()
        .unwrap();
        assert!(
            e.contains("sslmode 'bogus'") && !e.contains("secret"),
            "{e}"
        );
        let e = parse(
            "postgres://etl:secret@h/x?sslrootcert=/nonexistent.pem&sslmode=verify-ca",
            Timeouts::default(),
        )
        .err()
        .unwrap();
        assert!(
            e.contains("/nonexistent.pem") && !e.contains("secret"),
            "{e}"
        );
        let e = parse("postgres://etl:secret@h:notaport/x", Timeouts::default())
            .err()
            .unwrap();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn awkward_passwords_reach_the_driver_exactly_and_stay_out_of_errors() {
        use crate::connectors::url::tests::{pieces, AWKWARD};
        for pw in AWKWARD {
            let mut urls = vec![format!(
                "postgres://etl:{}@127.0.0.1:5433/dw",
                percent_encode(pw)
            )];
            if percent_decode(pw) == *pw {
                urls.push(format!("postgresql://etl:{pw}@127.0.0.1:5433/dw"));
            }
            for url in urls {
                let s = parse(&url, Timeouts::default()).unwrap_or_else(|e| panic!("{url}: {e}"));
                assert_eq!(s.pg.get_password(), Some(pw.as_bytes()), "{url}");
                assert_eq!(s.display, "etl@127.0.0.1:5433/dw", "{url}");
                for bad in [
                    "?sslmode=bogus",
                    "?pool_size=0",
                    "?sslpassword=x&sslmode=require",
                    "?a&b=c",
                ] {
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
