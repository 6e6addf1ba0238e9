//! Parse-and-type throughput on an orders-like file (DESIGN.md §6). Timing, so ignored:
//! `cargo test --release --lib csv::throughput -- --ignored --nocapture`

use std::io::Write;

use super::scanner::{Record, Scanner};
use super::{CsvOptions, CsvSource};
use crate::connectors::{Io, ReadOptions, Source};

/// Writes an orders-like CSV of `rows` rows, 10 mixed columns (DESIGN.md §6).
fn write_orders(path: &std::path::Path, rows: u64) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(
        w,
        "id,customer_id,status,amount,quantity,note,is_paid,created_at,updated_at,order_date"
    )
    .unwrap();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let statuses = ["new", "paid", "shipped", "cancelled", "returned"];
    let notes = [
        "",
        "\"\"",
        "leave at the door",
        "\"call first, then ring\"",
        "\"say \"\"hi\"\"\nsecond line\"",
        "gift",
    ];
    for id in 1..=rows {
        let r = next();
        let (day, secs) = (r % 365, r % 86_400);
        let date = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap() + chrono::Days::new(day);
        writeln!(
            w,
            "{id},{},{},{}.{:02},{},{},{},{date} {:02}:{:02}:{:02},{date} {:02}:{:02}:{:02}.{:06},{date}",
            r % 100_000 + 1,
            statuses[(r >> 8) as usize % statuses.len()],
            (r >> 16) % 100_000,
            (r >> 24) % 100,
            (r >> 32) % 20 + 1,
            notes[(r >> 40) as usize % notes.len()],
            (r >> 44) % 2 == 0,
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            (r >> 20) % 1_000_000,
        )
        .unwrap();
    }
}

/// User plus system CPU time of this process (Linux), so a busy machine does not skew the
/// figure the way wall time does.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // utime and stime, fields 14 and 15 of the line (11 and 12 after the name), in 1/100 s.
    (ticks(11) + ticks(12)) / 100.0
}

#[test]
#[ignore = "timing, run by hand in release mode"]
fn throughput_of_a_million_orders() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let io = Io {
        handle: rt.handle().clone(),
        cancel: Default::default(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.csv");
    write_orders(&path, 1_000_000);
    let size = std::fs::metadata(&path).unwrap().len();
    for round in 0..3 {
        let cpu_before = cpu_seconds();
        let started = std::time::Instant::now();
        let src = CsvSource::new(path.clone(), "orders.csv".into(), CsvOptions::default());
        let schema = src.schema(&io).unwrap();
        let inferred = started.elapsed();
        let mut stream = src.open(&io, &ReadOptions::default()).unwrap();
        let mut rows = 0;
        while let Some(batch) = stream.next_blocking() {
            rows += batch.unwrap().len();
        }
        let secs = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu_before;
        assert_eq!(rows, 1_000_000);
        if round == 0 {
            println!(
                "{}",
                schema
                    .columns
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.data_type))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        println!(
            "{rows} rows, {:.0} MiB in {secs:.3} s (schema {:.0} ms): {:.0} rows/s, {:.0} MiB/s; \
             {cpu:.2} s CPU: {:.0} rows per CPU second",
            size as f64 / 1048576.0,
            inferred.as_secs_f64() * 1000.0,
            rows as f64 / secs,
            size as f64 / 1048576.0 / secs,
            rows as f64 / cpu
        );
    }
    // The scanner alone, to tell splitting from typing when tuning.
    let started = std::time::Instant::now();
    let mut scanner = Scanner::new(std::fs::File::open(&path).unwrap(), b',', b'"');
    let mut rec = Record::default();
    let mut records = 0;
    while scanner.next_record(&mut rec).unwrap() {
        records += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "scanner only: {records} records in {secs:.3} s: {:.0} records/s, {:.0} MiB/s",
        records as f64 / secs,
        size as f64 / 1048576.0 / secs
    );
}
