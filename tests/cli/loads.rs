//! Loads into the SQLite warehouse: full replace, incremental merge and append, script row
//! steps, NULL cursors, schema evolution, and failures that leave the target as it was.

use crate::support::{Sandbox, Warehouse};

fn strings(rows: Vec<Vec<Option<String>>>) -> Vec<Vec<String>> {
    rows.into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect()
}

fn table(w: &Warehouse, sql: &str) -> Vec<Vec<String>> {
    strings(w.rows(sql))
}

#[test]
fn full_load_replaces_the_table() {
    let s = Sandbox::with_project("load_full");
    s.exec("load_full").run();
    assert_eq!(s.warehouse().count("items"), 4);

    s.write(
        "projects/load_full/data/items.csv",
        "id,name,price\n7,nib,0.10\n8,ink,3.30\n",
    );
    s.exec("load_full").run();
    let w = s.warehouse();
    assert_eq!(
        table(&w, "SELECT id, name, price FROM items ORDER BY id"),
        [["7", "nib", "0.10"], ["8", "ink", "3.30"]]
    );
    let leftovers = w.scalar_i64(
        "SELECT count(*) FROM sqlite_master WHERE name LIKE 'items%' AND name <> 'items'",
    );
    assert_eq!(leftovers, 0, "no staging table left behind");
    let audit = w.audit_of("items");
    assert_eq!(
        audit
            .iter()
            .map(|r| (r.status.as_str(), r.number_of_records))
            .collect::<Vec<_>>(),
        [("success", Some(4)), ("success", Some(2))]
    );
}

#[test]
fn incremental_merge_updates_changed_rows_and_inserts_new_ones() {
    let s = Sandbox::with_project("load_incremental");
    let csv = "projects/load_incremental/data/orders.csv";
    s.exec("load_incremental")
        .args(&["--load-type", "I"])
        .stderr_contains("figures: rows=5 inserted=5 updated=0")
        .run();
    let first = s.warehouse().audit_of("orders");
    assert_eq!(
        first[0].data_max_date.as_deref(),
        Some("2025-01-05 10:00:00.000005")
    );

    // Rows 2 and 3 change (new cursor and value), row 6 arrives; row 5 is still at the watermark.
    let mut text = s.read(csv);
    text = text.replace(
        "2,new,20.00,2025-01-02 10:00:00.000002",
        "2,paid,21.00,2025-01-06 09:00:00.654321",
    );
    text = text.replace(
        "3,new,30.00,2025-01-03 10:00:00.000003",
        "3,shipped,30.50,2025-01-06 09:30:00.111111",
    );
    text.push_str("6,new,60.00,2025-01-06 11:00:00.123456\n");
    s.write(csv, text);
    let ran = s.exec("load_incremental").args(&["--load-type", "I"]).run();

    let w = s.warehouse();
    assert_eq!(
        table(
            &w,
            "SELECT id, status, amount, updated_at FROM orders ORDER BY id"
        ),
        [
            ["1", "new", "10.00", "2025-01-01 10:00:00.000001"],
            ["2", "paid", "21.00", "2025-01-06 09:00:00.654321"],
            ["3", "shipped", "30.50", "2025-01-06 09:30:00.111111"],
            ["4", "new", "40.00", "2025-01-04 10:00:00.000004"],
            ["5", "new", "50.00", "2025-01-05 10:00:00.000005"],
            ["6", "new", "60.00", "2025-01-06 11:00:00.123456"],
        ]
    );
    let audit = w.audit_of("orders");
    assert_eq!(audit.len(), 2);
    let second = &audit[1];
    assert_eq!(
        (second.status.as_str(), second.load_type.as_str()),
        ("success", "I")
    );
    assert_eq!(
        second.previous_max_date.as_deref(),
        Some("2025-01-05 10:00:00.000005")
    );
    assert_eq!(
        second.data_max_date.as_deref(),
        Some("2025-01-06 11:00:00.123456"),
        "the watermark advances"
    );
    // Read: the boundary row (at the watermark, merged idempotently), the 2 changed and 1 new.
    assert_eq!(second.number_of_records, Some(4));
    assert!(
        ran.stderr.contains("figures: rows=4 inserted=1 updated=2"),
        "exactly 2 rows changed:\n{}",
        ran.stderr
    );
}

