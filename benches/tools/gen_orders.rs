//! Writes the benchmark's deterministic `orders` dataset as CSV in PostgreSQL's convention
//! (an unquoted empty field is NULL, `""` is the empty string; fields are quoted only when
//! they must be, as `COPY ... TO (FORMAT csv)` does).
//!
//!     cargo run --release --example bench_gen_orders -- --rows 1000000 --out orders.csv
//!
//! Every row is a pure function of its id, so the first M rows of an N-row file are the
//! M-row file, and the same N always gives the same bytes. scripts/bench.sh runs this and
//! caches the file under target/bench-data/.
//!
//! Columns: id bigint, customer_id int (1% NULL), status text, amount numeric(12,2) (including
//! values near ±9,999,999,999.99), quantity int (including the int range ends), note text
//! (10% NULL, 5% '', whitespace-only, commas, quotes, backslashes, tabs, newlines, non-ASCII),
//! is_paid boolean, created_at/updated_at timestamps with microseconds, order_date date.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Bump when the data changes: scripts/bench.sh puts it in the cache file name.
const FORMAT_VERSION: u32 = 1;
const SEED: u64 = 0x0e7c_2026_1129_0001;
const HEADER: &str =
    "id,customer_id,status,amount,quantity,note,is_paid,created_at,updated_at,order_date\n";

const STATUSES: [&str; 6] = [
    "new",
    "paid",
    "shipped",
    "delivered",
    "cancelled",
    "returned",
];

/// The notes a loader gets wrong. Whitespace-only, separators, quotes, backslashes (including
/// a literal `\N`, which is text in CSV, not NULL), control characters and non-ASCII.
const TRICKY_NOTES: [&str; 24] = [
    " ",
    "   ",
    "\t",
    " \t ",
    "call first, then deliver",
    ",",
    ",,,",
    "says \"urgent\"",
    "\"",
    "\"\"",
    "'single' quotes",
    "C:\\orders\\2024\\",
    "\\",
    "\\N",
    "tab\there",
    "two\nlines",
    "crlf\r\nline",
    "\n",
    "trailing space ",
    " leading space",
    "émigré café, Zoë & Jürgen",
    "東京オフィス 受け取り",
    "📦 fragile 🚚",
    "mix: \"a,b\"\t\\ ü\n end",
];

const WORDS: [&str; 16] = [
    "deliver",
    "gift",
    "wrap",
    "box",
    "door",
    "back",
    "office",
    "weekend",
    "express",
    "leave",
    "porch",
    "neighbour",
    "invoice",
    "refund",
    "colour",
    "Straße",
];

/// SplitMix64: a tiny, well-mixed generator; seeded per row so rows are independent.
struct Rng(u64);

