//! A local server speaking MS-TDS 7.4, one thread per connection: PRELOGIN (TLS as the
//! client asks: none, the login only, or all of it, the handshake inside PRELOGIN packets;
//! rustls with a self-signed certificate), LOGIN7 (a wrong password or Entra token gets error
//! 18456; a gateway mode routes the login elsewhere), then SQL
//! batches and RPC requests (sp_executesql, procedure id 10) answered from canned responses
//! (`tables.rs`). Every login and request is logged for the tests to inspect, with the
//! transaction descriptor the client sent in ALL_HEADERS. Not SQL Server: no SQL is parsed
//! beyond the patterns the canned responses match.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::tables;
use crate::tds::{self, Param, Tokens, Ty, Val, DONE_ATTN, DONE_COUNT, DONE_ERROR, DONE_MORE};

pub const USER: &str = "etl";
pub const PASSWORD: &str = "Tds-s3cret!pw";
pub const DATABASE: &str = "erp";
/// The Entra ID access token the server accepts (a JWT in real life; opaque here).
pub const TOKEN: &str = "eyJ0eXAiOiJKV1QifQ.test-entra-token.sig";

/// What the server received.
#[derive(Clone, Debug)]
pub enum Request {
    Login {
        user: String,
        database: String,
        app_name: String,
        /// The ENCRYPTION option of the client's PRELOGIN.
        encryption: Option<u8>,
        /// The FEDAUTH token of an Entra login.
        token: Option<String>,
        /// Whether what followed the login went over TLS.
        tls: bool,
    },
    /// A SQL batch, or an RPC.
    Sql(Stmt),
}

/// A SQL batch, or an RPC: sp_executesql's statement, its parameter declaration and the
/// bound @P parameters.
#[derive(Clone, Debug)]
pub struct Stmt {
    pub conn: usize,
    pub rpc: bool,
    /// The transaction descriptor of ALL_HEADERS (zero outside a transaction).
    pub txn: [u8; 8],
    pub sql: String,
    pub decl: String,
    pub params: Vec<Param>,
}

/// A canned answer.
pub enum Reply {
    Rows {
        cols: Vec<(String, Ty)>,
        rows: Vec<Vec<Val>>,
    },
    /// A statement without a result set, with its row count.
    Count(u64),
    Begin,
    Commit,
    Rollback,
    Error(u32, String),
    /// No answer for this many seconds, then the connection is closed.
    Stall(u64),
}

pub struct Server {
    pub port: u16,
    log: Arc<Mutex<Vec<Request>>>,
    /// Rows in dbo.orders (the tests add some between runs).
    pub orders: Arc<AtomicUsize>,
}

/// How a server answers a good login.
#[derive(Clone, Copy)]
enum Mode {
    Serve,
    /// Azure SQL's gateway: LOGINACK, then a routing ENVCHANGE to this port on 127.0.0.1.
    RedirectTo(u16),
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(Mode::Serve)
    }

    /// A gateway that sends every login on to `target`.
    pub fn redirecting_to(target: &Server) -> Server {
        Server::start_with(Mode::RedirectTo(target.port))
    }

    fn start_with(mode: Mode) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let orders = Arc::new(AtomicUsize::new(tables::ORDERS_AT_START));
        let (l, o) = (log.clone(), orders.clone());
        // The accept loop lives as long as the test process.
        std::thread::spawn(move || {
            for (id, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let (l, o) = (l.clone(), o.clone());
                std::thread::spawn(move || {
                    // A client that goes away mid-answer is not the server's failure.
                    let _ = serve(stream, id + 1, &l, &o, mode);
                });
            }
        });
        Server { port, log, orders }
    }

    pub fn url(&self, password: &str) -> String {
        format!(
            "mssql://{USER}:{password}@127.0.0.1:{}/{DATABASE}?encrypt=not_supported",
            self.port
        )
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    /// The SQL requests (batches and RPCs), in order.
    pub fn statements(&self) -> Vec<Stmt> {
        self.requests()
            .into_iter()
            .filter_map(|r| match r {
                Request::Sql(s) => Some(s),
                Request::Login { .. } => None,
            })
            .collect()
    }

    pub fn clear(&self) {
        self.log.lock().unwrap().clear();
    }
}

static TXN: AtomicU64 = AtomicU64::new(0x5A00);