#[test]
fn incremental_rerun_at_the_watermark_does_not_duplicate() {
    let s = Sandbox::with_project("load_incremental");
    s.exec("load_incremental").args(&["--load-type", "I"]).run();
    s.exec("load_incremental").args(&["--load-type", "I"]).run();
    let w = s.warehouse();
    assert_eq!(w.count("orders"), 5);
    assert_eq!(w.scalar_i64("SELECT count(*) FROM orders WHERE id = 5"), 1);
    let audit = w.audit_of("orders");
    assert_eq!(
        audit[1].number_of_records,
        Some(1),
        "only the boundary row is read again"
    );
    assert_eq!(
        audit[1].data_max_date, audit[0].data_max_date,
        "the watermark stays"
    );
}

#[test]
fn incremental_without_key_appends_rows_past_the_watermark() {
    let s = Sandbox::with_project("load_append");
    let csv = "projects/load_append/data/events.csv";
    s.exec("load_append").args(&["--load-type", "I"]).run();
    let mut text = s.read(csv);
    text.push_str("2025-03-01 11:00:00,login\n2025-03-01 12:00:00,view\n");
    s.write(csv, text);
    s.exec("load_append").args(&["--load-type", "I"]).run();
    let w = s.warehouse();
    assert_eq!(
        table(&w, "SELECT at, kind FROM events ORDER BY at"),
        [
            ["2025-03-01 08:00:00", "login"],
            ["2025-03-01 09:00:00", "view"],
            ["2025-03-01 10:00:00", "logout"],
            ["2025-03-01 11:00:00", "login"],
            ["2025-03-01 12:00:00", "view"],
        ]
    );
    let audit = w.audit_of("events");
    assert_eq!(
        audit
            .iter()
            .map(|r| r.number_of_records)
            .collect::<Vec<_>>(),
        [Some(3), Some(2)]
    );
}

#[test]
fn map_adds_a_column_and_filter_drops_rows() {
    let s = Sandbox::with_project("load_map_filter");
    s.exec("load_map_filter").run();
    let w = s.warehouse();
    assert_eq!(
        w.columns("orders"),
        ["id", "status", "quantity", "unit_cents", "total_cents"]
    );
    assert_eq!(
        table(&w, "SELECT id, status, total_cents FROM orders ORDER BY id"),
        [
            ["1", "paid", "300"],
            ["3", "new", "600"],
            ["5", "paid", "75"]
        ]
    );
    assert_eq!(w.audit_of("orders")[0].number_of_records, Some(3));
    // A filter after a map sees the mapped row, and a second filter the same row again.
    assert_eq!(
        table(
            &w,
            "SELECT id, status, total_cents FROM big_orders ORDER BY id"
        ),
        [["1", "paid", "300"], ["3", "new", "600"]]
    );
    // No key a closure added to a row, nor one it removed, carries over to the next row.
    assert_eq!(
        table(
            &w,
            "SELECT id, status, total_cents, carried FROM fresh_rows ORDER BY id"
        ),
        [
            ["1", "paid", "300", "0"],
            ["2", "cancelled", "999", "0"],
            ["3", "NULL", "600", "0"],
            ["4", "cancelled", "500", "0"],
            ["5", "paid", "75", "0"]
        ]
    );
    assert_eq!(
        table(&w, "SELECT count(*), count(copied) FROM other_case"),
        [["5", "0"]]
    );
}

#[test]
fn null_cursor_fail_names_the_row() {
    let s = Sandbox::with_project("load_null_cursor");
    let ran = s
        .exec("load_null_cursor")
        .args(&["--load-type", "I"])
        .status(1)
        .run();
    assert!(
        ran.stderr
            .contains("load into orders, row 3, column 'updated_at'")
            && ran.stderr.contains("the cursor is NULL"),
        "{}",
        ran.stderr
    );
    let w = s.warehouse();
    assert!(!w.table_exists("orders"));
    let audit = w.audit_of("orders");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].status, "failed");
    assert!(
        audit[0]
            .error_message
            .as_deref()
            .unwrap_or_default()
            .contains("row 3"),
        "{audit:#?}"
    );
}

