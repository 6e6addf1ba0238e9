//! The BigQuery source through the real binary, against bqemulator (PyPI, DuckDB-backed REST
//! emulator) wrapped by `shim.py` (OAuth token endpoint and token checks, the spatial
//! extension from PyPI), loading into a throwaway PostgreSQL database or the SQLite warehouse.
//! bqemulator is not BigQuery: these tests prove the REST protocol, the paging, the decoding
//! and the load path, not the real service.

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::sandbox::{assert_contains, peak_rss_kib, Sandbox};
use common::{text, venv, PgTestDb};

/// bqemulator 1.4.0 is the version these tests were written against; the spatial extension
/// comes from PyPI so that nothing is downloaded at start.
const PACKAGES: &[&str] = &["bqemulator==1.4.0", "duckdb-extension-spatial", "numpy"];
const EMAIL: &str = "etl-loader@p1.iam.gserviceaccount.com";

/// bqemulator (through the shim) on a free loopback port, stopped on drop, with a service
/// account whose key the shim's token endpoint accepts.
struct Fake {
    child: Child,
    port: u16,
    keys: tempfile::TempDir,
    venv: venv::Venv,
}

impl Fake {
    fn start() -> Option<Fake> {
        let venv = match venv::ensure("bqemulator", PACKAGES) {
            Ok(v) => v,
            Err(reason) => {
                panic!("cannot start bqemulator: it does not install: {reason}");
            }
        };
        let keys = tempfile::tempdir().expect("temp dir");
        let (_, public) = key_pair(&venv.python(), keys.path());
        let port = venv::free_port();
        let shim = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bigquery/shim.py");
        let child = Command::new(venv.python())
            .arg(shim)
            .arg(port.to_string())
            .env("SHIM_PUBLIC_KEY", &public)
            .env("SHIM_CLIENT_EMAIL", EMAIL)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the bqemulator shim");
        let fake = Fake {
            child,
            port,
            keys,
            venv,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the bqemulator shim did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(fake)
    }

    /// A service-account key file for the key the shim trusts (or a fresh one it does not).
    fn key_file(&self, trusted: bool) -> PathBuf {
        let dir = if trusted {
            self.keys.path().to_path_buf()
        } else {
            let d = self.keys.path().join("stranger");
            std::fs::create_dir_all(&d).expect("mkdir");
            key_pair(&self.venv.python(), &d);
            d
        };
        let pem = std::fs::read_to_string(dir.join("rsa_key.p8")).expect("key");
        let file = dir.join("sa.json");
        let json = format!(
            r#"{{"type": "service_account", "project_id": "p1", "client_email": "{EMAIL}", "private_key": {:?}, "token_uri": "http://127.0.0.1:{}/token"}}"#,
            pem, self.port
        );
        std::fs::write(&file, json).expect("key file");
        file
    }

    fn url(&self, trusted: bool) -> String {
        format!(
            "bigquery://p1/ds?credentials={}&api=http://127.0.0.1:{}&page_rows=2",
            self.key_file(trusted).display(),
            self.port
        )
    }

    /// A URL without `credentials=`: the key file comes from GOOGLE_APPLICATION_CREDENTIALS.
    fn url_without_key(&self) -> String {
        format!(
            "bigquery://p1/ds?api=http://127.0.0.1:{}&page_rows=2",
            self.port
        )
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sandbox(url: &str) -> Sandbox {
    Sandbox::new("etl-bq-", "ETL_CONN_BQ", url)
}

/// An RSA key pair made by Python's `cryptography` (installed with bqemulator): PKCS#8 private
/// key for etl, public key for the shim.
fn key_pair(venv_python: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let private = dir.join("rsa_key.p8");
    let public = dir.join("rsa_key.pub");
    let script = format!(
        "from cryptography.hazmat.primitives.asymmetric import rsa\n\
         from cryptography.hazmat.primitives import serialization as s\n\
         k = rsa.generate_private_key(public_exponent=65537, key_size=2048)\n\
         open({:?}, 'wb').write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))\n\
         open({:?}, 'wb').write(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))\n",
        private.display().to_string(),
        public.display().to_string()
    );
    let ok = Command::new(venv_python)
        .arg("-c")
        .arg(script)
        .status()
        .expect("python");
    assert!(ok.success(), "key generation failed");
    (private, public)
}

/// Tables made through etl's own `execute` (bqemulator ignores the default dataset, so every
/// name is qualified). bqemulator holds NUMERIC as DECIMAL(18,3); etl reads NUMERIC as
/// numeric(38,9), BigQuery's own precision, hence the nine decimals.
const SETUP: &str = r#"
project("bq_setup");
let bq = connect("bq");
task("setup", |run| {
    bq.execute("CREATE SCHEMA ds");
    bq.execute("CREATE TABLE ds.t1 (id INT64, s STRING, ts TIMESTAMP, dt DATETIME, d DATE, ok BOOL, f FLOAT64, arr ARRAY<INT64>, rec STRUCT<a INT64, b STRING>)");
    bq.execute("INSERT INTO ds.t1 (id, s, ts, dt, d, ok, f, arr, rec) VALUES (1, '', TIMESTAMP '2024-03-01 10:00:00+02', DATETIME '2024-03-01 10:00:00.123456', DATE '2024-03-01', true, 1.5, [1, 2], STRUCT(7 AS a, 'x' AS b))");
    bq.execute("INSERT INTO ds.t1 (id, s, ts) VALUES (2, NULL, NULL), (3, 'x', TIMESTAMP '2024-03-01 23:30:00-05')");
    bq.execute("CREATE TABLE ds.t2 (id INT64, n NUMERIC, bn BIGNUMERIC, b BYTES, tm TIME, j JSON, g GEOGRAPHY, sa ARRAY<STRING>)");
    bq.execute("INSERT INTO ds.t2 VALUES (1, 123456789.123, 12345678901.5, FROM_BASE64('AGFi'), TIME '12:34:56.5', JSON '{\"k\": [1, \"v\"]}', ST_GEOGPOINT(1.5, 2), ['a', '', 'c'])");
    bq.execute("INSERT INTO ds.t2 (id, b) VALUES (2, b'')");
    bq.execute("CREATE TABLE ds.orders (id INT64, amount NUMERIC, updated_at DATETIME)");
    bq.execute("INSERT INTO ds.orders VALUES (1, 10.5, DATETIME '2024-01-01 00:00:00'), (2, 20, DATETIME '2024-01-02 00:00:00'), (3, 30.25, DATETIME '2024-01-03 00:00:00')");
});
"#;

fn ready(fake: &Fake) -> Sandbox {
    let sb = sandbox(&fake.url(true));
    sb.project("bq_setup", SETUP);
    sb.exec("bq_setup", &[]).ok();
    sb
}

const TYPES: &str = r#"
project("bq_types");
let bq = connect("bq");
let dw = connect("warehouse");
task("t1", |run| { dw.load(#{ from: bq.table("t1"), into: "raw.t1" }); });
"#;

/// GEOGRAPHY through ST_ASTEXT: bqemulator reports a GEOGRAPHY column as BYTES (BigQuery itself
/// sends WKT text, which etl reads as text).
const TYPES2: &str = r#"
project("bq_types2");
let bq = connect("bq");
let dw = connect("warehouse");
task("t2", |run| {
    dw.load(#{ from: bq.sql("SELECT id, n, bn, b, tm, j, ST_ASTEXT(g) AS g, sa FROM ds.t2"), into: "raw.t2" });
});
"#;

#[test]
fn types_arrive_in_postgresql_through_pages() {
    let Some(fake) = Fake::start() else {
        return;
    };
    let dw = PgTestDb::new("bq_types");
    let sb = ready(&fake).on_postgres(&dw);
    sb.project("bq_types", TYPES);
    sb.exec("bq_types", &[]).ok();
    // page_rows=2: the third row came from a second page (getQueryResults).
    assert_eq!(
        text(
            &dw,
            "SELECT id, s IS NULL, s, ts, dt, d, ok, f, arr::text, rec::text FROM raw.t1 ORDER BY id"
        ),
        [
            "1|f||2024-03-01 08:00:00+00|2024-03-01 10:00:00.123456|2024-03-01|t|1.5|{1,2}|{\"a\":\"7\",\"b\":\"x\"}",
            "2|t|NULL|NULL|NULL|NULL|NULL|NULL|{}|NULL",
            "3|f|x|2024-03-02 04:30:00+00|NULL|NULL|NULL|NULL|{}|NULL",
        ]
    );
    sb.project("bq_types2", TYPES2);
    sb.exec("bq_types2", &[]).ok();
    assert_eq!(
        text(
            &dw,
            "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) \
             FROM pg_attribute WHERE attrelid IN ('raw.t1'::regclass, 'raw.t2'::regclass) AND attnum > 0 \
             GROUP BY attrelid ORDER BY attrelid::regclass::text"
        ),
        [
            "id bigint, s text, ts timestamp with time zone, dt timestamp without time zone, d date, ok boolean, f double precision, arr bigint[], rec json",
            "id bigint, n numeric(38,9), bn numeric(38,9), b bytea, tm time without time zone, j json, g text, sa text[]",
        ]
    );
    assert_eq!(
        text(
            &dw,
            "SELECT id, n, bn, b, b IS NULL, tm, j, g, sa::text FROM raw.t2 ORDER BY id"
        ),
        [
            "1|123456789.123000000|12345678901.500000000|\\x006162|f|12:34:56.5|{\"k\":[1,\"v\"]}|POINT (1.5 2)|{a,\"\",c}",
            "2|NULL|NULL|\\x|f|NULL|NULL|NULL|{}",
        ]
    );
}

const INCR: &str = r#"
project("bq_incr");
let bq = connect("bq");
let dw = connect("warehouse");
task("table", |run| {
    dw.load(#{ from: bq.table("orders"), into: "orders", key: ["id"], cursor: "updated_at" })
});
task("sql", |run| {
    dw.load(#{
        from: bq.sql("SELECT id, amount, updated_at FROM ds.orders WHERE updated_at >= :since AND updated_at < :until"),
        into: "orders_sql",
        key: ["id"],
        cursor: "updated_at",
    })
});
task("at", |run| {
    dw.load(#{
        from: bq.sql("SELECT id, amount, updated_at FROM ds.orders WHERE updated_at >= @since AND updated_at < @until"),
        into: "orders_at",
        key: ["id"],
        cursor: "updated_at",
    })
});
"#;

const MORE: &str = r#"
project("bq_more");
let bq = connect("bq");
task("more", |run| {
    bq.execute("UPDATE ds.orders SET amount = 99.99, updated_at = DATETIME '2024-01-05 00:00:00' WHERE id = 2");
    bq.execute("INSERT INTO ds.orders VALUES (:id, 40.4, DATETIME '2024-01-06 00:00:00')", #{ id: 4 });
});
"#;

fn full_then_incremental(sb: &Sandbox, rows: &dyn Fn(&str) -> Vec<String>) {
    sb.project("bq_incr", INCR);
    sb.project("bq_more", MORE);
    sb.exec_with("bq_incr", &["--load-type", "F"], &[]).ok();
    for t in ["orders", "orders_sql", "orders_at"] {
        assert_eq!(
            rows(&format!("SELECT id, amount FROM {t} ORDER BY id")),
            ["1|10.500000000", "2|20.000000000", "3|30.250000000"],
            "{t}"
        );
    }
    sb.exec("bq_more", &[]).ok();
    sb.exec_with("bq_incr", &["--load-type", "I"], &[]).ok();
    for t in ["orders", "orders_sql", "orders_at"] {
        assert_eq!(
            rows(&format!("SELECT id, amount FROM {t} ORDER BY id")),
            [
                "1|10.500000000",
                "2|99.990000000",
                "3|30.250000000",
                "4|40.400000000"
            ],
            "{t}"
        );
    }
}

#[test]
fn full_then_incremental_loads_into_postgresql() {
    let Some(fake) = Fake::start() else {
        return;
    };
    let dw = PgTestDb::new("bq_incr");
    let sb = ready(&fake).on_postgres(&dw);
    full_then_incremental(&sb, &|sql| {
        text(&dw, &sql.replace(" FROM ", " FROM public."))
    });
    let loads = text(
        &dw,
        "SELECT load_type || ':' || status FROM etl.etl_runs WHERE target_table LIKE '%orders%' ORDER BY id",
    );
    assert_eq!(
        loads,
        [
            "F:success",
            "F:success",
            "F:success",
            "I:success",
            "I:success",
            "I:success"
        ]
    );
    // The incremental runs read the window after the full load's watermark, not everything.
    let read = text(
        &dw,
        "SELECT number_of_records FROM etl.etl_runs WHERE load_type = 'I' ORDER BY id",
    );
    assert!(read.iter().all(|n| n != "4"), "{read:?}");
}

#[test]
fn full_then_incremental_loads_into_sqlite() {
    let Some(fake) = Fake::start() else {
        return;
    };
    let sb = ready(&fake);
    full_then_incremental(&sb, &|sql| sb.sqlite(sql));
    let loads = sb.sqlite(
        "SELECT load_type || ':' || status FROM etl_runs WHERE target_table LIKE '%orders%' ORDER BY id",
    );
    assert_eq!(
        loads,
        [
            "F:success",
            "F:success",
            "F:success",
            "I:success",
            "I:success",
            "I:success"
        ]
    );
}

#[test]
fn bad_credentials_and_bad_sql_fail_clearly_and_leave_the_target_as_it_was() {
    let Some(fake) = Fake::start() else {
        return;
    };
    let dw = PgTestDb::new("bq_fail");
    let sb = ready(&fake).on_postgres(&dw);
    sb.project("bq_types", TYPES);
    sb.exec("bq_types", &[]).ok();
    let before = text(&dw, "SELECT id, s FROM raw.t1 ORDER BY id");

    let stranger = fake.url(false);
    let run = sb
        .exec("bq_types", &[("ETL_CONN_BQ", stranger.as_str())])
        .failed();
    assert_contains(&run.output, "connection 'bq'");
    assert_contains(&run.output, "was refused a token");

    sb.project(
        "bq_bad_sql",
        r#"project("bq_types");
        let bq = connect("bq"); let dw = connect("warehouse");
        task("t1", |run| { dw.load(#{ from: bq.sql("SELECT id, s FROM ds.no_such_table"), into: "raw.t1" }); });"#,
    );
    let run = sb.exec("bq_bad_sql", &[]).failed();
    assert_contains(&run.output, "no_such_table");
    assert_contains(&run.output, "connection 'bq'");

    assert_eq!(text(&dw, "SELECT id, s FROM raw.t1 ORDER BY id"), before);
    assert_eq!(
        text(&dw, "SELECT status FROM etl.etl_runs ORDER BY id"),
        ["success", "failed", "failed"]
    );
}

#[test]
fn read_only_contexts_refuse_statements_that_are_not_queries() {
    let Some(fake) = Fake::start() else {
        return;
    };
    let sb = ready(&fake);
    sb.project(
        "bq_ro",
        r#"project("bq_ro");
        let bq = connect("bq");
        task("peek", |run| { print(`rows: ${bq.query("SELECT id FROM ds.t1 ORDER BY id").len()}`); });
        task("sneak", #{ after: ["peek"] }, |run| { bq.query("DELETE FROM ds.t1 WHERE true"); });"#,
    );
    let run = sb.exec_with("bq_ro", &["--dry-run"], &[]).failed();
    assert_contains(&run.output, "rows: 3");
    assert_contains(&run.output, "BigQuery has no read-only transactions");
    // A script that starts with SELECT passes the keyword check; it is refused as more than
    // one statement before BigQuery sees it (bqemulator's dry run would even run it).
    sb.project(
        "bq_ro2",
        r#"project("bq_ro2");
        let bq = connect("bq");
        task("sneak", |run| { bq.query("SELECT 1; DELETE FROM ds.t1 WHERE true"); });"#,
    );
    let run = sb.exec_with("bq_ro2", &["--dry-run"], &[]).failed();
    assert_contains(&run.output, "this text holds 2 statements");
    // Neither DELETE ran: a normal run still sees all three rows.
    sb.project(
        "bq_count",
        r#"project("bq_count");
        let bq = connect("bq");
        task("count", |run| { print(`count: ${bq.scalar("SELECT count(*) FROM ds.t1")}`); });"#,
    );
    let run = sb.exec("bq_count", &[]).ok();
    assert_contains(&run.output, "count: 3");
}

#[test]
fn credentials_come_from_the_url_or_google_application_credentials_and_a_missing_key_fails_clearly()
{
    let Some(fake) = Fake::start() else {
        return;
    };
    let dw = PgTestDb::new("bq_creds");
    let sb = ready(&fake).on_postgres(&dw);
    sb.project("bq_types", TYPES);

    // No credentials= in the URL: GOOGLE_APPLICATION_CREDENTIALS names the key file.
    let key = fake.key_file(true).display().to_string();
    let bare = fake.url_without_key();
    sb.exec(
        "bq_types",
        &[
            ("ETL_CONN_BQ", bare.as_str()),
            ("GOOGLE_APPLICATION_CREDENTIALS", key.as_str()),
        ],
    )
    .ok();
    assert_eq!(text(&dw, "SELECT count(*) FROM raw.t1"), ["3"]);

    // Neither: the error says where credentials come from.
    let run = sb
        .exec("bq_types", &[("ETL_CONN_BQ", bare.as_str())])
        .failed();
    assert_contains(&run.output, "connection 'bq'");
    assert_contains(&run.output, "GOOGLE_APPLICATION_CREDENTIALS");

    // A key file that is not there: named, with what to do, and no secret printed.
    let missing = format!(
        "bigquery://p1/ds?credentials=/nonexistent/sa.json&api=http://127.0.0.1:{}",
        fake.port
    );
    let run = sb
        .exec("bq_types", &[("ETL_CONN_BQ", missing.as_str())])
        .failed();
    assert_contains(&run.output, "connection 'bq'");
    assert_contains(&run.output, "/nonexistent/sa.json");
    assert_contains(&run.output, "service-account key file");

    // A key file that is not a service-account key.
    let junk = sb.dir.path().join("junk.json");
    std::fs::write(&junk, r#"{"type": "authorized_user", "client_id": "x"}"#).expect("junk");
    let junk_url = format!(
        "bigquery://p1/ds?credentials={}&api=http://127.0.0.1:{}",
        junk.display(),
        fake.port
    );
    let run = sb
        .exec("bq_types", &[("ETL_CONN_BQ", junk_url.as_str())])
        .failed();
    assert_contains(&run.output, "service-account key file");

    let pem = std::fs::read_to_string(fake.keys.path().join("rsa_key.p8")).expect("key");
    let secret_line = pem.lines().nth(1).expect("a key line");
    assert!(!run.output.contains(secret_line));

    assert_eq!(text(&dw, "SELECT count(*) FROM raw.t1"), ["3"]);
    assert_eq!(
        text(&dw, "SELECT status FROM etl.etl_runs ORDER BY id"),
        ["success", "failed", "failed", "failed"]
    );
}

#[test]
fn plan_prints_the_bigquery_statement_with_named_parameters() {
    let Some(fake) = Fake::start() else {
        return;
    };
    let dw = PgTestDb::new("bq_plan");
    let sb = ready(&fake).on_postgres(&dw);
    sb.project("bq_incr", INCR);
    sb.exec_with("bq_incr", &["--load-type", "F"], &[]).ok();
    let records = text(&dw, "SELECT count(*) FROM etl.etl_runs");
    let plan = sb.exec_with("bq_incr", &["plan", "--load-type", "I"], &[]);
    assert_eq!(plan.code, 0, "{}", plan.output);
    assert_contains(&plan.output, "SELECT * FROM `ds`.`orders` WHERE");
    assert_contains(&plan.output, "`updated_at` >=");
    assert_contains(
        &plan.output,
        "SELECT id, amount, updated_at FROM ds.orders WHERE updated_at >=",
    );
    assert_eq!(
        text(&dw, "SELECT count(*) FROM etl.etl_runs"),
        records,
        "the plan wrote no audit record"
    );
}

#[test]
#[ignore = "measurement: 1M rows through bqemulator take minutes; run with --ignored"]
fn a_million_rows_stream_with_flat_memory() {
    let Some(fake) = Fake::start() else {
        return;
    };
    let dw = PgTestDb::new("bq_big");
    // The default page size (10000 rows).
    let url = fake.url(true).replace("&page_rows=2", "");
    let sb = sandbox(&url).on_postgres(&dw);
    sb.project(
        "bq_bigsetup",
        r#"project("bq_bigsetup");
        let bq = connect("bq");
        task("setup", |run| {
            bq.execute("CREATE SCHEMA ds");
            bq.execute("CREATE TABLE ds.big AS SELECT id, MOD(id, 97) AS qty, CAST(id AS NUMERIC) / 100 AS amount, CONCAT('note ', CAST(id AS STRING)) AS note, TIMESTAMP_ADD(TIMESTAMP '2024-01-01 00:00:00+00', INTERVAL id SECOND) AS created_at FROM UNNEST(GENERATE_ARRAY(1, 1000000)) AS id");
        });"#,
    );
    sb.exec("bq_bigsetup", &[]).ok();
    sb.project(
        "bq_big",
        r#"project("bq_big");
        let bq = connect("bq"); let dw = connect("warehouse");
        task("big", |run| { dw.load(#{ from: bq.table("big"), into: "raw.big" }); });"#,
    );
    let mut cmd = sb.command(&["exec", "projects/bq_big/project.rhai"]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("etl");
    let (status, peak) = peak_rss_kib(&mut child);
    assert!(status.success(), "the load failed");
    eprintln!(
        "1M rows BigQuery (bqemulator) -> PostgreSQL: {:.1}s, peak RSS {:.1} MiB",
        started.elapsed().as_secs_f64(),
        peak as f64 / 1024.0
    );
    assert_eq!(
        text(&dw, "SELECT count(*), sum(id) FROM raw.big"),
        ["1000000|500000500000"]
    );
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB is not under 64 MiB");
}

#[test]
fn timestamp_cursors_are_bound_as_timestamp_parameters() {
    let Some(fake) = Fake::start() else {
        return;
    };
    let sb = ready(&fake);
    sb.project(
        "bq_ev",
        r#"project("bq_ev");
        let bq = connect("bq"); let dw = connect("warehouse");
        task("setup", |run| {
            if run.load_type == "F" {
                bq.execute("CREATE TABLE ds.ev (id INT64, happened TIMESTAMP)");
                bq.execute("INSERT INTO ds.ev VALUES (1, TIMESTAMP '2024-03-01 10:00:00+02'), (2, TIMESTAMP '2024-03-01 09:00:00.5+00')");
            } else {
                bq.execute("INSERT INTO ds.ev VALUES (3, TIMESTAMP '2024-03-02 00:00:00+00'), (4, TIMESTAMP '2024-02-01 00:00:00+00')");
            }
        });
        task("ev", #{ after: ["setup"] }, |run| {
            dw.load(#{
                from: bq.sql("SELECT id, happened FROM ds.ev WHERE happened >= @since AND happened < @until"),
                into: "ev", key: ["id"], cursor: "happened",
            })
        });"#,
    );
    sb.exec_with("bq_ev", &["--load-type", "F"], &[]).ok();
    sb.exec_with("bq_ev", &["--load-type", "I"], &[]).ok();
    // id 4 is older than the watermark (09:00:00.5 UTC, id 2): the window leaves it out; id 2
    // is read again at the boundary (a merge, so nothing doubles).
    assert_eq!(sb.sqlite("SELECT id FROM ev ORDER BY id"), ["1", "2", "3"]);
    assert_eq!(
        sb.sqlite("SELECT load_type || ':' || number_of_records FROM etl_runs WHERE task = 'ev' ORDER BY id"),
        ["F:2", "I:2"]
    );
}

#[test]
fn run_file_runs_a_script_in_one_transaction() {
    let Some(fake) = Fake::start() else {
        return;
    };
    let sb = ready(&fake);
    let sql = sb.dir.path().join("projects/bq_rf/sql");
    std::fs::create_dir_all(&sql).expect("mkdir");
    std::fs::write(
        sql.join("ok.sql"),
        "CREATE TABLE ds.rf (id INT64);\nINSERT INTO ds.rf VALUES (1), (2);\nUPDATE ds.rf SET id = id + 10 WHERE true;\n",
    )
    .expect("ok.sql");
    std::fs::write(
        sql.join("bad.sql"),
        "INSERT INTO ds.rf VALUES (5);\nSELECT * FROM ds.no_such_table;\n",
    )
    .expect("bad.sql");
    sb.project(
        "bq_rf",
        r#"project("bq_rf");
        let bq = connect("bq");
        task("ok", |run| { bq.run_file("sql/ok.sql"); print(`ids: ${bq.query("SELECT id FROM ds.rf ORDER BY id").map(|r| r.id)}`); });
        task("bad", #{ after: ["ok"] }, |run| { bq.run_file("sql/bad.sql"); });"#,
    );
    let run = sb.exec("bq_rf", &[]).failed();
    assert_contains(&run.output, "ids: [11, 12]");
    assert_contains(&run.output, "sql/bad.sql");
    assert_contains(&run.output, "no_such_table");
    // The failed script's INSERT was rolled back with it.
    sb.project(
        "bq_rf2",
        r#"project("bq_rf2");
        let bq = connect("bq");
        task("count", |run| { print(`count: ${bq.scalar("SELECT count(*) FROM ds.rf")}`); });"#,
    );
    assert_contains(&sb.exec("bq_rf2", &[]).ok().output, "count: 2");
}

/// A dataset of its own for the catalog: tables with and without REQUIRED columns, two that a
/// glob picks, a view (left out), and a second dataset named as `schema`.
const CATALOG_SETUP: &str = r#"
project("bq_catalog_setup");
let bq = connect("bq");
task("setup", |run| {
    bq.execute("CREATE SCHEMA cat");
    bq.execute("CREATE SCHEMA other");
    bq.execute("CREATE TABLE cat.orders (id INT64 NOT NULL, amount NUMERIC, note STRING, updated_at DATETIME)");
    bq.execute("INSERT INTO cat.orders VALUES (1, 10.5, 'a', DATETIME '2024-01-01 00:00:00'), (2, 20, '', DATETIME '2024-01-02 00:00:00'), (3, NULL, NULL, NULL)");
    bq.execute("CREATE TABLE cat.sales_2023 (id INT64, qty INT64)");
    bq.execute("INSERT INTO cat.sales_2023 VALUES (1, 5), (2, 7), (3, 9)");
    bq.execute("CREATE TABLE cat.sales_2024 (id INT64, qty INT64)");
    bq.execute("INSERT INTO cat.sales_2024 VALUES (1, 50)");
    bq.execute("CREATE TABLE cat.nested (id INT64 NOT NULL, arr ARRAY<INT64>, rec STRUCT<a INT64, b STRING>, ts TIMESTAMP, ok BOOL, f FLOAT64, d DATE, b BYTES)");
    bq.execute("INSERT INTO cat.nested VALUES (1, [1, 2], STRUCT(7 AS a, 'x' AS b), TIMESTAMP '2024-03-01 10:00:00+02', true, 1.5, DATE '2024-03-01', b'ab'), (2, [], NULL, NULL, NULL, NULL, NULL, NULL)");
    bq.execute("CREATE VIEW cat.orders_view AS SELECT id FROM cat.orders");
    bq.execute("CREATE TABLE other.x (k STRING NOT NULL)");
});
"#;

const CATALOG: &str = r#"
import "etl/copy" as copy;
project("bq_catalog", #{ target: "warehouse" });
let bq = connect("bq");
let dw = connect("warehouse");
log_info(`tables: ${bq.tables()}`);
log_info(`glob: ${bq.tables("sales_*")}`);
log_info(`filtered: ${bq.tables(#{ include: ["*s*"], exclude: ["sales_2023"] })}`);
log_info(`in schema: ${bq.tables(#{ schema: "other" })}`);
for c in bq.columns("orders") { log_info(`column: ${c.name} ${c.type} ${c.nullable}`); }
for c in bq.columns("nested") { log_info(`nested column: ${c.name} ${c.type} ${c.nullable}`); }
for c in bq.columns("other.x") { log_info(`qualified column: ${c.name} ${c.type} ${c.nullable}`); }
for c in bq.columns("p1.other.x") { log_info(`project column: ${c.name} ${c.type}`); }
log_info(`key: ${bq.primary_key("orders")}`);
try { bq.columns("no_such_table"); } catch (e) { log_info(`missing: ${e}`); }
try { bq.primary_key("no_such_table"); } catch (e) { log_info(`missing key: ${e}`); }
try { bq.columns("a.b.c.d"); } catch (e) { log_info(`bad name: ${e}`); }
try { bq.columns("other.no_such_table"); } catch (e) { log_info(`missing elsewhere: ${e}`); }
let copied = copy::database(bq, dw, #{ into_schema: "raw" });
log_info(`tasks: ${copied}`);
"#;

#[test]
fn introspection_lists_tables_columns_and_keys_and_copy_database_replicates_them() {
    let Some(fake) = Fake::start() else {
        return;
    };
    let dw = PgTestDb::new("bq_catalog");
    // The connection's dataset is `cat`.
    let sb = sandbox(&fake.url(true).replace("/ds?", "/cat?")).on_postgres(&dw);
    sb.project("bq_catalog_setup", CATALOG_SETUP);
    sb.exec("bq_catalog_setup", &[]).ok();
    sb.project("bq_catalog", CATALOG);
    let run = sb.exec("bq_catalog", &[]).ok();
    for line in [
        // Base tables only (no orders_view), sorted.
        r#"tables: ["nested", "orders", "sales_2023", "sales_2024"]"#,
        r#"glob: ["sales_2023", "sales_2024"]"#,
        r#"filtered: ["nested", "orders", "sales_2024"]"#,
        r#"in schema: ["other.x"]"#,
        // BigQuery's words; REQUIRED is the only mode that is not nullable.
        "column: id INT64 false",
        "column: amount NUMERIC true",
        "column: note STRING true",
        "column: updated_at DATETIME true",
        "nested column: id INT64 false",
        "nested column: arr ARRAY<INT64> true",
        "nested column: rec STRUCT<a INT64, b STRING> true",
        "nested column: ts TIMESTAMP true",
        "nested column: ok BOOL true",
        "nested column: f FLOAT64 true",
        "nested column: d DATE true",
        "nested column: b BYTES true",
        "qualified column: k STRING false",
        "project column: k STRING",
        // bqemulator keeps no table constraints (and refuses PRIMARY KEY .. NOT ENFORCED).
        "key: []",
        "missing: configuration: connection 'bq': there is no table 'no_such_table' (list them with bq.tables())",
        "missing key: configuration: connection 'bq': there is no table 'no_such_table'",
        "bad name: configuration: connection 'bq': 'a.b.c.d' is not a table name",
        r#"missing elsewhere: configuration: connection 'bq': there is no table 'other.no_such_table' (list them with bq.tables(#{ schema: "DATASET" }))"#,
        "copy::database: orders -> raw.orders (no primary key: loads in full)",
        r#"tasks: ["raw.nested", "raw.orders", "raw.sales_2023", "raw.sales_2024"]"#,
    ] {
        assert_contains(&run.output, line);
    }
    assert!(!run.output.contains("orders_view"), "{}", run.output);
    // Every table arrived exactly.
    assert_eq!(
        text(
            &dw,
            "SELECT id, amount, note IS NULL, note, updated_at FROM raw.orders ORDER BY id"
        ),
        [
            "1|10.500000000|f|a|2024-01-01 00:00:00",
            "2|20.000000000|f||2024-01-02 00:00:00",
            "3|NULL|t|NULL|NULL"
        ]
    );
    assert_eq!(
        text(&dw, "SELECT id, qty FROM raw.sales_2023 ORDER BY id"),
        ["1|5", "2|7", "3|9"]
    );
    assert_eq!(text(&dw, "SELECT id, qty FROM raw.sales_2024"), ["1|50"]);
    assert_eq!(
        text(
            &dw,
            "SELECT id, arr::text, rec::text, ts, ok, f, d, encode(b, 'hex') FROM raw.nested ORDER BY id"
        ),
        [
            "1|{1,2}|{\"a\":\"7\",\"b\":\"x\"}|2024-03-01 08:00:00+00|t|1.5|2024-03-01|6162",
            "2|{}|NULL|NULL|NULL|NULL|NULL|NULL"
        ]
    );
    // One audit record per table, all successful; the view was not copied.
    assert_eq!(
        text(
            &dw,
            "SELECT target_table || ':' || status FROM etl.etl_runs WHERE project = 'bq_catalog' ORDER BY target_table"
        ),
        [
            "raw.nested:success",
            "raw.orders:success",
            "raw.sales_2023:success",
            "raw.sales_2024:success"
        ]
    );
    assert_eq!(
        text(
            &dw,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'raw' AND tablename = 'orders_view'"
        ),
        ["0"]
    );

    // `etl check` reads the same catalog for the task list, and says so.
    let mut cmd = sb.command(&["check", "projects/bq_catalog/project.rhai"]);
    let out = cmd.output().expect("etl check");
    let check =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{check}");
    for line in [
        "is valid: 4 tasks",
        "  raw.nested\n",
        "  raw.sales_2024\n",
        "Connected to 'bq' to list tables",
    ] {
        assert_contains(&check, line);
    }

    // A key BigQuery refuses fails the catalog read with the connection's name, before any
    // task is defined; nothing more is written.
    let stranger = fake.url(false).replace("/ds?", "/cat?");
    let run = sb
        .exec("bq_catalog", &[("ETL_CONN_BQ", stranger.as_str())])
        .failed();
    assert_contains(&run.output, "connection 'bq'");
    assert_contains(&run.output, "was refused a token");
    assert_eq!(
        text(
            &dw,
            "SELECT count(*) FROM etl.etl_runs WHERE project = 'bq_catalog'"
        ),
        ["4"]
    );
}
