//! Opening a PostgreSQL connection ourselves (tokio-postgres's `connect_raw`), so the socket
//! gets TCP keepalive and the read timeout (`watch.rs`), and each session its
//! statement_timeout. Hosts are tried in order, as libpq does; cancel requests go the same way.
//! (Not `Config::connect`: it offers no hook for the socket without TLS.)

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::task::JoinHandle;
use tokio_postgres::config::Host;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::error::message;
use super::watch::{Watch, Watched};
use crate::connectors::timeouts::{show, Timeouts};
use crate::error::{EtlError, Result};

/// The socket of a session: TCP, or a Unix domain socket.
pub enum Raw {
    Tcp(tokio::net::TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Raw::Tcp($s) => $e,
            #[cfg(unix)]
            Raw::Unix($s) => $e,
        }
    };
}

impl AsyncRead for Raw {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        each!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Raw {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        each!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        each!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// Keepalive probes after the idle time: every 10 s, 6 unanswered ones end the connection.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 6;
/// How long a cancel request may take to connect (it is sent from a dropping connection).
const CANCEL_CONNECT: Duration = Duration::from_secs(2);

/// Everything needed to open one more connection of a pool.
pub struct Opener {
    pub name: String,
    pub pg: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    pub timeouts: Timeouts,
    /// `user@host:port/db`, for messages.
    pub display: String,
    /// Sessions of this pool that ended under a statement (a timeout, a lost connection).
    pub losses: Arc<AtomicU64>,
}

/// An open session and the task doing its socket I/O (aborted when the session is dropped).
pub struct Session {
    pub client: tokio_postgres::Client,
    task: JoinHandle<()>,
    /// `Opener::losses` when it was opened.
    pub losses_seen: u64,
    /// What the read timeout knows of the session (its backend key among it).
    pub watch: Arc<Watch>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Opener {
    /// Connects, authenticates and sets up the session, within the connect timeout.
    pub async fn open(&self) -> Result<Session> {
        let limit = self.pg.get_connect_timeout().copied();
        let open = self.open_unbounded();
        match limit {
            Some(limit) => tokio::time::timeout(limit, open).await.unwrap_or_else(|_| {
                Err(EtlError::db(
                    &self.name,
                    format!(
                        "no answer from the server within {} (connect_timeout)",
                        show(limit)
                    ),
                ))
            }),
            None => open.await,
        }
    }

    async fn open_unbounded(&self) -> Result<Session> {
        let losses_seen = self.losses.load(Ordering::Relaxed);
        let (raw, host) = self.socket().await?;
        let watch = Watch::new(
            self.timeouts.read_limit(),
            format!("connection '{}' ({})", self.name, self.display),
            self.timeouts.describe(),
            self.losses.clone(),
        );
        let mut make = self.tls.clone();
        let tls = WatchedTls {
            inner: MakeTlsConnect::<Watched<Raw>>::make_tls_connect(&mut make, &host)
                .expect("infallible"),
            watch: watch.clone(),
        };
        let (client, connection) = self
            .pg
            .connect_raw(Watched::new(raw, watch.clone()), tls)
            .await
            .map_err(|e| EtlError::db(&self.name, message(&e)))?;
        let name = self.name.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(connection = %name, "PostgreSQL connection ended: {e}");
            }
        });
        let session = Session {
            client,
            task,
            losses_seen,
            watch,
        };
        if let Some(t) = self.timeouts.statement {
            let set = format!("SET statement_timeout = {}", t.as_millis().max(1));
            session
                .client
                .batch_execute(&set)
                .await
                .map_err(|e| EtlError::db(&self.name, format!("{set}: {}", message(&e))))?;
        }
        Ok(session)
    }

