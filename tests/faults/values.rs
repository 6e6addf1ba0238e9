//! Generated values of every portable type, for property tests of the codecs. The list of
//! types mirrors `EVERY_TYPE` in src/data/types.rs (test-only there); `value` matches on
//! `DataType` without a wildcard, so a new type does not compile until it has a generator.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use etl::data::{DataType, Decimal, Value};

/// Every portable type, arrays included (src/data/types.rs, `EVERY_TYPE`).
pub const TYPES: &[&str] = &[
    "boolean",
    "smallint",
    "integer",
    "bigint",
    "real",
    "double precision",
    "numeric(12,2)",
    "numeric",
    "text",
    "varchar(20)",
    "date",
    "time",
    "timestamp",
    "timestamptz",
    "json",
    "uuid",
    "bytea",
    "interval",
    "integer[]",
    "text[]",
    "numeric(12,2)[]",
    "varchar(5)[]",
];

pub fn types() -> Vec<DataType> {
    TYPES
        .iter()
        .map(|t| DataType::parse(t).expect("a portable type"))
        .collect()
}

/// A fixed seed and no failure files: every run tries the same cases.
pub fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x0e71_c0de),
        ..Config::default()
    }
}

/// Text PostgreSQL can store: any characters but NUL, quotes, braces, commas and the word
/// NULL made likely (they matter to array literals and CSV).
fn text(max_chars: usize) -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => any::<char>().prop_filter("NUL", |c| *c != '\0'),
        2 => prop::sample::select(vec!['"', '\'', ',', '{', '}', '\\', ' ', '\n', '\r', 'N']),
    ];
    prop::collection::vec(ch, 0..=max_chars).prop_map(|cs| cs.into_iter().collect())
}

/// Dates PostgreSQL and chrono both hold, BC included (year 0 is 1 BC).
fn date() -> impl Strategy<Value = NaiveDate> {
    let first = NaiveDate::from_ymd_opt(-4000, 1, 1).expect("date");
    let last = NaiveDate::from_ymd_opt(9999, 12, 31).expect("date");
    let span = (last - first).num_days();
    (0..=span).prop_map(move |d| first + chrono::Duration::days(d))
}

/// Times to the microsecond (PostgreSQL's resolution).
fn time() -> impl Strategy<Value = NaiveTime> {
    (0u32..86_400, 0u32..1_000_000).prop_map(|(s, us)| {
        NaiveTime::from_num_seconds_from_midnight_opt(s, us * 1000).expect("time")
    })
}

fn timestamp() -> impl Strategy<Value = NaiveDateTime> {
    (date(), time())
        .prop_filter("AD", |(d, _)| d.year_ce().0)
        .prop_map(|(d, t)| d.and_time(t))
}

fn decimal(int_digits: usize, scale: Option<usize>) -> impl Strategy<Value = Decimal> {
    let frac = match scale {
        Some(s) => (s..=s).boxed(),
        None => (0usize..=20).boxed(),
    };
    (
        any::<bool>(),
        prop::collection::vec(0u8..10, 1..=int_digits),
        frac.prop_flat_map(|n| prop::collection::vec(0u8..10, n)),
    )
        .prop_map(|(neg, int, frac)| {
            let digits: String = int
                .iter()
                .chain(&frac)
                .map(|d| char::from(b'0' + d))
                .collect();
            Decimal::from_digits(neg, &digits, frac.len())
        })
}

fn json() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        (-1e9f64..1e9).prop_map(|f| serde_json::json!(f)),
        text(6).prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::vec((text(4), inner), 0..4)
                .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
    .prop_map(|v| v.to_string())
}

/// A non-NULL value of type `t`.
pub fn value(t: &DataType) -> BoxedStrategy<Value> {
    match t {
        DataType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        DataType::Int16 => any::<i16>().prop_map(Value::Int16).boxed(),
        DataType::Int32 => any::<i32>().prop_map(Value::Int32).boxed(),
        DataType::Int64 => any::<i64>().prop_map(Value::Int64).boxed(),
        DataType::Float32 => any::<f32>().prop_map(Value::Float32).boxed(),
        DataType::Float64 => any::<f64>().prop_map(Value::Float64).boxed(),
        DataType::Decimal { precision, scale } => {
            let int = match (precision, scale) {
                (Some(p), Some(s)) => (p - s) as usize,
                _ => 30,
            };
            decimal(int, scale.map(|s| s as usize))
                .prop_map(Value::Decimal)
                .boxed()
        }
        DataType::Text { max_len } => text(max_len.unwrap_or(12) as usize)
            .prop_map(Value::Text)
            .boxed(),
        DataType::Date => date().prop_map(Value::Date).boxed(),
        DataType::Time => time().prop_map(Value::Time).boxed(),
        DataType::Timestamp => timestamp().prop_map(Value::Timestamp).boxed(),
        DataType::TimestampTz => timestamp()
            .prop_map(|t| Value::TimestampTz(DateTime::<Utc>::from_naive_utc_and_offset(t, Utc)))
            .boxed(),
        DataType::Json => json().prop_map(Value::Json).boxed(),
        DataType::Uuid => any::<[u8; 16]>()
            .prop_map(|b| Value::Uuid(uuid::Uuid::from_bytes(b)))
            .boxed(),
        DataType::Bytes => prop::collection::vec(any::<u8>(), 0..16)
            .prop_map(Value::Bytes)
            .boxed(),
        DataType::Interval => (
            -100_000i32..100_000,
            -1_000_000i32..1_000_000,
            -(10i64.pow(14))..10i64.pow(14),
        )
            .prop_map(|(months, days, micros)| Value::Interval {
                months,
                days,
                micros,
            })
            .boxed(),
        DataType::Array(elem) => prop::collection::vec(nullable(elem), 0..4)
            .prop_map(Value::Array)
            .boxed(),
    }
}

/// A value of type `t` or NULL.
pub fn nullable(t: &DataType) -> BoxedStrategy<Value> {
    prop_oneof![1 => Just(Value::Null), 6 => value(t)].boxed()
}

/// 1 to 5 rows of one value per type in `types`.
pub fn rows(types: &[DataType]) -> impl Strategy<Value = Vec<Vec<Value>>> {
    let row: Vec<BoxedStrategy<Value>> = types.iter().map(nullable).collect();
    prop::collection::vec(row, 1..=5)
}

/// Equal values: floats bit for bit (NaN equals NaN, -0 differs from 0).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float32(x), Value::Float32(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (Value::Float64(x), Value::Float64(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}