/// The connection's transport: plain TCP, or TLS over it once the handshake is done.
enum Io {
    Raw(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Io {
    /// Back to plain TCP (ENCRYPT_OFF: TLS protects the login only).
    fn into_raw(self) -> Io {
        match self {
            Io::Tls(s) => Io::Raw(s.sock),
            raw => raw,
        }
    }
}

impl Read for Io {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Io::Raw(s) => s.read(buf),
            Io::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Io {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Io::Raw(s) => s.write(buf),
            Io::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Io::Raw(s) => s.flush(),
            Io::Tls(s) => s.flush(),
        }
    }
}

/// A self-signed certificate for localhost and 127.0.0.1 (EC P-256, valid until 2126), made
/// for these tests with openssl; no client trusts it unless told to.
fn tls_config() -> std::sync::Arc<rustls::ServerConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let cert = CertificateDer::from(include_bytes!("tls_cert.der").to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        include_bytes!("tls_key.der").to_vec(),
    ));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .expect("the test certificate");
    // No TLS 1.3 tickets: nothing is written after the handshake but the TDS stream.
    config.send_tls13_tickets = 0;
    Arc::new(config)
}

/// The TLS handshake inside PRELOGIN packets (MS-TDS 2.2.6.5 and 3.3.5.1): each flight of TLS
/// records travels as the payload of a TDS message of type 0x12; after it, TLS records go on
/// the socket directly.
fn tls_handshake(mut tcp: TcpStream) -> std::io::Result<Io> {
    let mut conn = rustls::ServerConnection::new(tls_config()).map_err(std::io::Error::other)?;
    loop {
        if conn.wants_write() {
            let mut out = Vec::new();
            while conn.wants_write() {
                conn.write_tls(&mut out)?;
            }
            tds::write_typed(&mut tcp, tds::PT_PRELOGIN, &out)?;
        }
        if !conn.is_handshaking() {
            break;
        }
        let Some((ty, payload)) = tds::read_message(&mut tcp)? else {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        };
        assert_eq!(
            ty,
            tds::PT_PRELOGIN,
            "the TLS handshake travels in PRELOGIN packets"
        );
        let mut rd = &payload[..];
        while !rd.is_empty() {
            conn.read_tls(&mut rd)?;
            conn.process_new_packets().map_err(std::io::Error::other)?;
        }
    }
    Ok(Io::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))))
}

