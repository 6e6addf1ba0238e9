//! The shipped demo, run from a copy: every CSV value arrives exactly in staging, the audit
//! table has one record per load, the aggregate's CSV and the log are written. (Its history
//! over two days, on SQLite and PostgreSQL: tests/migrate/demo.rs.)

use std::collections::HashMap;

use crate::support::{parse_csv, repo, Sandbox, Warehouse};

fn run_demo() -> Sandbox {
    let s = Sandbox::with_demo();
    s.exec("demo").stderr_contains("Run succeeded").run();
    s
}

/// A timestamp's text with its fraction always to the microsecond, so that the file's
/// `12:00:00.643000` and the stored canonical `12:00:00.643` compare as the same instant.
fn micros(ts: &str) -> String {
    match ts.split_once('.') {
        Some((whole, frac)) => format!("{whole}.{frac:0<6}"),
        None => format!("{ts}.000000"),
    }
}

/// The table's rows as text, in the CSV's column order, sorted by id; booleans (stored as
/// 0/1 in SQLite) read back as the words the CSV uses, timestamps to the microsecond.
fn table_as_csv_text(w: &Warehouse, table: &str, header: &[String]) -> Vec<Vec<Option<String>>> {
    let decl: HashMap<String, String> = w
        .rows(&format!(
            "SELECT name, type FROM pragma_table_info('{table}')"
        ))
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect();
    let cols = header
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut rows = w.rows(&format!("SELECT {cols} FROM \"{table}\" ORDER BY id"));
    for row in &mut rows {
        for (i, v) in row.iter_mut().enumerate() {
            if decl[&header[i]] == "BOOLEAN" {
                *v = v.as_deref().map(|b| {
                    if b == "1" {
                        "true".into()
                    } else {
                        "false".into()
                    }
                });
            }
            if decl[&header[i]] == "TIMESTAMP" {
                *v = v.as_deref().map(micros);
            }
        }
    }
    rows
}

fn csv_of(file: &str) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let (header, mut rows) =
        parse_csv(&std::fs::read_to_string(repo().join("projects/demo/data").join(file)).unwrap());
    rows.sort_by_key(|r| r[0].as_deref().unwrap().parse::<i64>().unwrap());
    (header, rows)
}

fn count_in_column(rows: &[Vec<Option<String>>], col: usize, value: Option<&str>) -> usize {
    rows.iter().filter(|r| r[col].as_deref() == value).count()
}

#[test]
fn demo_tables_hold_exactly_the_csv_values() {
    let s = run_demo();
    let w = s.warehouse();
    for (file, table, nullable) in [
        ("customers.csv", "stg_customers", "email"),
        ("orders.csv", "stg_orders", "note"),
    ] {
        let (header, mut expected) = csv_of(file);
        for (i, name) in header
            .iter()
            .enumerate()
            .filter(|(_, h)| h.ends_with("_at"))
        {
            assert_eq!(
                w.rows(&format!(
                    "SELECT type FROM pragma_table_info('{table}') WHERE name = '{name}'"
                ))[0][0]
                    .as_deref(),
                Some("TIMESTAMP")
            );
            for row in &mut expected {
                row[i] = row[i].as_deref().map(micros);
            }
        }
        let actual = table_as_csv_text(&w, table, &header);
        assert_eq!(actual.len(), expected.len(), "{table}: row count");
        for (a, e) in actual.iter().zip(&expected) {
            assert_eq!(
                a, e,
                "{table}: row id {:?} differs from {file} (columns {header:?})",
                e[0]
            );
        }
        // NULL (unquoted empty) and '' (quoted "") both occur and stay apart.
        let col = header.iter().position(|h| h == nullable).unwrap();
        let (nulls, empties) = (
            count_in_column(&expected, col, None),
            count_in_column(&expected, col, Some("")),
        );
        assert!(
            nulls > 0 && empties > 0,
            "{file} should hold both NULL and '' in {nullable}: {nulls} / {empties}"
        );
        assert_eq!(
            w.scalar_i64(&format!(
                "SELECT count(*) FROM {table} WHERE {nullable} IS NULL"
            )),
            nulls as i64,
            "{table}.{nullable} NULLs"
        );
        assert_eq!(
            w.scalar_i64(&format!(
                "SELECT count(*) FROM {table} WHERE {nullable} = ''"
            )),
            empties as i64,
            "{table}.{nullable} empty strings"
        );
    }

    // Decimals are exact text, never floats: the largest amount and the zeros keep their digits.
    assert_eq!(
        w.rows("SELECT amount FROM stg_orders WHERE id = 997"),
        vec![vec![Some("9999999999.99".to_string())]]
    );
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM stg_orders WHERE typeof(amount) <> 'text'"),
        0
    );
    let (header, csv) = csv_of("orders.csv");
    let amount = header.iter().position(|h| h == "amount").unwrap();
    let zeros = count_in_column(&csv, amount, Some("0.00"));
    assert!(zeros > 0);
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM stg_orders WHERE amount = '0.00'"),
        zeros as i64
    );
    // Timestamps keep their microseconds (the fraction is stored in its shortest exact form).
    assert_eq!(
        w.rows("SELECT created_at FROM stg_orders WHERE id = 278"),
        vec![vec![Some("2025-01-07 02:11:12.643".to_string())]]
    );
    assert_eq!(
        w.rows("SELECT created_at, updated_at FROM stg_orders WHERE id = 1"),
        vec![vec![
            Some("2025-08-09 17:14:24.991860".to_string()),
            Some("2025-08-13 02:01:25.270604".to_string())
        ]]
    );
}

