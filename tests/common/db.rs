//! Throwaway databases on real PostgreSQL and MariaDB servers, for integration tests.
//!
//! `PgTestDb::new("my_test")` / `MyTestDb::new("my_test")` create a fresh database named
//! `etl_test_<test name>_<random>` and drop it again when the value is dropped, so tests can
//! run in parallel against one server. The API is synchronous (a private tokio runtime does
//! the I/O) because tests drive the real `etl` binary as a child process; do not call it from
//! inside an async runtime (`#[tokio::test]`).
//!
//! Which server is used, per engine, decided once per test process:
//! 1. `ETL_TEST_PG_URL` / `ETL_TEST_MYSQL_URL`: an admin URL for an existing server (the
//!    literal value `private` skips straight to step 3);
//! 2. the local server at 127.0.0.1:5432 (user `postgres`, trust auth) / 127.0.0.1:3306
//!    (`root`, no password), if it answers;
//! 3. a private server this process starts from the installed binaries, in its own temp dir
//!    on a free port (see [`PrivateServer`]).
//!
//! Only databases this harness created are ever dropped; shared databases are never touched.
//! A database outlives its test only if the test process is killed before its drop ran.

use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use mysql_async::prelude::Queryable;
use tempfile::TempDir;
use tokio::runtime::Runtime;

/// Result rows with every value rendered as text (`None` = SQL NULL).
pub type Rows = Vec<Vec<Option<String>>>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

fn rt() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    // Multi-threaded so connection tasks keep running between our `block_on` calls.
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("failed to build the test harness tokio runtime")
    })
}

/// `etl_test_<sanitized name>_<10 hex digits>`: at most 60 bytes (limits: PG 63, MariaDB 64),
/// unique across threads and concurrently running test processes.
pub fn unique_db_name(test_name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded randomly per process; pid, counter and clock make collisions
    // between parallel test binaries practically impossible.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    h.write_u128(now.as_nanos());
    let mut clean: String = test_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    clean.truncate(40);
    format!("etl_test_{clean}_{:010x}", h.finish() & 0xff_ffff_ffff)
}

/// `scheme://authority/<db>?query`: the admin URL pointed at another database.
pub fn with_database(url: &str, db: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let (scheme, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let query = rest[authority_end..]
        .find('?')
        .map_or("", |i| &rest[authority_end + i..]);
    format!("{scheme}{}/{db}{query}", &rest[..authority_end])
}

/// Picks the admin URL once per process; an `Err` is remembered so that every test fails
/// fast with the same message instead of retrying a slow server start.
fn admin_url(
    cell: &'static OnceLock<Result<String, String>>,
    env_var: &str,
    default_url: &str,
    engine: Engine,
) -> String {
    let chosen = cell.get_or_init(|| {
        match std::env::var(env_var) {
            Ok(url) if url != "private" => return Ok(url),
            Ok(_) => {}
            Err(_) if engine.ping(default_url) => return Ok(default_url.to_string()),
            Err(_) => {}
        }
        // Nothing to reuse: start a private server for the rest of the process. It is leaked
        // on purpose (never dropped); its watchdog stops it once the process has exited.
        let server = match engine {
            Engine::Postgres => PrivateServer::start_postgres(),
            Engine::MariaDb => PrivateServer::start_mariadb(),
        }
        .map_err(|e| format!("{e}\n(or set {env_var} to the admin URL of a running server)"))?;
        let url = server.admin_url();
        Box::leak(Box::new(server));
        Ok(url)
    });
    chosen.clone().unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------- PostgreSQL

/// Admin URL of the PostgreSQL server the tests use (see the module docs).
pub fn pg_admin_url() -> String {
    static URL: OnceLock<Result<String, String>> = OnceLock::new();
    admin_url(
        &URL,
        "ETL_TEST_PG_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
        Engine::Postgres,
    )
}

fn pg_connect(url: &str) -> Result<tokio_postgres::Client, String> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| format!("bad PostgreSQL URL {url}: {e}"))?;
    config.connect_timeout(CONNECT_TIMEOUT);
    rt().block_on(async {
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("cannot connect to {url}: {}", pg_error(e)))?;
        // The connection task does the socket I/O; it ends when the client is dropped.
        tokio::spawn(connection);
        Ok(client)
    })
}