fn serve(
    stream: TcpStream,
    conn: usize,
    log: &Mutex<Vec<Request>>,
    orders: &AtomicUsize,
    mode: Mode,
) -> std::io::Result<()> {
    let mut tcp = stream;
    let Some((ty, pre)) = tds::read_message(&mut tcp)? else {
        return Ok(());
    };
    assert_eq!(ty, tds::PT_PRELOGIN, "the client starts with PRELOGIN");
    let fed_auth = tds::prelogin_option(&pre, 0x06) == Some(1);
    // The client's ENCRYPT_NOT_SUP gets no TLS, its ENCRYPT_OFF TLS for the login only,
    // anything else (ON, REQ) TLS for the whole connection.
    let encryption = match tds::prelogin_option(&pre, 0x01) {
        Some(2) => 2,
        Some(0) => 0,
        _ => 1,
    };
    tds::write_message(&mut tcp, &tds::prelogin_reply(encryption, fed_auth))?;
    let mut io = if encryption == 2 {
        Io::Raw(tcp)
    } else {
        tls_handshake(tcp)?
    };
    let Some((ty, login)) = tds::read_message(&mut io)? else {
        return Ok(());
    };
    assert_eq!(
        ty,
        tds::PT_LOGIN7,
        "LOGIN7 follows PRELOGIN (and the TLS handshake)"
    );
    if encryption == 0 {
        io = io.into_raw();
    }
    let tls = matches!(io, Io::Tls(_));
    let login = tds::parse_login7(&login);
    log.lock().unwrap().push(Request::Login {
        user: login.user.clone(),
        database: login.database.clone(),
        app_name: login.app_name.clone(),
        encryption: tds::prelogin_option(&pre, 0x01),
        token: login.token.clone(),
        tls,
    });
    let mut t = Tokens::default();
    let accepted = match &login.token {
        Some(token) => token == TOKEN,
        None => login.user == USER && login.password == PASSWORD,
    };
    if !accepted {
        // What SQL Server answers: error 18456, class 14, then DONE with the error bit.
        t.error(
            18456,
            14,
            &format!(
                "Login failed for user '{}'.",
                if login.token.is_some() {
                    "<token-identified principal>"
                } else {
                    &login.user
                }
            ),
            1,
        );
        t.done(DONE_ERROR, 0);
        return tds::write_message(&mut io, &t.0);
    }
    t.env_change_text(1, &login.database, "master");
    t.login_ack();
    if login.token.is_some() {
        t.feature_ext_ack_fedauth();
    }
    if let Mode::RedirectTo(port) = mode {
        t.env_change_routing("127.0.0.1", port);
        t.done(0, 0);
        return tds::write_message(&mut io, &t.0);
    }
    t.env_change_text(4, &tds::PACKET_SIZE.to_string(), "4096");
    t.done(0, 0);
    tds::write_message(&mut io, &t.0)?;

    let mut open_txn: Option<[u8; 8]> = None;
    while let Some((ty, payload)) = tds::read_message(&mut io)? {
        let (rpc, txn, sql, decl, params) = match ty {
            tds::PT_SQL_BATCH => {
                let (txn, sql) = tds::parse_batch(&payload);
                (false, txn, sql, String::new(), Vec::new())
            }
            tds::PT_RPC => {
                let (txn, proc_id, mut params) = tds::parse_rpc(&payload);
                assert_eq!(proc_id, 10, "the client calls sp_executesql");
                let text = |p: Param| match p.val {
                    Val::Text(s) => s,
                    other => panic!("sp_executesql's @stmt/@params: {other:?}"),
                };
                let rest = params.split_off(2.min(params.len()));
                let mut it = params.into_iter();
                let sql = it.next().map(text).unwrap_or_default();
                let decl = it.next().map(text).unwrap_or_default();
                (true, txn, sql, decl, rest)
            }
            tds::PT_ATTENTION => {
                let mut t = Tokens::default();
                t.done(DONE_ATTN, 0);
                tds::write_message(&mut io, &t.0)?;
                continue;
            }
            other => panic!("test server: unexpected packet type 0x{other:02x}"),
        };
        let reply = tables::respond(&sql, &params, orders.load(Ordering::SeqCst));
        if let Reply::Stall(secs) = reply {
            // No answer (WAITFOR): the client's read limit is what ends this.
            log.lock().unwrap().push(Request::Sql(Stmt {
                conn,
                rpc,
                txn,
                sql,
                decl,
                params,
            }));
            std::thread::sleep(std::time::Duration::from_secs(secs));
            return Ok(());
        }
        log.lock().unwrap().push(Request::Sql(Stmt {
            conn,
            rpc,
            txn,
            sql,
            decl,
            params,
        }));
        let mut t = Tokens::default();
        // Inside sp_executesql the statement ends with DONEINPROC, the procedure with
        // RETURNSTATUS and DONEPROC; a batch ends with DONE.
        let (end, more) = if rpc { (0xFF, DONE_MORE) } else { (0xFD, 0) };
        let mut failed = false;
        match reply {
            Reply::Rows { cols, rows } => {
                let cols: Vec<(&str, Ty)> = cols.iter().map(|(n, t)| (n.as_str(), *t)).collect();
                t.col_metadata(&cols);
                for (i, row) in rows.iter().enumerate() {
                    // Rows with a NULL go as NBCROW, the rest as ROW: both are what SQL
                    // Server sends (NBCROW when it saves bytes).
                    if i % 2 == 1 && row.iter().any(|v| matches!(v, Val::Null)) {
                        t.nbc_row(&cols, row);
                    } else {
                        t.row(&cols, row);
                    }
                }
                t.done_token(end, DONE_COUNT | more, rows.len() as u64);
            }
            Reply::Count(n) => t.done_token(end, DONE_COUNT | more, n),
            Reply::Begin => {
                let desc = TXN.fetch_add(1, Ordering::SeqCst).to_le_bytes();
                open_txn = Some(desc);
                t.env_change_bytes(8, &desc, &[]);
                t.done_token(end, more, 0);
            }
            Reply::Commit | Reply::Rollback => {
                let old = open_txn.take().unwrap_or_default();
                let ty = if matches!(reply, Reply::Commit) {
                    9
                } else {
                    10
                };
                t.env_change_bytes(ty, &[], &old);
                t.done_token(end, more, 0);
            }
            Reply::Stall(_) => unreachable!("answered above"),
            Reply::Error(number, message) => {
                t.error(number, 16, &message, 1);
                t.done_token(end, DONE_ERROR | more, 0);
                failed = true;
            }
        }
        if rpc {
            t.return_status(i32::from(failed));
            t.done_token(0xFE, if failed { DONE_ERROR } else { 0 }, 0);
        }
        tds::write_message(&mut io, &t.0)?;
    }
    Ok(())
}
