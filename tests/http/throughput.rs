//! A large paginated load, measured (ignored by default: it takes a while in a debug build):
//!
//! ```sh
//! HTTP_BENCH_ROWS=1000000 cargo test --release --test http -- --ignored --nocapture throughput
//! ```
//!
//! The API serves `HTTP_BENCH_ROWS` records (default 1,000,000) in pages of `HTTP_BENCH_PAGE`
//! (default 5,000) from the test's server, generated per request; etl loads them into a
//! throwaway PostgreSQL database under `/usr/bin/time -v`. Prints rows/s and peak RSS.

use std::process::Command;
use std::time::Instant;

use super::common::{text, PgTestDb};
use super::{Reply, Request, Sandbox, BIN};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture (see the module comment)"]
fn throughput_of_a_large_paginated_load_into_postgres() {
    assert!(
        std::path::Path::new("/usr/bin/time").exists(),
        "/usr/bin/time (GNU time) is needed to measure peak RSS: apt-get install time"
    );
    let rows = env_num("HTTP_BENCH_ROWS", 1_000_000);
    let page = env_num("HTTP_BENCH_PAGE", 5_000);
    let api = super::Server::start(move |r: &Request| {
        let offset: usize = r.param("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
        let end = (offset + page).min(rows);
        let mut body = String::with_capacity(page * 120);
        body.push_str(r#"{"data": ["#);
        for i in offset..end {
            if i > offset {
                body.push(',');
            }
            body.push_str(&format!(
                r#"{{"id": {i}, "name": "customer {i}", "amount": {}.{:02}, "updated_at": "2024-01-{:02}T{:02}:{:02}:00Z", "meta": {{"k": {}}}}}"#,
                i % 100_000,
                i % 100,
                i % 28 + 1,
                i % 24,
                i % 60,
                i % 7
            ));
        }
        body.push_str("]}");
        Reply::json(body)
    });
    let db = PgTestDb::new("http_throughput");
    let s = Sandbox::on_postgres(
        &format!(
            r#"project("api");
let dw = connect("warehouse");
task("load", |run| dw.load(#{{ into: "customers",
    from: http_json("{}", #{{ records: "$.data", columns: #{{ amount: "numeric(12,2)" }}, paginate: #{{ style: "offset", limit: {page} }} }}) }}));
"#,
            api.url("/customers")
        ),
        &db,
    );
    let timing = s.path("time.txt");
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg("-o")
        .arg(&timing)
        .arg(BIN)
        .args(["exec", "projects/api/project.rhai"])
        .current_dir(s.path(""))
        .env("ETL_CONN_WAREHOUSE", db.url())
        .env_remove("ETL_ENV")
        .env_remove("ETL_CONFIG")
        .output()
        .expect("running etl");
    let secs = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text(&db, "SELECT count(*), count(DISTINCT id) FROM customers"),
        [format!("{rows}|{rows}")]
    );
    let time = std::fs::read_to_string(&timing).expect("time -v output");
    let rss_kb: f64 = time
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.parse().ok())
        .expect("peak RSS in time -v output");
    println!(
        "http_json -> PostgreSQL: {rows} records in {} pages of {page}: {secs:.1} s, {:.0} rows/s, peak RSS {:.1} MiB ({} build)",
        rows.div_ceil(page) + 1,
        rows as f64 / secs,
        rss_kb / 1024.0,
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
}