fn pg_run(client: &tokio_postgres::Client, sql: &str) -> Result<Rows, String> {
    let messages = rt().block_on(client.simple_query(sql)).map_err(pg_error)?;
    Ok(messages
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .collect())
}

/// The server's message (e.g. `ERROR: relation "x" does not exist`), which `Display` omits.
fn pg_error(e: tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{db} (SQLSTATE {})", db.code().code()),
        None => e.to_string(),
    }
}

/// Runs `sql` (simple query protocol, several statements allowed) on a fresh connection to `url`.
pub fn pg_query_at(url: &str, sql: &str) -> Result<Rows, String> {
    pg_run(&pg_connect(url)?, sql)
}

/// A throwaway PostgreSQL database, dropped (`WITH (FORCE)`) when this value is dropped.
pub struct PgTestDb {
    name: String,
    url: String,
    admin_url: String,
    client: Option<tokio_postgres::Client>,
}

impl PgTestDb {
    pub fn new(test_name: &str) -> Self {
        Self::new_on(&pg_admin_url(), test_name)
    }

    /// Like [`PgTestDb::new`], on the server behind the given admin URL.
    pub fn new_on(admin_url: &str, test_name: &str) -> Self {
        let name = unique_db_name(test_name);
        pg_query_at(admin_url, &format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
        let url = with_database(admin_url, &name);
        let client = pg_connect(&url).unwrap_or_else(|e| panic!("{e}"));
        PgTestDb {
            name,
            url,
            admin_url: admin_url.to_string(),
            client: Some(client),
        }
    }

    /// `postgres://postgres@127.0.0.1:PORT/DBNAME` (for a server from `ETL_TEST_PG_URL`: that
    /// URL with the database replaced).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn try_query(&self, sql: &str) -> Result<Rows, String> {
        pg_run(self.client.as_ref().expect("client lives until drop"), sql)
    }

    /// Rows of all statements in `sql`, values as text. Panics on error.
    pub fn query(&self, sql: &str) -> Rows {
        self.try_query(sql)
            .unwrap_or_else(|e| panic!("query failed: {e}\nSQL: {sql}"))
    }

    /// Runs one or more statements. Panics on error.
    pub fn execute(&self, sql: &str) {
        self.query(sql);
    }

    /// First column of the first row. Panics if there is no row.
    pub fn scalar(&self, sql: &str) -> Option<String> {
        first_value(self.query(sql), sql)
    }
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        drop(self.client.take());
        // FORCE also ends sessions an `etl` child process may have left behind.
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(e) = pg_query_at(&self.admin_url, &sql) {
            report_drop_failure(&self.name, &e);
        }
    }
}

// ---------------------------------------------------------------- MariaDB

/// Admin URL of the MariaDB server the tests use (see the module docs).
pub fn mysql_admin_url() -> String {
    static URL: OnceLock<Result<String, String>> = OnceLock::new();
    admin_url(
        &URL,
        "ETL_TEST_MYSQL_URL",
        "mysql://root@127.0.0.1:3306",
        Engine::MariaDb,
    )
}

fn my_connect(url: &str) -> Result<mysql_async::Conn, String> {
    let opts = mysql_async::Opts::from_url(url).map_err(|e| format!("bad MySQL URL {url}: {e}"))?;
    rt().block_on(async {
        match tokio::time::timeout(CONNECT_TIMEOUT, mysql_async::Conn::new(opts)).await {
            Ok(conn) => conn.map_err(|e| format!("cannot connect to {url}: {e}")),
            Err(_) => Err(format!("cannot connect to {url}: timed out")),
        }
    })
}

fn my_run(conn: &mut mysql_async::Conn, sql: &str) -> Result<Rows, String> {
    rt().block_on(async {
        let mut result = conn.query_iter(sql).await?;
        let mut rows = Rows::new();
        // One result set per statement; keep the rows of all of them.
        while !result.is_empty() {
            for row in result.collect::<mysql_async::Row>().await? {
                rows.push(row.unwrap().into_iter().map(my_value_text).collect());
            }
        }
        Ok::<_, mysql_async::Error>(rows)
    })
    .map_err(|e| e.to_string())
}

