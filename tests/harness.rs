//! Tests of the database test harness in tests/common itself, against real servers.

mod common;

use std::net::TcpStream;

use mysql_async::prelude::Queryable;
use std::time::Instant;

use common::db::{
    mysql_admin_url, mysql_query_at, pg_admin_url, pg_query_at, unique_db_name, with_database,
    PrivateServer,
};
use common::{MyTestDb, PgTestDb};

fn pg_database_exists(admin_url: &str, name: &str) -> bool {
    let sql = format!("SELECT datname FROM pg_database WHERE datname = '{name}'");
    !pg_query_at(admin_url, &sql).unwrap().is_empty()
}

fn mysql_database_exists(admin_url: &str, name: &str) -> bool {
    let sql =
        format!("SELECT schema_name FROM information_schema.schemata WHERE schema_name = '{name}'");
    !mysql_query_at(admin_url, &sql).unwrap().is_empty()
}

fn row(values: &[Option<&str>]) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(str::to_string)).collect()
}

#[test]
fn names_are_sanitized_short_and_unique() {
    let long = "a::Very-Long test name/with ünïcode and more and more and more and more";
    let (a, b) = (unique_db_name(long), unique_db_name(long));
    assert_ne!(a, b);
    assert!(a.len() <= 63, "{a}");
    assert!(
        a.starts_with("etl_test_a__very_long_test_name_with_"),
        "{a}"
    );
    assert!(
        a.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'),
        "{a}"
    );
}

#[test]
fn database_is_replaced_in_urls() {
    assert_eq!(
        with_database("mysql://root@127.0.0.1:3306", "x"),
        "mysql://root@127.0.0.1:3306/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h:1/postgres", "x"),
        "postgres://u:p@h:1/x"
    );
    assert_eq!(
        with_database("postgres://u@h/db?sslmode=disable", "x"),
        "postgres://u@h/x?sslmode=disable"
    );
    assert_eq!(
        with_database("mysql://root@h:3306?prefer_socket=false", "x"),
        "mysql://root@h:3306/x?prefer_socket=false"
    );
}

#[test]
fn pg_database_roundtrip_and_drop() {
    let db = PgTestDb::new("pg_roundtrip");
    let name = db.name().to_string();
    assert!(name.starts_with("etl_test_pg_roundtrip_"), "{name}");
    assert!(db.url().starts_with("postgres://") && db.url().ends_with(&format!("/{name}")));
    assert!(pg_database_exists(&pg_admin_url(), &name));
    if std::env::var("ETL_TEST_PG_URL").as_deref() == Ok("private") {
        assert!(
            !db.url().contains(":5432/"),
            "not on a private server: {}",
            db.url()
        );
    }

    db.execute("CREATE TABLE t (id int PRIMARY KEY, label text, at date); INSERT INTO t VALUES (1, 'one', '2024-02-29'), (2, NULL, NULL)");
    assert_eq!(
        db.query("SELECT id, label, at FROM t ORDER BY id"),
        vec![
            row(&[Some("1"), Some("one"), Some("2024-02-29")]),
            row(&[Some("2"), None, None])
        ]
    );
    assert_eq!(db.scalar("SELECT current_database()"), Some(name.clone()));
    assert!(db
        .try_query("SELECT * FROM missing")
        .unwrap_err()
        .contains("does not exist"));

    // A session still open (as a killed `etl` child might leave one) must not block the drop.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (client, connection) = rt
        .block_on(tokio_postgres::connect(db.url(), tokio_postgres::NoTls))
        .unwrap();
    rt.spawn(connection);
    rt.block_on(client.batch_execute("BEGIN; LOCK TABLE t"))
        .unwrap();
    drop(db);
    assert!(!pg_database_exists(&pg_admin_url(), &name));
    assert!(
        rt.block_on(client.simple_query("SELECT 1")).is_err(),
        "session survived the drop"
    );
}

