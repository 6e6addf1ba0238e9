//! The binary COPY encoder, property-tested: rows of every portable type (NULLs, extremes,
//! BC dates, NaN and -0, empty and NULL-holding arrays) are written into PostgreSQL through
//! the real load path (`TargetTxn::write`: the COPY encoder), then checked two ways: read back
//! through the connector (binary COPY out) they equal what was written, and on the server
//! they equal the same values typed by PostgreSQL itself from literals this file renders on
//! its own (so an encoder and decoder wrong in the same way cannot pass).

use std::fmt::Write;

use chrono::Datelike;
use proptest::test_runner::{TestCaseError, TestRunner};

use etl::connectors::{
    self, ColumnDef, Connection, Io, LoadIdentity, OpenOptions, ReadOptions, TableOptions,
};
use etl::data::{Batch, DataType, Value};

use crate::common::PgTestDb;
use crate::values::{config, rows, same, types};

struct Harness {
    db: PgTestDb,
    conn: Connection,
    rt: tokio::runtime::Runtime,
    types: Vec<DataType>,
    case: std::cell::Cell<u32>,
}

fn col(i: usize) -> String {
    format!("c{i}")
}

impl Harness {
    fn io(&self) -> Io {
        Io {
            handle: self.rt.handle().clone(),
            cancel: Default::default(),
        }
    }

    /// Loads `rows` into a new table through the connector, reads them back both ways.
    fn check(&self, rows: &[Vec<Value>]) -> Result<(), TestCaseError> {
        let n = self.case.get() + 1;
        self.case.set(n);
        let (table, expected) = (format!("props.t{n}"), format!("props.e{n}"));
        let io = self.io();
        let fail = |e: etl::error::EtlError| TestCaseError::fail(e.to_string());

        let mut txn = self
            .conn
            .target()
            .map_err(fail)?
            .begin(
                &io,
                &LoadIdentity {
                    project: "props".into(),
                    run_id: format!("props-{n}"),
                    run_started: chrono::Utc::now(),
                    table: table.clone(),
                },
            )
            .map_err(fail)?;
        let (id, _) = txn.resolve(&table).map_err(fail)?;
        let mut defs = vec![ColumnDef {
            name: "id".into(),
            data_type: DataType::Int32,
            declared: None,
        }];
        defs.extend(self.types.iter().enumerate().map(|(i, t)| ColumnDef {
            name: col(i),
            data_type: t.clone(),
            declared: None,
        }));
        txn.create_table(&id, &defs, &["id".to_string()])
            .map_err(fail)?;
        let names: Vec<String> = defs.iter().map(|d| d.name.clone()).collect();
        txn.begin_write(&id, &names).map_err(fail)?;
        let mut batch = Batch::new(names.len(), 1, rows.len());
        for (i, row) in rows.iter().enumerate() {
            batch.push_row(std::iter::once(Value::Int32(i as i32)).chain(row.iter().cloned()));
        }
        txn.write(&batch).map_err(fail)?;
        txn.end_write().map_err(fail)?;
        txn.commit().map_err(fail)?;

        // Back through the connector's reader.
        let source = self
            .conn
            .relations()
            .map_err(fail)?
            .table(&table, &TableOptions::default())
            .map_err(fail)?;
        let mut stream = source.open(&io, &ReadOptions::default()).map_err(fail)?;
        let mut back: Vec<Vec<Value>> = Vec::new();
        while let Some(b) = stream.next_blocking() {
            back.extend(b.map_err(fail)?.rows().map(<[Value]>::to_vec));
        }
        back.sort_by_key(|r| match r[0] {
            Value::Int32(i) => i,
            _ => -1,
        });
        proptest::prop_assert_eq!(back.len(), rows.len());
        for (i, (got, want)) in back.iter().zip(rows).enumerate() {
            for (j, (g, w)) in got[1..].iter().zip(want).enumerate() {
                proptest::prop_assert!(
                    same(g, w),
                    "row {}, {} {}: wrote {:?}, read {:?}",
                    i,
                    col(j),
                    self.types[j],
                    w,
                    g
                );
            }
        }

        // On the server: the same values from PostgreSQL's own parser.
        let mut create = format!("CREATE TABLE {expected} (id integer");
        for (j, t) in self.types.iter().enumerate() {
            write!(create, ", {} {t}", col(j)).expect("write");
        }
        create.push_str(");");
        let mut insert = format!("INSERT INTO {expected} VALUES ");
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                insert.push_str(", ");
            }
            write!(insert, "({i}").expect("write");
            for (v, t) in row.iter().zip(&self.types) {
                write!(insert, ", {}", literal(v, t)).expect("write");
            }
            insert.push(')');
        }
        self.db
            .try_query(&format!("{create}{insert}"))
            .map_err(|e| TestCaseError::fail(format!("the literals: {e}\n{insert}")))?;
        for (j, t) in self.types.iter().enumerate() {
            let c = col(j);
            let cast = if t.to_string().starts_with("json") {
                "::text"
            } else {
                ""
            };
            let differ = self.db.query(&format!(
                "SELECT t.id, t.{c}::text, e.{c}::text FROM {table} t JOIN {expected} e USING (id) \
                 WHERE t.{c}{cast} IS DISTINCT FROM e.{c}{cast}"
            ));
            proptest::prop_assert!(
                differ.is_empty(),
                "{} {}: (id, loaded, typed by PostgreSQL): {:?}",
                c,
                t,
                differ
            );
        }
        Ok(())
    }
}