fn my_value_text(value: mysql_async::Value) -> Option<String> {
    use mysql_async::Value;
    match value {
        Value::NULL => None,
        // The text protocol delivers every non-NULL value this way.
        Value::Bytes(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

fn my_disconnect(conn: mysql_async::Conn) {
    let _ = rt().block_on(conn.disconnect());
}

/// Runs `sql` (text protocol, several statements allowed) on a fresh connection to `url`.
pub fn mysql_query_at(url: &str, sql: &str) -> Result<Rows, String> {
    let mut conn = my_connect(url)?;
    let rows = my_run(&mut conn, sql);
    my_disconnect(conn);
    rows
}

/// A throwaway MariaDB/MySQL database, dropped when this value is dropped.
pub struct MyTestDb {
    name: String,
    url: String,
    admin_url: String,
    conn: Mutex<Option<mysql_async::Conn>>,
}

impl MyTestDb {
    pub fn new(test_name: &str) -> Self {
        Self::new_on(&mysql_admin_url(), test_name)
    }

    /// Like [`MyTestDb::new`], on the server behind the given admin URL.
    pub fn new_on(admin_url: &str, test_name: &str) -> Self {
        let name = unique_db_name(test_name);
        mysql_query_at(admin_url, &format!("CREATE DATABASE `{name}`"))
            .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
        let url = with_database(admin_url, &name);
        let conn = my_connect(&url).unwrap_or_else(|e| panic!("{e}"));
        MyTestDb {
            name,
            url,
            admin_url: admin_url.to_string(),
            conn: Mutex::new(Some(conn)),
        }
    }

    /// `mysql://root@127.0.0.1:PORT/DBNAME` (for a server from `ETL_TEST_MYSQL_URL`: that URL
    /// with the database replaced).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn try_query(&self, sql: &str) -> Result<Rows, String> {
        // A panic elsewhere while holding the lock leaves the connection usable.
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        my_run(guard.as_mut().expect("connection lives until drop"), sql)
    }

    /// Rows of all statements in `sql`, values as text. Panics on error.
    pub fn query(&self, sql: &str) -> Rows {
        self.try_query(sql)
            .unwrap_or_else(|e| panic!("query failed: {e}\nSQL: {sql}"))
    }

    /// Runs one or more statements. Panics on error.
    pub fn execute(&self, sql: &str) {
        self.query(sql);
    }

    /// First column of the first row. Panics if there is no row.
    pub fn scalar(&self, sql: &str) -> Option<String> {
        first_value(self.query(sql), sql)
    }
}

impl Drop for MyTestDb {
    fn drop(&mut self) {
        if let Some(conn) = self
            .conn
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            my_disconnect(conn);
        }
        // MariaDB has no DROP ... FORCE: end sessions (e.g. of a killed `etl` child) that
        // still use the database, as their metadata locks would block the drop.
        let sql = format!(
            "SELECT id FROM information_schema.processlist WHERE db = '{}' AND id <> CONNECTION_ID()",
            self.name
        );
        let result = my_connect(&self.admin_url).and_then(|mut admin| {
            // Errors ignored: a session may end by itself between the SELECT and its KILL.
            let sessions = my_run(&mut admin, &sql);
            for id in sessions.iter().flatten().flatten().flatten() {
                let _ = my_run(&mut admin, &format!("KILL {id}"));
            }
            let dropped = my_run(
                &mut admin,
                &format!("DROP DATABASE IF EXISTS `{}`", self.name),
            );
            my_disconnect(admin);
            dropped
        });
        if let Err(e) = result {
            report_drop_failure(&self.name, &e);
        }
    }
}

fn first_value(rows: Rows, sql: &str) -> Option<String> {
    let row = rows
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no row returned by: {sql}"));
    row.into_iter().next().flatten()
}

fn report_drop_failure(name: &str, error: &str) {
    let msg = format!("could not drop test database {name}: {error}");
    // Panicking while already unwinding would abort the whole test binary.
    if std::thread::panicking() {
        eprintln!("{msg}");
    } else {
        panic!("{msg}");
    }
}

// ---------------------------------------------------------------- private servers

#[derive(Clone, Copy, Debug)]
enum Engine {
    Postgres,
    MariaDb,
}

impl Engine {
    fn admin_url(self, port: u16) -> String {
        match self {
            Engine::Postgres => format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            Engine::MariaDb => format!("mysql://root@127.0.0.1:{port}"),
        }
    }

    /// Whether a server at `url` accepts a login and a query.
    fn ping(self, url: &str) -> bool {
        match self {
            Engine::Postgres => pg_query_at(url, "SELECT 1").is_ok(),
            Engine::MariaDb => mysql_query_at(url, "SELECT 1").is_ok(),
        }
    }

    /// The signal for a quick clean shutdown ("fast" shutdown for PostgreSQL).
    fn stop_signal(self) -> &'static str {
        match self {
            Engine::Postgres => "INT",
            Engine::MariaDb => "TERM",
        }
    }
}