#[test]
fn demo_audit_has_one_success_record_per_load_and_per_task() {
    let s = run_demo();
    let w = s.warehouse();
    let audit = w.audit();
    let run_id = &audit[0].run_id;
    assert!(
        audit.iter().all(|r| &r.run_id == run_id
            && r.project == "demo"
            && r.load_type == "F"
            && r.environment == "dev"),
        "{audit:#?}"
    );
    for table in ["stg_customers", "stg_orders", "dim_customer", "fact_orders"] {
        let loads = w.audit_of(table);
        assert_eq!(loads.len(), 1, "one record for {table}: {loads:#?}");
        assert_eq!(loads[0].status, "success");
        assert_eq!(loads[0].task, table);
        assert_eq!(loads[0].number_of_records, Some(w.count(table)));
    }
    assert_eq!(w.count("stg_customers"), 500);
    assert_eq!(w.count("stg_orders"), 3000);
    assert_eq!(w.count("dim_customer"), 500);
    assert_eq!(w.count("fact_orders"), 3000);
    // Tasks without a load get a task-level record.
    let task_level: Vec<(String, String)> = audit
        .iter()
        .filter(|r| r.target_table.is_none())
        .map(|r| (r.task.clone(), r.status.clone()))
        .collect();
    assert_eq!(
        task_level,
        vec![
            ("sales_by_country_month".to_string(), "success".to_string()),
            ("export".to_string(), "success".to_string())
        ]
    );
    assert_eq!(audit.len(), 6);
}

#[test]
fn demo_writes_the_summary_csv_and_a_log() {
    let s = run_demo();
    let w = s.warehouse();
    let outputs = s.files_in("metadata/output/demo");
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    assert!(
        outputs[0].starts_with("sales_by_country_month_") && outputs[0].ends_with(".csv"),
        "{outputs:?}"
    );
    let (header, rows) = parse_csv(&s.read(&format!("metadata/output/demo/{}", outputs[0])));
    assert_eq!(
        header,
        [
            "month",
            "country",
            "orders",
            "paid_orders",
            "items",
            "revenue"
        ]
    );
    // One row per month and country, counted from staging without the star in between.
    let groups = w.scalar_i64(
        "SELECT count(*) FROM (SELECT DISTINCT substr(o.created_at, 1, 7), \
         CASE WHEN c.id IS NULL THEN '(unknown)' ELSE coalesce(c.country, '(none)') END \
         FROM stg_orders o LEFT JOIN stg_customers c ON c.id = o.customer_id)",
    );
    assert_eq!(groups, 129);
    assert_eq!(rows.len() as i64, groups, "one row per month and country");
    let mut names: Vec<String> = rows
        .iter()
        .map(|r| format!("{:?}/{:?}", r[0], r[1]))
        .collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), rows.len(), "groups are unique: {names:?}");
    // Every order is counted once.
    let total: i64 = rows
        .iter()
        .map(|r| r[2].as_deref().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, 3000);

    let logs = s.files_in("metadata/logs/demo");
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(
        logs[0].starts_with("demo_") && logs[0].ends_with(".log"),
        "{logs:?}"
    );
    let log = s.logs("demo");
    assert!(
        log.contains("Loaded 3000 rows into stg_orders") && log.contains("Run succeeded"),
        "{log}"
    );
}