#[test]
fn new_source_column_is_added_to_the_target() {
    let s = Sandbox::with_project("load_new_column");
    s.exec("load_new_column").args(&["--load-type", "I"]).run();
    s.write(
        "projects/load_new_column/data/customers.csv",
        "id,name,updated_at,tier\n1,Ana,2025-01-01 00:00:00,\n2,Bo,2025-01-03 00:00:00,gold\n3,Cy,2025-01-04 00:00:00,silver\n",
    );
    s.exec("load_new_column")
        .args(&["--load-type", "I"])
        .stderr_contains("Added a new source column to the target")
        .run();
    let w = s.warehouse();
    assert_eq!(w.columns("customers"), ["id", "name", "updated_at", "tier"]);
    assert_eq!(
        table(&w, "SELECT id, name, tier FROM customers ORDER BY id"),
        [
            ["1", "Ana", "NULL"],
            ["2", "Bo", "gold"],
            ["3", "Cy", "silver"]
        ]
    );
}

#[test]
fn malformed_csv_fails_with_file_and_line_and_keeps_the_target() {
    let s = Sandbox::with_project("load_malformed_csv");
    s.exec("load_malformed_csv").run();
    let before = table(&s.warehouse(), "SELECT * FROM items ORDER BY id");

    // Line 4 has one field too few.
    s.write(
        "projects/load_malformed_csv/data/items.csv",
        "id,name,qty\n1,pen,11\n2,ink,21\n3,pad\n4,cap,41\n",
    );
    let ran = s.exec("load_malformed_csv").status(1).run();
    assert!(
        ran.stderr.contains("data/items.csv:4: expected 3 fields"),
        "{}",
        ran.stderr
    );
    let w = s.warehouse();
    assert_eq!(
        table(&w, "SELECT * FROM items ORDER BY id"),
        before,
        "the target keeps its contents"
    );
    let audit = w.audit_of("items");
    assert_eq!(
        audit.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(),
        ["success", "failed"]
    );
    assert!(
        audit[1]
            .error_message
            .as_deref()
            .unwrap_or_default()
            .contains("data/items.csv:4"),
        "{audit:#?}"
    );
}

