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
