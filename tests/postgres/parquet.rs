//! Parquet files written by pyarrow, loaded by the real binary into PostgreSQL: exact types
//! and values (decimals, timestamps in ms/us/ns with and without a zone, lists, structs,
//! NULLs), and globbed objects in S3 (moto) loaded incrementally, file by file, across runs.

use std::path::Path;

use super::files::{exec_s3, put, Moto};
use crate::common::venv;
use crate::common::{column_types, text, PgTestDb};
use crate::Sandbox;

/// Writes the fixtures into `dir` with pyarrow; fails the test with the reason when it cannot
/// install (PyPI answers on this machine kind).
fn pyarrow(dir: &Path, script: &str) -> Option<()> {
    let venv = match venv::ensure("pyarrow", &["pyarrow"]) {
        Ok(v) => v,
        Err(why) => {
            panic!("cannot write the Parquet fixtures: pyarrow does not install: {why}");
        }
    };
    std::fs::create_dir_all(dir).unwrap();
    let out = std::process::Command::new(venv.python())
        .args(["-c", script])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pyarrow: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(())
}

const TYPES: &str = r#"
import sys, datetime as dt, decimal as D, pyarrow as pa, pyarrow.parquet as pq
out = sys.argv[1]
utc = dt.timezone.utc
t = pa.table({
    "id": pa.array([1, 2, 3], pa.int64()),
    "amount": pa.array([D.Decimal("12.50"), D.Decimal("-0.01"), None], pa.decimal128(12, 2)),
    "big": pa.array([D.Decimal("123456789012345678901234567890.1234567890"), D.Decimal("-1.0000000000"), None], pa.decimal256(40, 10)),
    "at_ms": pa.array([dt.datetime(2024, 1, 31, 10, 0, 0, 123000), None, dt.datetime(1969, 12, 31, 23, 59, 59)], pa.timestamp("ms")),
    "at_us_utc": pa.array([dt.datetime(2024, 1, 31, 10, 0, 0, 123456, tzinfo=utc), None, dt.datetime(2000, 1, 1, tzinfo=utc)], pa.timestamp("us", tz="UTC")),
    "at_ns_ny": pa.array([1706695200123456000, None, 0], pa.timestamp("ns", tz="America/New_York")),
    "day": pa.array([dt.date(2024, 2, 29), None, dt.date(1900, 1, 1)], pa.date32()),
    "clock": pa.array([dt.time(23, 59, 59, 999999), None, dt.time(0, 0)], pa.time64("us")),
    "raw": pa.array([b"\x00\xff", None, b""], pa.binary()),
    "name": pa.array(["\u00e9\"x", None, ""], pa.string()),
    "tags": pa.array([[1, None, 3], None, []], pa.list_(pa.int32())),
    "attrs": pa.array([{"k": "v", "n": 1}, None, {"k": None, "n": 2}], pa.struct([("k", pa.string()), ("n", pa.int64())])),
})
pq.write_table(t.slice(0, 2), out + "/types_1.parquet")
pq.write_table(t.slice(2), out + "/types_2.parquet", compression="zstd")
pq.write_table(pa.table({"at": pa.array([1706695200123456789], pa.timestamp("ns"))}), out + "/nanos.parquet")
"#;