#[test]
fn mysql_database_roundtrip_and_drop() {
    let db = MyTestDb::new("my_roundtrip");
    let name = db.name().to_string();
    assert!(name.starts_with("etl_test_my_roundtrip_"), "{name}");
    assert!(db.url().starts_with("mysql://") && db.url().ends_with(&format!("/{name}")));
    assert!(mysql_database_exists(&mysql_admin_url(), &name));
    if std::env::var("ETL_TEST_MYSQL_URL").as_deref() == Ok("private") {
        assert!(
            !db.url().contains(":3306/"),
            "not on a private server: {}",
            db.url()
        );
    }

    db.execute("CREATE TABLE t (id int PRIMARY KEY, label text, at date, amount decimal(10,2)); INSERT INTO t VALUES (1, 'ünï', '2024-02-29', 12.50), (2, NULL, NULL, NULL)");
    assert_eq!(
        db.query("SELECT id, label, at, amount FROM t ORDER BY id"),
        vec![
            row(&[Some("1"), Some("ünï"), Some("2024-02-29"), Some("12.50")]),
            row(&[Some("2"), None, None, None])
        ]
    );
    assert_eq!(db.scalar("SELECT DATABASE()"), Some(name.clone()));
    assert!(db
        .try_query("SELECT * FROM missing")
        .unwrap_err()
        .contains("doesn't exist"));

    // A session holding a metadata lock (as a killed `etl` child might leave one) would block
    // DROP DATABASE; the harness must end it.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut other = rt.block_on(mysql_async::Conn::from_url(db.url())).unwrap();
    rt.block_on(other.query_drop("START TRANSACTION; SELECT * FROM t"))
        .unwrap();
    drop(db);
    assert!(!mysql_database_exists(&mysql_admin_url(), &name));
    assert!(
        rt.block_on(other.query_drop("SELECT 1")).is_err(),
        "session survived the drop"
    );
}

#[test]
fn parallel_databases_do_not_collide() {
    // Same test name, same table, from several threads at once: each sees only its own data.
    let workers: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let pg = PgTestDb::new("parallel");
                let my = MyTestDb::new("parallel");
                for sql in [
                    "CREATE TABLE t (v int)".to_string(),
                    format!("INSERT INTO t VALUES ({i})"),
                ] {
                    pg.execute(&sql);
                    my.execute(&sql);
                }
                let expected = vec![row(&[Some(&i.to_string())])];
                assert_eq!(pg.query("SELECT v FROM t"), expected);
                assert_eq!(my.query("SELECT v FROM t"), expected);
                (pg.name().to_string(), my.name().to_string())
            })
        })
        .collect();
    let names: Vec<(String, String)> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let mut distinct: Vec<&String> = names.iter().flat_map(|(p, m)| [p, m]).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 8);
    for (pg, my) in &names {
        assert!(!pg_database_exists(&pg_admin_url(), pg));
        assert!(!mysql_database_exists(&mysql_admin_url(), my));
    }
}

#[test]
fn private_postgres_server_starts_serves_and_stops() {
    let started = Instant::now();
    let server = PrivateServer::start_postgres().unwrap_or_else(|e| panic!("{e}"));
    let startup = started.elapsed();
    let (port, dir, admin) = (
        server.port(),
        server.dir().to_path_buf(),
        server.admin_url(),
    );
    assert_eq!(
        admin,
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    );

    let db = PgTestDb::new_on(&admin, "private_pg");
    let name = db.name().to_string();
    assert!(db.url().starts_with(&format!(
        "postgres://postgres@127.0.0.1:{port}/etl_test_private_pg_"
    )));
    db.execute("CREATE TABLE t (x int); INSERT INTO t VALUES (42)");
    assert_eq!(db.scalar("SELECT x FROM t"), Some("42".to_string()));
    drop(db);
    assert!(!pg_database_exists(&admin, &name));

    let stopping = Instant::now();
    drop(server);
    eprintln!(
        "private PostgreSQL: ready in {startup:?}, stopped in {:?}",
        stopping.elapsed()
    );
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "server still listening"
    );
    assert!(!dir.exists(), "{} not removed", dir.display());
}

#[test]
fn private_mariadb_server_starts_serves_and_stops() {
    let started = Instant::now();
    let server = PrivateServer::start_mariadb().unwrap_or_else(|e| panic!("{e}"));
    let startup = started.elapsed();
    let (port, dir, admin) = (
        server.port(),
        server.dir().to_path_buf(),
        server.admin_url(),
    );
    assert_eq!(admin, format!("mysql://root@127.0.0.1:{port}"));

    let db = MyTestDb::new_on(&admin, "private_my");
    let name = db.name().to_string();
    assert!(db.url().starts_with(&format!(
        "mysql://root@127.0.0.1:{port}/etl_test_private_my_"
    )));
    db.execute("CREATE TABLE t (x int, s text); INSERT INTO t VALUES (42, 'ünï')");
    assert_eq!(
        db.query("SELECT x, s FROM t"),
        vec![row(&[Some("42"), Some("ünï")])]
    );
    drop(db);
    assert!(!mysql_database_exists(&admin, &name));

    let stopping = Instant::now();
    drop(server);
    eprintln!(
        "private MariaDB: ready in {startup:?}, stopped in {:?}",
        stopping.elapsed()
    );
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "server still listening"
    );
    assert!(!dir.exists(), "{} not removed", dir.display());
}
