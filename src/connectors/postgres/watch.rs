//! The read timeout of a PostgreSQL connection: a stream wrapper that reads the server's
//! message framing to know when the server owes an answer (the client wrote something since
//! the last ReadyForQuery), and ends the connection when nothing moves either way for the
//! read limit meanwhile. A stalled network or a hung server then ends a statement instead of
//! blocking the run forever; an idle connection (in the pool, or between statements of a
//! transaction) is never timed.
//!
//! Under TLS the raw socket's wrapper goes quiet (`set_opaque`) and a second wrapper above the
//! TLS stream reads the plaintext. tokio-postgres reports the ended connection as "connection
//! closed"; `take_end` gives the reason to the error that reports it. The framing also yields
//! the session's BackendKeyData, which a dropped connection's cancel request needs.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// libpq's SSLRequest: length 8, code 80877103. The server answers it with one byte.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 4, 210, 22, 47];
/// The client's last message, Terminate.
const TERMINATE: [u8; 5] = [b'X', 0, 0, 0, 4];

/// What the wrappers of one connection share.
pub struct Watch {
    /// The read limit; None: never time.
    limit: Option<Duration>,
    /// Which connection, in the message of a timeout.
    what: String,
    /// The settings behind the limit, in that message.
    settings: String,
    /// Bumped when this connection ends under a statement: the pool's idle connections to the
    /// same server, opened before, are not trusted any more (`pool.rs`).
    losses: Arc<AtomicU64>,
    state: Mutex<State>,
}

struct State {
    /// The client wrote since the server's last ReadyForQuery.
    awaiting: bool,
    last_progress: Instant,
    /// The session's BackendKeyData (process id, secret key), for cancel requests.
    key: Option<(i32, i32)>,
}

impl Watch {
    pub fn new(
        limit: Option<Duration>,
        what: String,
        settings: String,
        losses: Arc<AtomicU64>,
    ) -> Arc<Watch> {
        Arc::new(Watch {
            limit,
            what,
            settings,
            losses,
            state: Mutex::new(State {
                awaiting: true,
                last_progress: Instant::now(),
                key: None,
            }),
        })
    }

    fn progress(&self, wrote: bool, ready: bool) {
        let mut s = self.state.lock().expect("watch lock");
        s.last_progress = Instant::now();
        if wrote {
            s.awaiting = true;
        }
        if ready {
            s.awaiting = false;
        }
    }

    /// The server's process id and secret key for this session, once it sent them.
    pub fn backend_key(&self) -> Option<(i32, i32)> {
        self.state.lock().expect("watch lock").key
    }

    /// Whether the server owes an answer.
    fn owed(&self) -> bool {
        self.state.lock().expect("watch lock").awaiting
    }

    /// When the connection times out if nothing moves (None: it is idle or never timed).
    fn deadline(&self) -> Option<Instant> {
        let limit = self.limit?;
        let s = self.state.lock().expect("watch lock");
        s.awaiting.then(|| s.last_progress + limit)
    }
}

/// Where the reader is in the server's stream of `type, length, body` messages.
#[derive(Default)]
struct Framing {
    /// The one-byte answer to an SSLRequest comes next.
    ssl_answer: bool,
    header: [u8; 5],
    header_len: usize,
    body_left: usize,
    in_ready: bool,
    /// The body of a BackendKeyData message being read, and the key once complete.
    key_body: Option<Vec<u8>>,
    key: Option<(i32, i32)>,
}

impl Framing {
    /// Consumes bytes read; true when a ReadyForQuery ended among them.
    fn feed(&mut self, mut buf: &[u8]) -> bool {
        let mut ready = false;
        while !buf.is_empty() {
            if self.ssl_answer {
                self.ssl_answer = false;
                buf = &buf[1..];
            } else if self.body_left > 0 {
                let n = self.body_left.min(buf.len());
                if let Some(body) = &mut self.key_body {
                    body.extend_from_slice(&buf[..n]);
                    if body.len() == 8 {
                        let int = |b: &[u8]| i32::from_be_bytes(b.try_into().expect("4 bytes"));
                        self.key = Some((int(&body[..4]), int(&body[4..])));
                        self.key_body = None;
                    }
                }
                self.body_left -= n;
                buf = &buf[n..];
                if self.body_left == 0 && self.in_ready {
                    ready = true;
                    self.in_ready = false;
                }
            } else {
                self.header[self.header_len] = buf[0];
                self.header_len += 1;
                buf = &buf[1..];
                if self.header_len == 5 {
                    self.header_len = 0;
                    let len = u32::from_be_bytes(self.header[1..5].try_into().expect("4 bytes"));
                    self.body_left = (len as usize).saturating_sub(4);
                    self.in_ready = self.header[0] == b'Z';
                    // Protocol 3.0's BackendKeyData: a 4-byte process id and secret key.
                    if self.header[0] == b'K' && self.body_left == 8 {
                        self.key_body = Some(Vec::with_capacity(8));
                    }
                    if self.body_left == 0 && self.in_ready {
                        ready = true;
                        self.in_ready = false;
                    }
                }
            }
        }
        ready
    }
}