    /// A socket to the first host that accepts one, with keepalive set; and the host name
    /// for TLS.
    pub async fn socket(&self) -> Result<(Raw, String)> {
        // Owned: a borrow of the config held across an await makes the future not Send.
        let hosts = self.pg.get_hosts().to_vec();
        let ports = self.pg.get_ports().to_vec();
        let addrs = self.pg.get_hostaddrs().to_vec();
        let mut errors = Vec::new();
        for (i, host) in hosts.iter().enumerate() {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                Host::Tcp(h) => {
                    let connected = match addrs.get(i) {
                        Some(ip) => tokio::net::TcpStream::connect((*ip, port)).await,
                        None => tokio::net::TcpStream::connect((h.as_str(), port)).await,
                    };
                    match connected.and_then(|s| self.tune(s)) {
                        Ok(s) => return Ok((Raw::Tcp(s), h.clone())),
                        Err(e) => errors.push(format!("{h}:{port}: {e}")),
                    }
                }
                #[cfg(unix)]
                Host::Unix(dir) => {
                    let path = dir.join(format!(".s.PGSQL.{port}"));
                    match tokio::net::UnixStream::connect(&path).await {
                        Ok(s) => return Ok((Raw::Unix(s), String::new())),
                        Err(e) => errors.push(format!("{}: {e}", path.display())),
                    }
                }
                #[cfg(not(unix))]
                Host::Unix(dir) => errors.push(format!("{}: no Unix sockets here", dir.display())),
            }
        }
        if hosts.is_empty() {
            errors.push("the URL names no host".into());
        }
        Err(EtlError::db(
            &self.name,
            format!("error connecting to server: {}", errors.join("; ")),
        ))
    }

    fn tune(&self, s: tokio::net::TcpStream) -> std::io::Result<tokio::net::TcpStream> {
        s.set_nodelay(true)?;
        if let Some(idle) = self.timeouts.keepalive_idle {
            let interval = self
                .pg
                .get_keepalives_interval()
                .unwrap_or(KEEPALIVE_INTERVAL);
            let retries = self
                .pg
                .get_keepalives_retries()
                .unwrap_or(KEEPALIVE_RETRIES);
            let ka = socket2::TcpKeepalive::new()
                .with_time(idle)
                .with_interval(interval)
                .with_retries(retries);
            socket2::SockRef::from(&s).set_tcp_keepalive(&ka)?;
        }
        Ok(s)
    }

    /// Asks the server to cancel the statement of backend `pid`: libpq's CancelRequest on a
    /// new plain socket (the server reads it before any TLS or authentication), sent before
    /// this returns, so a cancelled run's process cannot exit before it went out.
    pub fn cancel(&self, (pid, secret): (i32, i32)) {
        use std::io::Write;
        let mut request = Vec::with_capacity(16);
        for n in [16, 80877102, pid, secret] {
            request.extend_from_slice(&n.to_be_bytes());
        }
        let ports = self.pg.get_ports();
        let addrs = self.pg.get_hostaddrs();
        for (i, host) in self.pg.get_hosts().iter().enumerate() {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            let sent = match host {
                Host::Tcp(h) => {
                    let targets: Vec<std::net::SocketAddr> = match addrs.get(i) {
                        Some(ip) => vec![(*ip, port).into()],
                        None => std::net::ToSocketAddrs::to_socket_addrs(&(h.as_str(), port))
                            .map(Iterator::collect)
                            .unwrap_or_default(),
                    };
                    targets.iter().any(|a| {
                        std::net::TcpStream::connect_timeout(a, CANCEL_CONNECT)
                            .and_then(|mut s| s.write_all(&request))
                            .is_ok()
                    })
                }
                #[cfg(unix)]
                Host::Unix(dir) => {
                    std::os::unix::net::UnixStream::connect(dir.join(format!(".s.PGSQL.{port}")))
                        .and_then(|mut s| s.write_all(&request))
                        .is_ok()
                }
                #[cfg(not(unix))]
                Host::Unix(_) => false,
            };
            if sent {
                return;
            }
        }
    }
}

type RustlsConnect = <MakeRustlsConnect as MakeTlsConnect<Watched<Raw>>>::TlsConnect;

/// The rustls connector, with the read-timeout wrapper moved above TLS (where the bytes are
/// the protocol's) once the handshake begins.
struct WatchedTls {
    inner: RustlsConnect,
    watch: Arc<Watch>,
}

type TlsOf<S> = <RustlsConnect as TlsConnect<S>>::Stream;

impl TlsConnect<Watched<Raw>> for WatchedTls {
    type Stream = Watched<TlsOf<Watched<Raw>>>;
    type Error = <RustlsConnect as TlsConnect<Watched<Raw>>>::Error;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<Self::Stream, Self::Error>> + Send>>;

    fn connect(self, mut stream: Watched<Raw>) -> Self::Future {
        stream.set_opaque();
        let watch = self.watch;
        let handshake = self.inner.connect(stream);
        Box::pin(async move { Ok(Watched::new(handshake.await?, watch)) })
    }
}

impl<S: TlsStream + Unpin> TlsStream for Watched<S> {
    fn channel_binding(&self) -> ChannelBinding {
        self.get_ref().channel_binding()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::postgres::config;

    fn opener(url: &str) -> Opener {
        let s = config::parse(url, Timeouts::default()).expect("a URL");
        Opener {
            name: "dw".into(),
            pg: s.pg,
            tls: s.tls,
            timeouts: s.timeouts,
            display: s.display,
            losses: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The keepalive settings of a socket `opener` makes to a local listener.
    async fn keepalive_of(url: impl Fn(u16) -> String) -> Option<(Duration, Duration, u32)> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (raw, host) = opener(&url(port)).socket().await.expect("a socket");
        assert_eq!(host, "127.0.0.1");
        let Raw::Tcp(s) = raw else {
            panic!("a TCP socket")
        };
        let s = socket2::SockRef::from(&s);
        s.keepalive().unwrap().then(|| {
            (
                s.tcp_keepalive_time().unwrap(),
                s.tcp_keepalive_interval().unwrap(),
                s.tcp_keepalive_retries().unwrap(),
            )
        })
    }

    #[tokio::test]
    async fn sockets_have_keepalive_unless_turned_off() {
        assert_eq!(
            keepalive_of(|p| format!("postgres://u@127.0.0.1:{p}/db")).await,
            Some((
                Duration::from_secs(60),
                KEEPALIVE_INTERVAL,
                KEEPALIVE_RETRIES
            )),
            "on by default"
        );
        assert_eq!(
            keepalive_of(|p| format!(
                "postgres://u@127.0.0.1:{p}/db?keepalives_idle=15s&keepalives_interval=2&keepalives_retries=3"
            ))
            .await,
            Some((Duration::from_secs(15), Duration::from_secs(2), 3))
        );
        assert_eq!(
            keepalive_of(|p| format!("postgres://u@127.0.0.1:{p}/db?keepalives=0")).await,
            None
        );
    }

    #[tokio::test]
    async fn a_host_that_refuses_is_named_in_the_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = opener(&format!("postgres://u:secret@127.0.0.1:{port}/db"))
            .open()
            .await
            .err()
            .expect("refused")
            .to_string();
        assert!(
            e.contains("connection 'dw'") && e.contains(&format!("127.0.0.1:{port}")),
            "{e}"
        );
        assert!(!e.contains("secret"), "{e}");
    }
}
