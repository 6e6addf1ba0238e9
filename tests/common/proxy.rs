//! A loopback TCP proxy for network fault tests: it listens on a free 127.0.0.1 port and
//! forwards every connection to a database server, until the test tells it to
//!
//! - `cut()`: close every open connection, both ways (new connections are forwarded again);
//! - `stall()`: stop forwarding on every open connection without closing it (bytes pile up in
//!   the kernel's buffers, then the senders block; new connections are forwarded normally);
//! - `slow(d)`: wait `d` before forwarding each chunk, on every connection, new ones included;
//! - `heal()`: forward normally again (stalled connections resume where they stopped).
//!
//! `upstream_bytes()` / `downstream_bytes()` count what was forwarded to and from the server,
//! so a test can inject a fault once a transfer is observably under way.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

const CHUNK: usize = 64 * 1024;

pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<thread::JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stopping: AtomicBool,
    upstream: AtomicU64,
    downstream: AtomicU64,
}

#[derive(Default)]
struct State {
    delay: Option<Duration>,
    /// Open connections: both sockets, and whether they are stalled.
    links: Vec<Arc<Link>>,
    accepted: usize,
}

struct Link {
    client: TcpStream,
    server: TcpStream,
    stalled: AtomicBool,
    closed: AtomicBool,
}

impl Proxy {
    /// Forwards 127.0.0.1:(a free port) to `target` (`host:port`).
    pub fn start(target: &str) -> Proxy {
        let target: SocketAddr = target
            .to_socket_addrs()
            .unwrap_or_else(|e| panic!("proxy target {target}: {e}"))
            .next()
            .expect("an address");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let acceptor = thread::spawn(move || accept(listener, target, s));
        Proxy {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// Forwards to the host and port of a database URL (`scheme://user@host:port/db`).
    pub fn for_url(url: &str) -> Proxy {
        Proxy::start(&host_port(url))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `url` with its host and port replaced by the proxy's, the rest kept.
    pub fn url(&self, url: &str) -> String {
        url.replacen(&host_port(url), &format!("127.0.0.1:{}", self.port), 1)
    }

    pub fn cut(&self) {
        let links = std::mem::take(&mut self.shared.state.lock().unwrap().links);
        for l in links {
            l.close();
        }
        self.shared.changed.notify_all();
    }

    pub fn stall(&self) {
        for l in &self.shared.state.lock().unwrap().links {
            l.stalled.store(true, Ordering::SeqCst);
        }
    }

    pub fn slow(&self, per_chunk: Duration) {
        self.shared.state.lock().unwrap().delay = Some(per_chunk);
    }

    pub fn heal(&self) {
        let mut state = self.shared.state.lock().unwrap();
        state.delay = None;
        for l in &state.links {
            l.stalled.store(false, Ordering::SeqCst);
        }
        drop(state);
        self.shared.changed.notify_all();
    }

    /// Bytes forwarded from clients to the server so far.
    pub fn upstream_bytes(&self) -> u64 {
        self.shared.upstream.load(Ordering::SeqCst)
    }

    /// Bytes forwarded from the server to clients so far.
    pub fn downstream_bytes(&self) -> u64 {
        self.shared.downstream.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.state.lock().unwrap().accepted
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wakes the acceptor blocked in accept().
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        self.heal();
        self.cut();
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
    }
}

impl Link {
    /// Resets both sockets: with linger 0 the last close sends RST, so a server blocked
    /// writing into this connection fails at once instead of filling a buffer nobody reads.
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        for s in [&self.client, &self.server] {
            let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Closes a connection and lets go of its sockets (the pump threads drop theirs as they end).
fn close_link(shared: &Shared, link: &Arc<Link>) {
    link.close();
    shared
        .state
        .lock()
        .unwrap()
        .links
        .retain(|l| !Arc::ptr_eq(l, link));
    shared.changed.notify_all();
}

fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest).to_string()
}

fn accept(listener: TcpListener, target: SocketAddr, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let Ok(server) = TcpStream::connect(target) else {
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let link = Arc::new(Link {
            client: client.try_clone().expect("clone socket"),
            server: server.try_clone().expect("clone socket"),
            stalled: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        });
        {
            let mut state = shared.state.lock().unwrap();
            state.accepted += 1;
            state.links.push(link.clone());
        }
        let (s1, l1) = (shared.clone(), link.clone());
        let (s2, l2) = (shared.clone(), link);
        let (c2, srv2) = (
            client.try_clone().expect("clone socket"),
            server.try_clone().expect("clone socket"),
        );
        thread::spawn(move || pump(client, server, &s1, &l1, true));
        thread::spawn(move || pump(srv2, c2, &s2, &l2, false));
    }
}

/// Copies `from` to `to` chunk by chunk, honouring stalls and delays. The end of `from` is
/// passed on as the end of `to`'s stream; any error closes the whole connection, both ways,
/// as a failed link would (a peer left writing into a socket nobody reads would hang).
fn pump(mut from: TcpStream, mut to: TcpStream, shared: &Shared, link: &Arc<Link>, upstream: bool) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        wait_while_stalled(shared, link);
        let n = match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Err(_) => break,
            Ok(n) => n,
        };
        // A chunk read just before a stall is held, not forwarded.
        wait_while_stalled(shared, link);
        if link.closed.load(Ordering::SeqCst) {
            break;
        }
        let delay = shared.state.lock().unwrap().delay;
        if let Some(d) = delay {
            thread::sleep(d);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        let counter = if upstream {
            &shared.upstream
        } else {
            &shared.downstream
        };
        counter.fetch_add(n as u64, Ordering::SeqCst);
    }
    close_link(shared, link);
}

fn wait_while_stalled(shared: &Shared, link: &Link) {
    let mut state = shared.state.lock().unwrap();
    while link.stalled.load(Ordering::SeqCst) && !link.closed.load(Ordering::SeqCst) {
        state = shared.changed.wait(state).unwrap();
    }
}