/// A database server started by the harness from the installed binaries, in its own temp dir
/// and on a free port, so parallel test processes never share files or ports.
///
/// Dropping it stops the server and removes the dir. The process-wide fallback server of
/// [`pg_admin_url`] / [`mysql_admin_url`] is never dropped; instead a small watchdog shell stops
/// it and removes the dir as soon as the test process is gone, however it ended (even SIGKILL):
/// the watchdog blocks reading a pipe whose write end only the test process holds
/// (close-on-exec, so `etl` children don't inherit it), and the kernel closes it at exit.
pub struct PrivateServer {
    engine: Engine,
    port: u16,
    dir: PathBuf,
    server: Child,
    watchdog: Child,
}

const WATCHDOG: &str = r#"
while read -r _; do :; done
kill -s "$1" "$2" 2>/dev/null
i=0
while kill -0 "$2" 2>/dev/null && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
rm -rf "$3"
"#;

impl PrivateServer {
    /// Runs `initdb` and `postgres` (from PATH or /usr/lib/postgresql/*/bin) with trust auth
    /// for user `postgres`, listening on 127.0.0.1 only.
    pub fn start_postgres() -> Result<Self, String> {
        let bin = find_dir_with(&["initdb", "postgres"], &pg_bin_dirs()).ok_or(
            "PostgreSQL server not reachable at 127.0.0.1:5432 and no initdb/postgres found in \
             PATH or /usr/lib/postgresql/*/bin: install the postgresql package \
             (apt-get install postgresql)",
        )?;
        // initdb and postgres refuse to run as root; use the distro's service account then.
        let account = if running_as_root() {
            Some(os_account("postgres").ok_or(
                "running as root, but PostgreSQL refuses to run as root and there is no \
                 `postgres` OS user to run it as (useradd --system postgres)",
            )?)
        } else {
            None
        };
        let dir = private_dir("etl-test-pg-", account)?;
        let data = dir.path().join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb.arg("-D").arg(&data);
        initdb.args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]);
        run_setup(initdb, dir.path(), account)?;
        let socket_dir = dir.path().to_path_buf();
        Self::launch(Engine::Postgres, dir, account, |port| {
            let mut cmd = Command::new(bin.join("postgres"));
            cmd.arg("-D")
                .arg(&data)
                .arg("-k")
                .arg(&socket_dir)
                .args(["-p", &port.to_string()]);
            // Throwaway data: durability settings only cost time.
            for setting in [
                "listen_addresses=127.0.0.1",
                "fsync=off",
                "synchronous_commit=off",
                "full_page_writes=off",
            ] {
                cmd.args(["-c", setting]);
            }
            cmd
        })
    }

    /// Runs `mariadb-install-db` and `mariadbd` (or the mysql_* names) with a password-less
    /// `root`, listening on 127.0.0.1 only.
    pub fn start_mariadb() -> Result<Self, String> {
        const MISSING: &str = "MariaDB server not reachable at 127.0.0.1:3306 and no \
            mariadb-install-db/mariadbd found: install the mariadb-server package \
            (apt-get install mariadb-server)";
        let dirs = mariadb_bin_dirs();
        let install_db =
            find_bin(&["mariadb-install-db", "mysql_install_db"], &dirs).ok_or(MISSING)?;
        let mariadbd = find_bin(&["mariadbd", "mysqld"], &dirs).ok_or(MISSING)?;
        let dir = private_dir("etl-test-mariadb-", None)?;
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        // Options for both the bootstrap (install-db passes unknown ones on) and the server.
        // --no-defaults must come first; it keeps the system's my.cnf out of the way.
        let mut common = vec![
            "--no-defaults".to_string(),
            format!("--datadir={}", dir.path().join("data").display()),
            // In a shared /tmp, parallel bootstraps were seen deleting each other's temporary
            // tables ("Can't find file: '/tmp/#sql-temptable-...'").
            format!("--tmpdir={}", tmp.display()),
        ];
        if running_as_root() {
            // mariadbd runs as root only when told so explicitly.
            common.push("--user=root".to_string());
        }
        let mut install = Command::new(install_db);
        install.args(&common);
        install.args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
        run_setup(install, dir.path(), None)?;
        let run_dir = dir.path().to_path_buf();
        Self::launch(Engine::MariaDb, dir, None, |port| {
            let mut cmd = Command::new(&mariadbd);
            cmd.args(&common).args([
                format!("--port={port}"),
                "--bind-address=127.0.0.1".to_string(),
                format!("--socket={}", run_dir.join("mysqld.sock").display()),
                format!("--pid-file={}", run_dir.join("mysqld.pid").display()),
                // Same defaults as Debian's packaged server, so tests see the same behaviour.
                "--character-set-server=utf8mb4".to_string(),
                "--collation-server=utf8mb4_general_ci".to_string(),
                // Throwaway data: durability settings only cost time.
                "--innodb-flush-log-at-trx-commit=0".to_string(),
                "--innodb-doublewrite=0".to_string(),
                "--innodb-buffer-pool-size=64M".to_string(),
            ]);
            cmd
        })
    }

    /// Starts the server on a free port and waits until it accepts logins. A port grabbed by
    /// someone else between picking and binding makes the server exit; then retry.
    fn launch(
        engine: Engine,
        dir: TempDir,
        account: Option<(u32, u32)>,
        server_command: impl Fn(u16) -> Command,
    ) -> Result<Self, String> {
        let mut last_error = String::new();
        for _attempt in 0..3 {
            let port = free_port()?;
            let log_path = dir.path().join("server.log");
            let log =
                File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
            let mut cmd = server_command(port);
            cmd.current_dir(dir.path()).stdin(Stdio::null());
            cmd.stdout(log.try_clone().map_err(|e| e.to_string())?)
                .stderr(log);
            // Own process group: a Ctrl-C meant for the test run reaches only the test
            // process, whose exit then lets the watchdog shut the server down cleanly.
            cmd.process_group(0);
            if let Some((uid, gid)) = account {
                cmd.uid(uid).gid(gid);
            }
            let mut server = cmd
                .spawn()
                .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
            let mut watchdog = Command::new("sh")
                .args(["-c", WATCHDOG, "etl-test-watchdog", engine.stop_signal()])
                .arg(server.id().to_string())
                .arg(dir.path())
                .stdin(Stdio::piped())
                .process_group(0)
                .spawn()
                .map_err(|e| {
                    let _ = server.kill();
                    let _ = server.wait();
                    format!("cannot run the watchdog shell (sh): {e}")
                })?;

            let url = engine.admin_url(port);
            let deadline = Instant::now() + STARTUP_TIMEOUT;
            loop {
                if let Ok(Some(status)) = server.try_wait() {
                    // Keep the dir for a retry: kill the watchdog before it can remove it.
                    let _ = watchdog.kill();
                    let _ = watchdog.wait();
                    last_error = format!(
                        "{engine:?} server exited with {status} while starting:\n{}",
                        read_log(&log_path)
                    );
                    break;
                }
                if engine.ping(&url) {
                    return Ok(PrivateServer {
                        engine,
                        port,
                        dir: dir.keep(),
                        server,
                        watchdog,
                    });
                }
                if Instant::now() > deadline {
                    let log = read_log(&log_path);
                    stop(&mut server, &mut watchdog);
                    return Err(format!(
                        "{engine:?} server did not accept connections within {STARTUP_TIMEOUT:?}:\n{log}"
                    ));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Err(last_error)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Temp dir holding data, socket and log; removed when the server stops.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres` or `mysql://root@127.0.0.1:PORT`.
    pub fn admin_url(&self) -> String {
        self.engine.admin_url(self.port)
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        stop(&mut self.server, &mut self.watchdog);
    }
}

/// Closes the watchdog's pipe, which makes it shut the server down and remove the dir.
fn stop(server: &mut Child, watchdog: &mut Child) {
    drop(watchdog.stdin.take());
    // We must reap the server ourselves: the watchdog waits for it to disappear.
    let deadline = Instant::now() + Duration::from_secs(30);
    while matches!(server.try_wait(), Ok(None)) {
        if Instant::now() > deadline {
            let _ = server.kill();
            let _ = server.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = watchdog.wait();
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn private_dir(prefix: &str, account: Option<(u32, u32)>) -> Result<TempDir, String> {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| format!("cannot create a temp dir: {e}"))?;
    if let Some((uid, gid)) = account {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
            .map_err(|e| format!("chown {}: {e}", dir.path().display()))?;
    }
    Ok(dir)
}

/// Runs a one-off setup command (initdb, install-db) to completion.
fn run_setup(mut cmd: Command, cwd: &Path, account: Option<(u32, u32)>) -> Result<(), String> {
    // The service account may not be allowed into our cwd (e.g. /root).
    cmd.current_dir(cwd).stdin(Stdio::null());
    if let Some((uid, gid)) = account {
        cmd.uid(uid).gid(gid);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn read_log(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let tail_start = log.len().saturating_sub(4000);
    let tail_start = (tail_start..log.len())
        .find(|&i| log.is_char_boundary(i))
        .unwrap_or(0);
    log[tail_start..].to_string()
}

fn running_as_root() -> bool {
    // /proc/self belongs to the effective uid of the process reading it.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// (uid, gid) of a local OS user, from /etc/passwd.
fn os_account(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields[..] {
            [user, _, uid, gid, ..] if user == name => Some((uid.parse().ok()?, gid.parse().ok()?)),
            _ => None,
        }
    })
}

fn path_dirs() -> Vec<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default()
}

/// PATH first, then Debian's versioned dirs, newest version first.
fn pg_bin_dirs() -> Vec<PathBuf> {
    let mut versioned: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| {
            let version = entry
                .file_name()
                .to_string_lossy()
                .split('.')
                .filter_map(|n| n.parse().ok())
                .collect();
            (version, entry.path().join("bin"))
        })
        .collect();
    versioned.sort_by(|a, b| b.0.cmp(&a.0));
    path_dirs()
        .into_iter()
        .chain(versioned.into_iter().map(|(_, dir)| dir))
        .collect()
}

/// PATH first, then where distros put server binaries (sbin is often not in a user's PATH).
fn mariadb_bin_dirs() -> Vec<PathBuf> {
    let extra = [
        "/usr/sbin",
        "/usr/bin",
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/libexec",
        "/usr/local/mysql/bin",
        "/usr/local/mysql/scripts",
    ];
    path_dirs()
        .into_iter()
        .chain(extra.iter().map(PathBuf::from))
        .collect()
}

/// The first dir containing all of `names`, so that tools of one installation are used together.
fn find_dir_with(names: &[&str], dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter()
        .find(|dir| names.iter().all(|name| dir.join(name).is_file()))
        .cloned()
}

/// The first of `names` (in order of preference) found in `dirs`.
fn find_bin(names: &[&str], dirs: &[PathBuf]) -> Option<PathBuf> {
    names.iter().find_map(|name| {
        dirs.iter()
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    })
}