impl Rng {
    fn for_row(id: u64) -> Rng {
        Rng(SEED ^ id.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n.
    fn below(&mut self, n: u64) -> u64 {
        (((self.next() >> 11) as u128 * n as u128) >> 53) as u64
    }

    /// Uniform in 0..1_000_000 (per mille resolution is not enough for 1%/5%/10% splits
    /// to be exact over small N, so percentages use this).
    fn per_million(&mut self) -> u64 {
        self.below(1_000_000)
    }
}

/// Proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Microseconds since 1970-01-01 00:00:00 as `YYYY-MM-DD HH:MM:SS.ffffff`.
fn write_timestamp(out: &mut Vec<u8>, micros: i64) {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{frac:06}",
        s / 3600,
        s / 60 % 60,
        s % 60
    );
}

fn write_date(out: &mut Vec<u8>, micros: i64) {
    let (y, m, d) = civil_from_days(micros.div_euclid(86_400_000_000));
    let _ = write!(out, "{y:04}-{m:02}-{d:02}");
}

/// A text field in PostgreSQL's CSV convention: quoted when it is empty (so it is not NULL)
/// or holds the delimiter, the quote, a line break, or is exactly `\.` (end-of-data marker).
fn write_text(out: &mut Vec<u8>, s: &str) {
    let needs_quotes =
        s.is_empty() || s == "\\." || s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    if needs_quotes {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

fn write_amount(out: &mut Vec<u8>, id: u64, rng: &mut Rng) {
    match id % 1000 {
        // The edges of numeric(12,2).
        997 => out.extend_from_slice(b"9999999999.99"),
        499 => out.extend_from_slice(b"-9999999999.99"),
        311 => {
            let _ = write!(
                out,
                "99999999{:02}.{:02}",
                90 + rng.below(10),
                rng.below(100)
            );
        }
        211 => out.extend_from_slice(b"0.00"),
        101 => out.extend_from_slice(b"0.01"),
        _ => {
            // Mostly everyday amounts, 3% refunds.
            let cents = 1 + rng.below(5_000_000);
            let sign = if rng.per_million() < 30_000 { "-" } else { "" };
            let _ = write!(out, "{sign}{}.{:02}", cents / 100, cents % 100);
        }
    }
}

fn write_note(out: &mut Vec<u8>, rng: &mut Rng, scratch: &mut String) {
    let r = rng.per_million();
    if r < 100_000 {
        return; // NULL: an unquoted empty field
    }
    if r < 150_000 {
        out.extend_from_slice(b"\"\"");
        return;
    }
    if r < 350_000 {
        write_text(
            out,
            TRICKY_NOTES[rng.below(TRICKY_NOTES.len() as u64) as usize],
        );
        return;
    }
    scratch.clear();
    let words = 1 + rng.below(8);
    for i in 0..words {
        if i > 0 {
            scratch.push(' ');
        }
        scratch.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    if rng.below(4) == 0 {
        use std::fmt::Write as _;
        let _ = write!(scratch, " #{}", rng.below(100_000));
    }
    write_text(out, scratch);
}

fn write_row(out: &mut Vec<u8>, id: u64, scratch: &mut String) {
    let mut rng = Rng::for_row(id);
    // id
    let _ = write!(out, "{id},");
    // customer_id: 1% NULL
    if rng.per_million() >= 10_000 {
        let _ = write!(out, "{}", 1 + rng.below(200_000));
    }
    out.push(b',');
    // status
    out.extend_from_slice(STATUSES[rng.below(STATUSES.len() as u64) as usize].as_bytes());
    out.push(b',');
    write_amount(out, id, &mut rng);
    out.push(b',');
    // quantity, with the ends of the int range now and then
    match id % 100_000 {
        4_243 => out.extend_from_slice(b"2147483647"),
        77_777 => out.extend_from_slice(b"-2147483648"),
        _ => {
            let _ = write!(out, "{}", 1 + rng.below(50));
        }
    }
    out.push(b',');
    write_note(out, &mut rng, scratch);
    out.push(b',');
    out.extend_from_slice(if rng.per_million() < 700_000 {
        b"true"
    } else {
        b"false"
    });
    out.push(b',');
    // created_at: 2024-01-01 .. +540 days, microseconds; every 50th exactly on a second and
    // every 7th with trailing zero digits, so text forms that trim zeros are exercised.
    let base = 1_704_067_200_000_000i64; // 2024-01-01 00:00:00
    let mut micros = rng.below(540 * 86_400) as i64 * 1_000_000;
    micros += match id % 50 {
        0 => 0,
        _ if id.is_multiple_of(7) => (rng.below(1000) * 1000) as i64,
        _ => rng.below(1_000_000) as i64,
    };
    let created = base + micros;
    write_timestamp(out, created);
    out.push(b',');
    // updated_at: within a week after created_at
    let updated = created + rng.below(7 * 86_400_000_000) as i64;
    write_timestamp(out, updated);
    out.push(b',');
    write_date(out, created);
    out.push(b'\n');
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: bench_gen_orders --rows N --out PATH   (or --version: the data format version)"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut rows: Option<u64> = None;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rows" => rows = args.next().and_then(|v| v.replace('_', "").parse().ok()),
            "--out" => out = args.next().map(PathBuf::from),
            "--version" => {
                println!("{FORMAT_VERSION}");
                return ExitCode::SUCCESS;
            }
            _ => return usage(),
        }
    }
    let (Some(rows), Some(out)) = (rows, out) else {
        return usage();
    };

    // Written beside the target and renamed, so an interrupted run never leaves a short file
    // that looks cached.
    let tmp = out.with_extension("csv.partial");
    let result = (|| -> std::io::Result<()> {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        w.write_all(HEADER.as_bytes())?;
        let mut buf = Vec::with_capacity(1 << 16);
        let mut scratch = String::new();
        for id in 1..=rows {
            write_row(&mut buf, id, &mut scratch);
            if buf.len() >= 60_000 {
                w.write_all(&buf)?;
                buf.clear();
            }
        }
        w.write_all(&buf)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, &out)
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            eprintln!("error: writing {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_timestamps() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        let mut out = Vec::new();
        write_timestamp(&mut out, 1_704_067_200_000_000 + 86_399_000_001);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2024-01-01 23:59:59.000001"
        );
    }

    #[test]
    fn csv_quoting_keeps_null_and_empty_apart() {
        let mut out = Vec::new();
        write_text(&mut out, "");
        write_text(&mut out, "a\"b");
        write_text(&mut out, " ");
        write_text(&mut out, "\\.");
        assert_eq!(String::from_utf8(out).unwrap(), "\"\"\"a\"\"b\" \"\\.\"");
    }
}