#[test]
fn unterminated_quote_fails_with_file_and_line() {
    let s = Sandbox::with_project("load_malformed_csv");
    s.exec("load_malformed_csv").run();
    // The quote opened on line 3 never closes; the row is inside the type sample.
    s.write(
        "projects/load_malformed_csv/data/items.csv",
        "id,name,qty\n1,pen,11\n2,\"ink,21\n3,pad,31\n",
    );
    let ran = s.exec("load_malformed_csv").status(1).run();
    assert!(ran.stderr.contains("data/items.csv:3:"), "{}", ran.stderr);
    let w = s.warehouse();
    assert_eq!(w.count("items"), 3, "the target keeps its contents");
    let failed: Vec<_> = w
        .audit()
        .into_iter()
        .filter(|r| r.task == "items" && r.status == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert!(
        failed[0]
            .error_message
            .as_deref()
            .unwrap_or_default()
            .contains("data/items.csv:3:"),
        "{failed:#?}"
    );
}

#[test]
fn value_that_does_not_fit_the_declared_type_names_column_and_row() {
    let s = Sandbox::with_project("load_type_overflow");
    let ran = s.exec("load_type_overflow").status(1).run();
    assert!(
        ran.stderr.contains("data/payments.csv:4: column 'amount'"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("12345.678"),
        "the value is shown: {}",
        ran.stderr
    );
    let w = s.warehouse();
    assert!(!w.table_exists("payments"));
    assert_eq!(w.audit_of("payments")[0].status, "failed");
}

#[test]
fn a_killed_runs_running_record_is_closed_by_the_next_load_of_its_table() {
    let s = Sandbox::with_project("load_full");
    s.exec("load_full").run();
    // What a run killed mid-load leaves behind: its record stays `running`.
    s.warehouse()
        .conn
        .execute_batch(
            "INSERT INTO etl_runs (run_id, project, task, status, load_type, environment, script_version, \
             target_database, target_table, start_script_execution_time) \
             VALUES ('dead-run', 'load_full', 'items', 'running', 'F', 'dev', '', 'warehouse', 'items', \
                     '2020-01-01 00:00:00.000000+00:00')",
        )
        .unwrap();
    s.exec("load_full")
        .stderr_contains(
            "Marked 1 audit record(s) of runs that stopped without finishing as failed",
        )
        .run();
    let w = s.warehouse();
    let dead = table(
        &w,
        "SELECT status, error_message FROM etl_runs WHERE run_id = 'dead-run'",
    );
    assert_eq!(dead[0][0], "failed");
    assert!(
        dead[0][1].starts_with("the run stopped without recording an outcome"),
        "{dead:?}"
    );
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM etl_runs WHERE status = 'running'"),
        0
    );
}

#[test]
fn a_null_key_is_refused_with_its_row_and_nothing_is_written() {
    let s = Sandbox::with_project("load_null_key");
    s.exec("load_null_key").run();
    // The third data row has no id: a merge would add it again on every run.
    s.write(
        "projects/load_null_key/data/items.csv",
        "id,name\n1,pen\n3,nib\n,lost\n",
    );
    for _ in 0..2 {
        s.exec("load_null_key")
            .status(1)
            .stderr_contains("load into items, row 3, column 'id': the key column is NULL")
            .run();
    }
    let w = s.warehouse();
    assert_eq!(
        table(&w, "SELECT id, name FROM items ORDER BY id"),
        [["1", "pen"], ["2", "ink"]],
        "the failed loads changed nothing"
    );
    // The table a load creates cannot hold a NULL key either.
    let id = table(
        &w,
        "SELECT \"notnull\" FROM pragma_table_info('items') WHERE name = 'id'",
    );
    assert_eq!(id, [["1"]]);
}

/// A CSV file (the rejects file) as its header and then its rows, NULL read as "".
fn csv_rows(path: &std::path::Path) -> Vec<Vec<String>> {
    let (header, rows) = crate::support::parse_csv(&std::fs::read_to_string(path).unwrap());
    std::iter::once(header)
        .chain(
            rows.into_iter()
                .map(|r| r.into_iter().map(Option::unwrap_or_default).collect()),
        )
        .collect()
}

fn rejects_file(s: &Sandbox) -> std::path::PathBuf {
    let dir = s.path("metadata/output/load_rejects");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("items_rejects_"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.remove(0)
}

#[test]
fn bad_rows_go_to_a_rejects_file_and_the_good_ones_load_under_max_errors() {
    let s = Sandbox::with_project("load_rejects");
    s.exec("load_rejects")
        .args(&["--param", "max_errors=4"])
        .stderr_contains("loaded 3, rejected 4, rejects ")
        .stderr_contains("4 rows were rejected; they are listed in")
        .run();
    let w = s.warehouse();
    assert_eq!(
        table(&w, "SELECT id, name, price FROM items ORDER BY id"),
        [
            ["1", "pen", "1.50"],
            ["3", "nib", "0.10"],
            ["6", "box", "3.00"]
        ]
    );
    // Each reject: where it was, why, and the record itself.
    let rows = csv_rows(&rejects_file(&s));
    assert_eq!(
        rows[0],
        ["source", "line", "row", "column", "reason", "record"]
    );
    let lines: Vec<(&str, &str)> = rows[1..]
        .iter()
        .map(|r| (r[1].as_str(), r[3].as_str()))
        .collect();
    // Values that are not a numeric(8,2) and a row with a field missing are set aside by the
    // reader (with their lines in the file), a NULL key by the load.
    assert_eq!(
        lines,
        [("3", "price"), ("5", ""), ("7", "price"), ("", "id")]
    );
    assert!(rows[1][4].contains("price"), "{rows:?}");
    assert!(rows[2][5].starts_with("4,cap"), "{rows:?}");
    let audit = w.audit_of("items");
    assert_eq!(audit[0].status, "success");
    assert_eq!(audit[0].number_of_records, Some(3));
    assert!(
        audit[0]
            .error_message
            .as_deref()
            .unwrap_or_default()
            .starts_with("4 rows rejected (listed in "),
        "{audit:?}"
    );
}

#[test]
fn over_the_limits_nothing_is_loaded_and_the_rejects_are_still_listed() {
    let s = Sandbox::with_project("load_rejects");
    s.exec("load_rejects")
        .args(&["--param", "max_errors=3"])
        .status(1)
        .stderr_contains("more than max_errors: 3 rows were rejected, so nothing was loaded")
        .run();
    assert!(!s.warehouse().table_exists("items"));
    assert_eq!(csv_rows(&rejects_file(&s)).len(), 1 + 4);

    let s = Sandbox::with_project("load_rejects");
    s.exec("load_rejects")
        .args(&["--param", "max_error_ratio=0.5"])
        .status(1)
        .stderr_contains("4 of 7 rows (57.14%) were rejected, more than max_error_ratio: 0.5")
        .run();
    assert!(!s.warehouse().table_exists("items"));
    assert_eq!(s.warehouse().audit_of("items")[0].status, "failed");
}