/// A stream whose reads and writes keep `watch` up to date and which fails once the server
/// owed an answer and nothing moved for the read limit.
pub struct Watched<S> {
    inner: S,
    watch: Arc<Watch>,
    /// False under TLS for the raw socket: its bytes are ciphertext.
    framed: bool,
    framing: Framing,
    wrote_any: bool,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, watch: Arc<Watch>) -> Watched<S> {
        Watched {
            inner,
            watch,
            framed: true,
            framing: Framing::default(),
            wrote_any: false,
            timer: None,
        }
    }

    /// The raw socket under TLS: its bytes no longer tell anything.
    pub fn set_opaque(&mut self) {
        self.framed = false;
        self.timer = None;
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Called when the inner stream is not ready: Ready(error) once the deadline passed,
    /// otherwise Pending with the timer set to wake the task at the deadline.
    fn check(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        if !self.framed {
            return Poll::Pending;
        }
        let Some(deadline) = self.watch.deadline() else {
            self.timer = None;
            return Poll::Pending;
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        match timer.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                let limit = self.watch.limit.unwrap_or_default();
                let reason = format!(
                    "no progress on {} for {} while the server owed an answer ({}): the network or the server stalled, and the connection was dropped; {}",
                    self.watch.what,
                    crate::connectors::timeouts::show(limit),
                    self.watch.settings,
                    crate::connectors::timeouts::RAISE
                );
                self.watch.losses.fetch_add(1, Ordering::Relaxed);
                record_end(reason.clone());
                Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, reason))
            }
        }
    }
}

impl<S> Watched<S> {
    /// The socket ended under a statement: tokio-postgres will only say "connection closed",
    /// so the reason (naming the connection) is kept for the error that reports it.
    fn ended(&self, how: &str) {
        if self.framed && self.watch.owed() {
            self.watch.losses.fetch_add(1, Ordering::Relaxed);
            record_end(format!(
                "{} ended while the server owed an answer: {how}",
                self.watch.what
            ));
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                if self.framed && !read.is_empty() {
                    let ready = self.framing.feed(read);
                    if let Some(key) = self.framing.key.take() {
                        self.watch.state.lock().expect("watch lock").key = Some(key);
                    }
                    self.watch.progress(false, ready);
                } else if self.framed {
                    self.ended("the server or the network closed it");
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => {
                self.ended(&e.to_string());
                Poll::Ready(Err(e))
            }
            Poll::Pending => self.check(cx).map(Err),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if self.framed && n > 0 {
                    if !self.wrote_any && buf.starts_with(&SSL_REQUEST) {
                        self.framing.ssl_answer = true;
                    }
                    self.wrote_any = true;
                    // After Terminate the server owes nothing; it just closes the socket.
                    let terminate = buf[..n].ends_with(&TERMINATE);
                    self.watch.progress(!terminate, terminate);
                    // The connection task may have polled the read side before this write,
                    // when nothing was owed: the timer must wake it all the same.
                    let _ = self.check(cx);
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => {
                self.ended(&e.to_string());
                Poll::Ready(Err(e))
            }
            Poll::Pending => self.check(cx).map(Err),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Pending => self.check(cx).map(Err),
            done => done,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Why connections ended under a statement (the read timeout, a cut), not yet reported; the
/// error that reports the closed connection takes one. Kept for a minute, as a closed
/// connection long after has another cause.
static ENDS: Mutex<Vec<(Instant, String)>> = Mutex::new(Vec::new());

fn record_end(reason: String) {
    let mut s = ENDS.lock().unwrap_or_else(|p| p.into_inner());
    s.retain(|(at, _)| at.elapsed() < Duration::from_secs(60));
    s.push((Instant::now(), reason));
}

/// Why a connection ended under a statement, for the error saying it closed.
pub fn take_end() -> Option<String> {
    let mut s = ENDS.lock().unwrap_or_else(|p| p.into_inner());
    s.retain(|(at, _)| at.elapsed() < Duration::from_secs(60));
    (!s.is_empty()).then(|| s.remove(0).1)
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
