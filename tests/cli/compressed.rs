//! Compressed files and globs as sources: `csv_file("data/orders_*.csv*")` into the SQLite
//! warehouse, read through the real decoders the way a user's exported files would be.

use std::io::Write;

use crate::support::Sandbox;

fn gzip(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn zstd(text: &str) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(text.as_bytes(), ruzstd::encoding::CompressionLevel::Fastest)
}

const SCRIPT: &str = r#"
project("orders_files");
let dw = connect("warehouse");
task("orders", |run| {
    dw.load(#{
        from: csv_file("data/orders_*.csv*", #{ file_column: "_file", types: #{ amount: "numeric(12,2)" } }),
        into: "orders",
    })
});
"#;

#[test]
fn a_glob_of_gzip_and_zstd_files_loads_in_name_order_with_each_rows_file() {
    let s = Sandbox::new();
    s.write("projects/orders_files/project.rhai", SCRIPT);
    s.write(
        "projects/orders_files/data/orders_2024-01-02.csv.zst",
        zstd("id,amount,note\n3,0.10,\"\"\n"),
    );
    s.write(
        "projects/orders_files/data/orders_2024-01-01.csv.gz",
        gzip("id,amount,note\n1,12.50,\"a,b\"\n2,-3,\n"),
    );
    s.exec("orders_files")
        .stderr_contains("Run succeeded")
        .run();
    let rows = s
        .warehouse()
        .rows("SELECT id, amount, note, _file FROM orders ORDER BY id");
    let some = |v: &str| Some(v.to_string());
    assert_eq!(
        rows,
        [
            [
                some("1"),
                some("12.50"),
                some("a,b"),
                some("data/orders_2024-01-01.csv.gz")
            ],
            [
                some("2"),
                some("-3.00"),
                None,
                some("data/orders_2024-01-01.csv.gz")
            ],
            [
                some("3"),
                some("0.10"),
                some(""),
                some("data/orders_2024-01-02.csv.zst")
            ],
        ]
    );
}

#[test]
fn a_truncated_gzip_file_fails_the_load_and_leaves_the_table_as_it_was() {
    let s = Sandbox::new();
    s.write("projects/orders_files/project.rhai", SCRIPT);
    s.write(
        "projects/orders_files/data/orders_2024-01-01.csv.gz",
        gzip("id,amount,note\n1,1.00,x\n"),
    );
    s.exec("orders_files").run();
    assert_eq!(s.warehouse().count("orders"), 1);

    let body: String = (1..=50_000)
        .map(|i| format!("{i},{i}.25,row {i}\n"))
        .collect();
    let data = gzip(&format!("id,amount,note\n{body}"));
    s.write(
        "projects/orders_files/data/orders_2024-01-02.csv.gz",
        &data[..data.len() / 2],
    );
    s.exec("orders_files")
        .status(1)
        .stderr_contains("data/orders_2024-01-02.csv.gz:")
        .stderr_contains("the compressed data ends early")
        .run();
    let w = s.warehouse();
    assert_eq!(w.count("orders"), 1, "the failed load changed nothing");
    assert_eq!(
        w.rows("SELECT id, note FROM orders"),
        [[Some("1".to_string()), Some("x".to_string())]]
    );
}

const INCREMENTAL: &str = r#"
project("inc_files");
let dw = connect("warehouse");
task("orders", |run| {
    let from = csv_file("data/orders_*.csv*", #{
        incremental: "files",
        file_date: "orders_{YYYY}-{MM}-{DD}.csv*",
        file_column: "_file",
    });
    dw.load(#{ from: from, into: "orders", key: "id", mode: "merge" })
});
"#;

#[test]
fn files_load_once_each_across_runs_and_a_backfill_picks_its_window_by_the_date_in_the_name() {
    let s = Sandbox::new();
    s.write("projects/inc_files/project.rhai", INCREMENTAL);
    s.write(
        "projects/inc_files/data/orders_2024-01-01.csv.gz",
        gzip("id,amount\n1,10\n2,20\n"),
    );
    s.write(
        "projects/inc_files/data/orders_2024-01-02.csv",
        "id,amount\n3,30\n",
    );
    s.exec("inc_files").stderr_contains("Run succeeded").run();
    let w = s.warehouse();
    assert_eq!(w.count("orders"), 3);
    let loaded = |w: &crate::support::Warehouse| {
        w.rows("SELECT file FROM etl_files WHERE project = 'inc_files' AND target_table = 'orders' ORDER BY file")
    };
    let some = |v: &str| vec![Some(v.to_string())];
    assert_eq!(
        loaded(&w),
        [
            some("data/orders_2024-01-01.csv.gz"),
            some("data/orders_2024-01-02.csv")
        ]
    );
    let last_rows = |w: &crate::support::Warehouse| {
        w.scalar_i64("SELECT number_of_records FROM etl_runs WHERE status = 'success' ORDER BY id DESC LIMIT 1")
    };

    // A new file: only its row is read.
    s.write(
        "projects/inc_files/data/orders_2024-01-03.csv",
        "id,amount\n4,40\n",
    );
    s.exec("inc_files").run();
    assert_eq!((w.count("orders"), last_rows(&w)), (4, 1));
    assert_eq!(loaded(&w).len(), 3);

    // A loaded file changed: refused (on_change defaults to "error"), nothing loaded.
    s.write(
        "projects/inc_files/data/orders_2024-01-02.csv",
        "id,amount\n3,33\n5,50\n",
    );
    s.exec("inc_files")
        .status(1)
        .stderr_contains("data/orders_2024-01-02.csv changed since it was loaded")
        .run();
    assert_eq!(w.count("orders"), 4);

    // A backfill of 2024-01-02 reads that day's file only (again, though loaded before).
    s.etl(&[
        "backfill",
        "projects/inc_files/project.rhai",
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-03",
        "--days",
        "1",
    ])
    .run();
    assert_eq!(last_rows(&w), 2);
    assert_eq!(
        w.rows("SELECT id, amount FROM orders WHERE id IN (3, 5) ORDER BY id"),
        [
            [Some("3".to_string()), Some("33".to_string())],
            [Some("5".to_string()), Some("50".to_string())]
        ]
    );
}

#[test]
fn an_az_url_without_an_account_says_which_variables_it_needs() {
    let s = Sandbox::new();
    s.write(
        "projects/clouds/project.rhai",
        r#"
project("clouds");
task("azure", |run| { parquet_file("az://container/raw/a.parquet").count() });
task("other", |run| { json_file("ftp://host/a.json").count() });
"#,
    );
    s.exec("clouds")
        .status(1)
        .stderr_contains("ftp:// URLs are not supported (s3://, gs:// and az:// are)")
        .stderr_contains("parquet_file(\"az://container/raw/a.parquet\"): az:// is not configured")
        .stderr_contains("AZURE_STORAGE_ACCOUNT_NAME")
        .run();
}