/// A value as a PostgreSQL literal of type `t`, rendered independently of the crate's own
/// text forms.
fn literal(v: &Value, t: &DataType) -> String {
    let q = |s: &str| format!("'{}'::{t}", s.replace('\'', "''"));
    let date = |d: &chrono::NaiveDate| {
        let (ad, year) = d.year_ce();
        let bc = if ad { "" } else { " BC" };
        (format!("{year:04}-{:02}-{:02}", d.month(), d.day()), bc)
    };
    match v {
        Value::Null => format!("NULL::{t}"),
        Value::Bool(b) => q(if *b { "true" } else { "false" }),
        Value::Int16(n) => q(&n.to_string()),
        Value::Int32(n) => q(&n.to_string()),
        Value::Int64(n) => q(&n.to_string()),
        Value::Float32(f) => q(&float(f64::from(*f), f.is_nan(), format!("{f:?}"))),
        Value::Float64(f) => q(&float(*f, f.is_nan(), format!("{f:?}"))),
        Value::Decimal(d) => q(d.as_str()),
        Value::Text(s) | Value::Json(s) => q(s),
        Value::Date(d) => {
            let (text, bc) = date(d);
            q(&format!("{text}{bc}"))
        }
        Value::Time(t) => q(&t.format("%H:%M:%S%.6f").to_string()),
        Value::Timestamp(ts) => {
            let (text, bc) = date(&ts.date());
            q(&format!("{text} {}{bc}", ts.time().format("%H:%M:%S%.6f")))
        }
        Value::TimestampTz(ts) => {
            let ts = ts.naive_utc();
            let (text, bc) = date(&ts.date());
            q(&format!(
                "{text} {}+00{bc}",
                ts.time().format("%H:%M:%S%.6f")
            ))
        }
        Value::Uuid(u) => q(&u.hyphenated().to_string()),
        Value::Bytes(b) => {
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            q(&format!("\\x{hex}"))
        }
        Value::Interval {
            months,
            days,
            micros,
        } => {
            let sign = if *micros < 0 { "-" } else { "" };
            let m = micros.unsigned_abs();
            let (h, rest) = (m / 3_600_000_000, m % 3_600_000_000);
            q(&format!(
                "{months} mons {days} days {sign}{h}:{:02}:{:02}.{:06}",
                rest / 60_000_000,
                rest % 60_000_000 / 1_000_000,
                rest % 1_000_000
            ))
        }
        Value::Array(items) => {
            let DataType::Array(elem) = t else {
                panic!("an array value for {t}")
            };
            if items.is_empty() {
                return format!("'{{}}'::{t}");
            }
            let parts: Vec<String> = items.iter().map(|i| literal(i, elem)).collect();
            format!("ARRAY[{}]::{t}", parts.join(", "))
        }
    }
}

fn float(f: f64, nan: bool, shortest: String) -> String {
    if nan {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        shortest
    }
}

#[test]
fn every_portable_type_reads_back_equal_after_binary_copy() {
    let db = PgTestDb::new("copy_props");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let conn = connectors::open("warehouse", db.url(), &OpenOptions::default()).expect("open");
    let h = Harness {
        db,
        conn,
        rt,
        types: types(),
        case: std::cell::Cell::new(0),
    };
    let mut runner = TestRunner::new(config(64));
    let result = runner.run(&rows(&h.types), |rows| h.check(&rows));
    if let Err(e) = result {
        panic!("{e}");
    }
    // Each case is a table; every case ran and compared something.
    assert_eq!(h.case.get(), 64);
    let tables =
        h.db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'props'");
    assert_eq!(tables.as_deref(), Some("128"));
}
