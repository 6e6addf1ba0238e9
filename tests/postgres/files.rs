//! File sources into PostgreSQL: a glob of gzip CSVs and a zstd JSON file, loaded by the real
//! binary into a throwaway database, values and column types read back from PostgreSQL.

use std::io::Write;

use crate::common::{column_types, text, PgTestDb};
use crate::Sandbox;

fn gzip(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn zstd(text: &str) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(text.as_bytes(), ruzstd::encoding::CompressionLevel::Fastest)
}

pub(crate) fn put(s: &Sandbox, rel: &str, bytes: &[u8]) {
    let path = s.path(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn gzip_csv_glob_and_zstd_json_load_exact_values() {
    let db = PgTestDb::new("pg_files");
    let s = Sandbox::new(&db, &[]);
    put(
        &s,
        "projects/files/project.rhai",
        br#"
project("files");
let dw = connect("warehouse");
task("orders", |run| {
    dw.load(#{ from: csv_file("raw/orders_*.csv.gz", #{ file_column: "_file" }), into: "orders" })
});
task("events", |run| {
    dw.load(#{ from: json_file("raw/events.json.zst"), into: "events" })
});
"#,
    );
    put(
        &s,
        "projects/files/raw/orders_2024-01-02.csv.gz",
        &gzip("id,amount,note\n3,0.10,\"\"\n"),
    );
    put(
        &s,
        "projects/files/raw/orders_2024-01-01.csv.gz",
        &gzip("id,amount,note\n1,12.50,\"a,b\"\n2,-3.25,\n"),
    );
    put(
        &s,
        "projects/files/raw/events.json.zst",
        &zstd(concat!(
            "[{\"id\": 1, \"price\": 19.990, \"at\": \"2024-01-31T10:00:00Z\", \"payload\": {\"a\": [1, 2.50]}},\n",
            " {\"id\": 2, \"price\": 123456789012345678901.5, \"at\": null, \"payload\": null}]\n"
        )),
    );
    let warehouse = s.warehouse.clone();
    let run = s
        .exec_env(&warehouse, &[("ETL_LOG", "etl=debug")], "files", &[])
        .ok();
    // Both are encoded for the COPY as they are read.
    run.contains("(no values built on the way). table=orders\n");
    run.contains("(no values built on the way). table=events\n");
    assert_eq!(
        text(
            &db,
            "SELECT id, amount, note, _file FROM orders ORDER BY id"
        ),
        [
            "1|12.50|a,b|raw/orders_2024-01-01.csv.gz",
            "2|-3.25|NULL|raw/orders_2024-01-01.csv.gz",
            "3|0.10||raw/orders_2024-01-02.csv.gz",
        ]
    );
    assert_eq!(
        column_types(&db, "events"),
        [
            "id integer",
            "price numeric(24,3)",
            "at timestamp with time zone",
            "payload json"
        ]
    );
    assert_eq!(
        text(
            &db,
            "SET TIME ZONE 'UTC'; SELECT id, price, at, payload::text FROM events ORDER BY id"
        ),
        [
            "1|19.990|2024-01-31 10:00:00+00|{\"a\": [1, 2.50]}",
            "2|123456789012345678901.500|NULL|NULL",
        ]
    );
}

/// moto's S3 server on a free loopback port, stopped when dropped.
pub(crate) struct Moto {
    child: std::process::Child,
    venv: crate::common::venv::Venv,
    pub(crate) endpoint: String,
}

impl Moto {
    /// Fails the test with the reason when moto cannot be installed here.
    pub(crate) fn start() -> Option<Moto> {
        let venv = match crate::common::venv::ensure("moto", &["moto[server]"]) {
            Ok(v) => v,
            Err(why) => {
                panic!("cannot start moto_server: moto[server] does not install: {why}");
            }
        };
        let port = crate::common::venv::free_port();
        let child = std::process::Command::new(venv.bin("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting moto_server");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "moto_server did not listen on {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Some(Moto {
            child,
            venv,
            endpoint: format!("http://127.0.0.1:{port}"),
        })
    }

    /// Creates `bucket` and uploads `objects` (key, bytes) with boto3, a client other than ours.
    pub(crate) fn put(&self, bucket: &str, objects: &[(&str, Vec<u8>)]) {
        let dir = tempfile::tempdir().unwrap();
        let mut script = format!(
            "import boto3\ns3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-1', \
             aws_access_key_id='k', aws_secret_access_key='s')\ns3.create_bucket(Bucket='{bucket}')\n",
            self.endpoint
        );
        for (i, (key, bytes)) in objects.iter().enumerate() {
            let file = dir.path().join(i.to_string());
            std::fs::write(&file, bytes).unwrap();
            script.push_str(&format!(
                "s3.upload_file({:?}, '{bucket}', '{key}')\n",
                file.display().to_string()
            ));
        }
        let out = std::process::Command::new(self.venv.python())
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "boto3: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) const SECRET: &str = "moto-secret-never-printed";

/// `etl exec` with the AWS variables pointing at moto.
pub(crate) fn exec_s3(s: &Sandbox, moto: &Moto, project: &str) -> crate::Run {
    let out = std::process::Command::new(crate::BIN)
        .current_dir(s.path(""))
        .env("ETL_CONN_WAREHOUSE", &s.warehouse)
        .env_remove("ETL_ENV")
        .env_remove("ETL_CONFIG")
        .env("AWS_ACCESS_KEY_ID", "moto-key")
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .arg("exec")
        .arg(format!("projects/{project}/project.rhai"))
        .output()
        .expect("running etl");
    crate::Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_glob_of_gzip_csvs_in_s3_loads_into_postgresql_and_sqlite() {
    let Some(moto) = Moto::start() else { return };
    moto.put(
        "lake",
        &[
            (
                "raw/orders/2024-01-02.csv.gz",
                gzip("id,amount,note\n3,0.10,\"\"\n"),
            ),
            (
                "raw/orders/2024-01-01.csv.gz",
                gzip("id,amount,note\n1,12.50,\"a,b\"\n2,-3.25,\n"),
            ),
            ("raw/orders/readme.txt", b"not data".to_vec()),
            ("raw/other/2024-01-01.csv.gz", gzip("x\n1\n")),
        ],
    );
    let db = PgTestDb::new("pg_s3");
    let s = Sandbox::new(&db, &[]);
    put(
        &s,
        "projects/s3/project.rhai",
        br#"
project("s3");
let dw = connect("warehouse");
let lite = connect("lite");
task("orders", |run| {
    let from = csv_file("s3://lake/raw/orders/*.csv.gz", #{ file_column: "_file" });
    dw.load(#{ from: from, into: "orders" });
    lite.load(#{ from: from, into: "orders" })
});
"#,
    );
    let run = exec_s3(&s, &moto, "s3");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected = [
        "1|12.50|a,b|s3://lake/raw/orders/2024-01-01.csv.gz",
        "2|-3.25|NULL|s3://lake/raw/orders/2024-01-01.csv.gz",
        "3|0.10||s3://lake/raw/orders/2024-01-02.csv.gz",
    ];
    assert_eq!(
        text(
            &db,
            "SELECT id, amount, note, _file FROM orders ORDER BY id"
        ),
        expected
    );
    let lite = rusqlite::Connection::open(s.path("metadata/lite.db")).unwrap();
    let mut stmt = lite
        .prepare("SELECT id, amount, note, _file FROM orders ORDER BY id")
        .unwrap();
    let rows: Vec<String> = stmt
        .query_map([], |r| {
            let cell = |i: usize| -> rusqlite::Result<String> {
                Ok(match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => "NULL".into(),
                    rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into(),
                    other => format!("{other:?}"),
                })
            };
            Ok(format!(
                "{}|{}|{}|{}",
                cell(0)?,
                cell(1)?,
                cell(2)?,
                cell(3)?
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows, expected);
}

#[test]
fn a_missing_bucket_fails_clearly_without_secrets_and_leaves_the_table() {
    let Some(moto) = Moto::start() else { return };
    moto.put("lake", &[("raw/a.csv.gz", gzip("id\n1\n"))]);
    let db = PgTestDb::new("pg_s3_missing");
    db.execute("CREATE TABLE orders (id int); INSERT INTO orders VALUES (7);");
    let s = Sandbox::new(&db, &[]);
    put(
        &s,
        "projects/s3/project.rhai",
        br#"
project("s3");
let dw = connect("warehouse");
task("orders", |run| {
    dw.load(#{ from: csv_file("s3://no-such-bucket/raw/*.csv.gz"), into: "orders" })
});
task("one", |run| {
    dw.load(#{ from: csv_file("s3://lake/raw/missing.csv.gz"), into: "orders" })
});
"#,
    );
    let run = exec_s3(&s, &moto, "s3");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("csv_file(\"s3://no-such-bucket/raw/*.csv.gz\"): bucket 'no-such-bucket'"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("s3://lake/raw/missing.csv.gz does not exist"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(SECRET), "{}", run.stderr);
    assert_eq!(text(&db, "SELECT id FROM orders"), ["7"]);
}