#[test]
fn pyarrow_types_load_into_postgresql_exactly() {
    let db = PgTestDb::new("pg_parquet_types");
    let s = Sandbox::new(&db, &[]);
    if pyarrow(&s.path("projects/pq/raw"), TYPES).is_none() {
        return;
    }
    put(
        &s,
        "projects/pq/project.rhai",
        br#"
project("pq");
let dw = connect("warehouse");
task("types", |run| {
    dw.load(#{ from: parquet_file("raw/types_*.parquet", #{ file_column: "_file" }), into: "types" })
});
task("nanos", |run| {
    dw.load(#{ from: parquet_file("raw/nanos.parquet", #{ nanoseconds: "truncate" }), into: "nanos" })
});
"#,
    );
    let warehouse = s.warehouse.clone();
    let run = s.exec_env(&warehouse, &[("ETL_LOG", "etl=debug")], "pq", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The rows are encoded for the COPY as they are read, file column included.
    run.contains("(no values built on the way). table=types\n");
    assert_eq!(
        column_types(&db, "types"),
        [
            "id bigint",
            "amount numeric(12,2)",
            "big numeric(40,10)",
            "at_ms timestamp without time zone",
            "at_us_utc timestamp with time zone",
            "at_ns_ny timestamp with time zone",
            "day date",
            "clock time without time zone",
            "raw bytea",
            "name text",
            "tags integer[]",
            "attrs json",
            "_file text",
        ]
    );
    assert_eq!(
        text(&db, "SET TIME ZONE 'UTC'; SELECT * FROM types ORDER BY id"),
        [
            "1|12.50|123456789012345678901234567890.1234567890|2024-01-31 10:00:00.123|2024-01-31 10:00:00.123456+00|2024-01-31 10:00:00.123456+00|2024-02-29|23:59:59.999999|\\x00ff|\u{e9}\"x|{1,NULL,3}|{\"k\":\"v\",\"n\":1}|raw/types_1.parquet",
            "2|-0.01|-1.0000000000|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|raw/types_1.parquet",
            "3|NULL|NULL|1969-12-31 23:59:59|2000-01-01 00:00:00+00|1970-01-01 00:00:00+00|1900-01-01|00:00:00|\\x||{}|{\"k\":null,\"n\":2}|raw/types_2.parquet",
        ]
    );
    assert_eq!(
        text(&db, "SELECT at FROM nanos"),
        ["2024-01-31 10:00:00.123456"]
    );
    assert!(
        run.stderr
            .contains("nanoseconds were truncated to microseconds"),
        "{}",
        run.stderr
    );

    // Without the option a value below the microsecond is refused, naming file, row and column.
    put(
        &s,
        "projects/pq/project.rhai",
        br#"
project("pq");
let dw = connect("warehouse");
task("nanos", |run| {
    dw.load(#{ from: parquet_file("raw/nanos.parquet"), into: "nanos", mode: "append" })
});
"#,
    );
    let run = s.exec("pq", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("raw/nanos.parquet:1: column 'at': the value 1706695200123456789 ns has digits below the microsecond"),
        "{}",
        run.stderr
    );
    assert_eq!(text(&db, "SELECT count(*) FROM nanos"), ["1"]);
}

/// Orders per day; `2024-01-02` is written twice (the second time changed).
const ORDERS: &str = r#"
import sys, decimal as D, pyarrow as pa, pyarrow.parquet as pq
out = sys.argv[1]
def day(name, ids, amounts):
    pq.write_table(pa.table({
        "id": pa.array(ids, pa.int64()),
        "amount": pa.array([D.Decimal(a) for a in amounts], pa.decimal128(10, 2)),
    }), out + "/" + name, row_group_size=1)
day("orders_2024-01-01.parquet", [1, 2], ["10.00", "20.50"])
day("orders_2024-01-02.parquet", [3], ["30.00"])
day("orders_2024-01-03.parquet", [4], ["40.00"])
day("changed_2024-01-02.parquet", [3, 5], ["33.33", "50.00"])
"#;

fn script(on_change: &str) -> String {
    format!(
        r#"
project("inc");
let dw = connect("warehouse");
task("orders", |run| {{
    let from = parquet_file("s3://lake/pq/orders_*.parquet", #{{ incremental: "files", on_change: "{on_change}", file_column: "_file" }});
    dw.load(#{{ from: from, into: "orders", key: "id", mode: "merge" }})
}});
"#
    )
}

#[test]
fn parquet_objects_in_s3_load_file_by_file_across_runs() {
    let Some(moto) = Moto::start() else { return };
    let db = PgTestDb::new("pg_parquet_inc");
    let s = Sandbox::new(&db, &[]);
    let raw = s.path("fixtures");
    if pyarrow(&raw, ORDERS).is_none() {
        return;
    }
    let bytes = |name: &str| std::fs::read(raw.join(name)).unwrap();
    let objects = |names: &[(&str, &str)]| -> Vec<(String, Vec<u8>)> {
        names
            .iter()
            .map(|(key, file)| (format!("pq/{key}"), bytes(file)))
            .collect()
    };
    let upload = |list: Vec<(String, Vec<u8>)>| {
        let refs: Vec<(&str, Vec<u8>)> =
            list.iter().map(|(k, b)| (k.as_str(), b.clone())).collect();
        moto.put("lake", &refs);
    };
    let orders = || text(&db, "SELECT id, amount, _file FROM orders ORDER BY id");
    let files = || text(&db, "SELECT file, size FROM etl.etl_files ORDER BY file");
    let rows_of_last_load = || {
        text(
            &db,
            "SELECT number_of_records FROM etl.etl_runs WHERE status = 'success' ORDER BY id DESC LIMIT 1",
        )
    };
    std::fs::create_dir_all(s.path("projects/inc")).unwrap();
    s.write("projects/inc/project.rhai", &script("error"));

    // Run 1: two files.
    upload(objects(&[
        ("orders_2024-01-01.parquet", "orders_2024-01-01.parquet"),
        ("orders_2024-01-02.parquet", "orders_2024-01-02.parquet"),
    ]));
    let run = exec_s3(&s, &moto, "inc");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        orders(),
        [
            "1|10.00|s3://lake/pq/orders_2024-01-01.parquet",
            "2|20.50|s3://lake/pq/orders_2024-01-01.parquet",
            "3|30.00|s3://lake/pq/orders_2024-01-02.parquet",
        ]
    );
    assert_eq!(files().len(), 2);

    // Run 2: a new file is picked up; the old ones are not read again.
    upload(objects(&[(
        "orders_2024-01-03.parquet",
        "orders_2024-01-03.parquet",
    )]));
    let run = exec_s3(&s, &moto, "inc");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(rows_of_last_load(), ["1"]);
    assert_eq!(orders().len(), 4);
    assert_eq!(files().len(), 3);

    // Run 3: nothing new, nothing loaded, the table untouched.
    let run = exec_s3(&s, &moto, "inc");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(rows_of_last_load(), ["0"]);

    // A file replaced by new content: refused by default, the table as it was.
    upload(objects(&[(
        "orders_2024-01-02.parquet",
        "changed_2024-01-02.parquet",
    )]));
    let before = orders();
    let run = exec_s3(&s, &moto, "inc");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("s3://lake/pq/orders_2024-01-02.parquet changed since it was loaded"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("on_change: \"reload\""),
        "{}",
        run.stderr
    );
    assert_eq!(orders(), before);

    // on_change: "skip" leaves it out...
    s.write("projects/inc/project.rhai", &script("skip"));
    let run = exec_s3(&s, &moto, "inc");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(orders(), before);

    // ...and "reload" loads it again: merged by key, its rows replace the old ones.
    s.write("projects/inc/project.rhai", &script("reload"));
    let run = exec_s3(&s, &moto, "inc");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(rows_of_last_load(), ["2"]);
    let from_s3 = text(&db, "SELECT id, amount FROM orders ORDER BY id");
    assert_eq!(
        from_s3,
        ["1|10.00", "2|20.50", "3|33.33", "4|40.00", "5|50.00"]
    );

    // The same data from local files, loaded at once, gives the same table.
    let local = s.path("projects/inc/raw");
    std::fs::create_dir_all(&local).unwrap();
    for (name, file) in [
        ("orders_2024-01-01.parquet", "orders_2024-01-01.parquet"),
        ("orders_2024-01-02.parquet", "changed_2024-01-02.parquet"),
        ("orders_2024-01-03.parquet", "orders_2024-01-03.parquet"),
    ] {
        std::fs::write(local.join(name), bytes(file)).unwrap();
    }
    s.write(
        "projects/inc/project.rhai",
        r#"
project("inc");
let dw = connect("warehouse");
task("local", |run| {
    dw.load(#{ from: parquet_file("raw/orders_*.parquet", #{ incremental: "files" }), into: "orders_local", mode: "append" })
});
"#,
    );
    let run = exec_s3(&s, &moto, "inc");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        text(&db, "SELECT id, amount FROM orders_local ORDER BY id"),
        from_s3
    );
    assert_eq!(
        text(
            &db,
            "SELECT file FROM etl.etl_files WHERE target_table = 'orders_local' ORDER BY file"
        ),
        [
            "raw/orders_2024-01-01.parquet",
            "raw/orders_2024-01-02.parquet",
            "raw/orders_2024-01-03.parquet",
        ]
    );
}

#[test]
fn storage_settings_of_the_environment_reach_s3_with_credentials_from_variables() {
    let Some(moto) = Moto::start() else { return };
    let db = PgTestDb::new("pg_storage_cfg");
    let s = Sandbox::new(&db, &[]);
    moto.put("cfg", &[("raw/a.csv", b"id\n1\n2\n".to_vec())]);
    s.write(
        "etl.toml",
        &format!(
            r#"[env.dev.connections]
lite = "sqlite://metadata/lite.db"

[env.dev.storage.lake]
url = "s3://cfg"
endpoint = "{}"
region = "us-east-1"
allow_http = true
access_key_id_env = "LAKE_KEY"
secret_access_key_env = "LAKE_SECRET"
"#,
            moto.endpoint
        ),
    );
    put(
        &s,
        "projects/cfg/project.rhai",
        br#"
project("cfg");
let dw = connect("warehouse");
task("a", |run| { dw.load(#{ from: csv_file("s3://cfg/raw/*.csv"), into: "a" }) });
"#,
    );
    let exec = |vars: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(crate::BIN);
        cmd.current_dir(s.path(""))
            .env("ETL_CONN_WAREHOUSE", &s.warehouse)
            .env_remove("ETL_ENV")
            .env_remove("ETL_CONFIG");
        for v in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ENDPOINT_URL",
            "AWS_REGION",
            "AWS_ALLOW_HTTP",
        ] {
            cmd.env_remove(v);
        }
        cmd.envs(vars.iter().copied());
        let out = cmd
            .args(["exec", "projects/cfg/project.rhai"])
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The section names a variable that is not set: the message says which.
    let (code, stderr) = exec(&[("LAKE_KEY", "moto-key")]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "[storage.lake] secret_access_key_env names the variable LAKE_SECRET, which is not set"
        ),
        "{stderr}"
    );
    // With both variables set, the endpoint and credentials come from the section alone.
    let (code, stderr) = exec(&[
        ("LAKE_KEY", "moto-key"),
        ("LAKE_SECRET", super::files::SECRET),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains(super::files::SECRET), "{stderr}");
    assert_eq!(text(&db, "SELECT id FROM a ORDER BY id"), ["1", "2"]);
}

/// Azurite (npm) on a free loopback port, stopped when dropped.
struct Azurite {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Azurite {
    /// None (with the reason printed) when Azurite or the Python client cannot be installed.
    fn start() -> Option<(Azurite, venv::Venv)> {
        let root = venv::venvs_root().join("../npm");
        let bin = root.join("node_modules/.bin/azurite-blob");
        if !bin.exists() {
            let out = std::process::Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--prefix"])
                .arg(&root)
                .arg("azurite@3")
                .output();
            if !bin.exists() {
                let why = out.map_or_else(
                    |e| e.to_string(),
                    |o| String::from_utf8_lossy(&o.stderr).into_owned(),
                );
                panic!("cannot start Azurite: it does not install with npm: {why}");
            }
        }
        let client = match venv::ensure("azure-blob", &["azure-storage-blob"]) {
            Ok(v) => v,
            Err(why) => {
                panic!("cannot write the blobs: azure-storage-blob does not install: {why}");
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let port = venv::free_port();
        let child = std::process::Command::new(bin)
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port.to_string(),
                "--skipApiVersionCheck",
                "--silent",
                "--location",
            ])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting azurite");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "azurite did not listen on {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Some((
            Azurite {
                child,
                port,
                _dir: dir,
            },
            client,
        ))
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn az_urls_read_csv_and_parquet_blobs_from_azurite() {
    let Some((azurite, client)) = Azurite::start() else {
        return;
    };
    let db = PgTestDb::new("pg_azurite");
    let s = Sandbox::new(&db, &[]);
    let raw = s.path("fixtures");
    if pyarrow(&raw, ORDERS).is_none() {
        return;
    }
    // Azurite's well-known development account (public, documented by Microsoft).
    let upload = format!(
        "import sys\nfrom azure.storage.blob import BlobServiceClient\n\
         conn = 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:{}/devstoreaccount1;'\n\
         c = BlobServiceClient.from_connection_string(conn).create_container('lake')\n\
         c.upload_blob('raw/a.csv', b'id,amount\\n1,1.50\\n')\n\
         c.upload_blob('pq/orders_2024-01-01.parquet', open(sys.argv[1] + '/orders_2024-01-01.parquet', 'rb').read())\n\
         c.upload_blob('pq/orders_2024-01-03.parquet', open(sys.argv[1] + '/orders_2024-01-03.parquet', 'rb').read())\n",
        azurite.port
    );
    let out = std::process::Command::new(client.python())
        .args(["-c", &upload])
        .arg(&raw)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "upload: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    put(
        &s,
        "projects/az/project.rhai",
        br#"
project("az");
let dw = connect("warehouse");
task("csv", |run| { dw.load(#{ from: csv_file("az://lake/raw/*.csv"), into: "csv_rows" }) });
task("parquet", |run| {
    dw.load(#{ from: parquet_file("az://lake/pq/*.parquet", #{ incremental: "files", file_column: "_file" }), into: "pq_rows", mode: "append" })
});
"#,
    );
    let out = std::process::Command::new(crate::BIN)
        .current_dir(s.path(""))
        .env("ETL_CONN_WAREHOUSE", &s.warehouse)
        .env_remove("ETL_ENV")
        .env_remove("ETL_CONFIG")
        .env("AZURE_STORAGE_USE_EMULATOR", "true")
        .env(
            "AZURITE_BLOB_STORAGE_URL",
            format!("http://127.0.0.1:{}", azurite.port),
        )
        .args(["exec", "projects/az/project.rhai"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(text(&db, "SELECT id, amount FROM csv_rows"), ["1|1.50"]);
    assert_eq!(
        text(&db, "SELECT id, amount, _file FROM pq_rows ORDER BY id"),
        [
            "1|10.00|az://lake/pq/orders_2024-01-01.parquet",
            "2|20.50|az://lake/pq/orders_2024-01-01.parquet",
            "4|40.00|az://lake/pq/orders_2024-01-03.parquet",
        ]
    );
    assert_eq!(text(&db, "SELECT count(*) FROM etl.etl_files"), ["2"]);

    // Bad credentials: Azurite checks the shared-key signature, so a wrong account key fails
    // both loads clearly, names no key, and leaves the tables and the file records as they were.
    const WRONG_KEY: &str = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";
    let out = std::process::Command::new(crate::BIN)
        .current_dir(s.path(""))
        .env("ETL_CONN_WAREHOUSE", &s.warehouse)
        .env_remove("ETL_ENV")
        .env_remove("ETL_CONFIG")
        .env("AZURE_STORAGE_USE_EMULATOR", "true")
        .env("AZURE_STORAGE_ACCOUNT_KEY", WRONG_KEY)
        .env(
            "AZURITE_BLOB_STORAGE_URL",
            format!("http://127.0.0.1:{}", azurite.port),
        )
        .args(["exec", "projects/az/project.rhai"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("az://lake/"), "{stderr}");
    assert!(!stderr.contains(WRONG_KEY), "{stderr}");
    assert_eq!(text(&db, "SELECT id, amount FROM csv_rows"), ["1|1.50"]);
    assert_eq!(text(&db, "SELECT count(*) FROM pq_rows"), ["3"]);
    assert_eq!(text(&db, "SELECT count(*) FROM etl.etl_files"), ["2"]);
}
