//! I: incremental loads across several runs. The source lives in schema `src` of the warehouse
//! database itself, so that target and source can be compared with EXCEPT in both directions.

use crate::common::PgTestDb;
use crate::harness::{audit, count, differences, text, watermark, Sandbox};

const PROJECT: &str = "pga_incremental";

fn max_cursor(db: &PgTestDb, table: &str, column: &str) -> String {
    db.scalar(&format!("SELECT max({column})::text FROM {table}"))
        .expect("a max cursor")
}

/// Source rows whose cursor equals `value`: what a keyed load reads again at the boundary.
fn rows_at(db: &PgTestDb, table: &str, column: &str, value: &str) -> u64 {
    db.scalar(&format!(
        "SELECT count(*) FROM {table} WHERE {column} = '{value}'"
    ))
    .expect("count")
    .parse()
    .expect("count")
}

#[test]
fn a_keyed_merge_picks_up_exactly_the_changed_and_new_rows_across_three_runs() {
    let db = PgTestDb::new("pga_merge3");
    db.execute(
        "CREATE SCHEMA src;
         CREATE TABLE src.items (id bigint PRIMARY KEY, name text, amount numeric(12,2), updated_at timestamp);
         INSERT INTO src.items
         SELECT i, 'item ' || i, i * 1.25, timestamp '2024-01-01' + i * interval '1 minute'
         FROM generate_series(1, 1000) AS i;",
    );
    let s = Sandbox::new(&[PROJECT], &db, &db);
    let run = |s: &Sandbox| {
        s.exec(
            PROJECT,
            &["--load-type", "I", "--task", "merge", "--task", "merge_sql"],
        )
        .ok()
    };
    let tables = ["app.items", "app.items_sql"];

    // Run 1: everything.
    let wm1 = max_cursor(&db, "src.items", "updated_at");
    let ran = run(&s);
    assert_eq!(ran.figures("merge"), (1000, 1000, 0));
    assert_eq!(ran.figures("merge_sql"), (1000, 1000, 0));

    // Run 2: 100 rows change (name and cursor), 50 are new. The row on the watermark stays as it
    // is: a keyed load reads it again and merges it onto itself (not counted as updated).
    db.execute(
        "UPDATE src.items SET name = name || ' v2', updated_at = timestamp '2024-02-01' + id * interval '1 second'
         WHERE id % 10 = 3;
         INSERT INTO src.items
         SELECT i, 'item ' || i, i * 1.25, timestamp '2024-02-01 01:00' + i * interval '1 second'
         FROM generate_series(1001, 1050) AS i;",
    );
    let (changed2, new2) = (100, 50);
    let boundary2 = rows_at(&db, "src.items", "updated_at", &wm1);
    assert_eq!(boundary2, 1);
    let wm2 = max_cursor(&db, "src.items", "updated_at");
    let ran = run(&s);
    for task in ["merge", "merge_sql"] {
        assert_eq!(
            ran.figures(task),
            (changed2 + new2 + boundary2, new2, changed2),
            "{task}"
        );
    }

    // Run 3: rows changed in run 2 change again, others change for the first time, 25 are new.
    db.execute(
        "UPDATE src.items SET amount = amount + 1, updated_at = timestamp '2024-03-01' + id * interval '1 second'
         WHERE id % 10 = 7 OR id % 100 = 3;
         INSERT INTO src.items
         SELECT i, 'item ' || i, i * 1.25, timestamp '2024-03-01 01:00' + i * interval '1 second'
         FROM generate_series(1051, 1075) AS i;",
    );
    let changed3 = (1..=1050u64)
        .filter(|i| i % 10 == 7 || i % 100 == 3)
        .count() as u64;
    let new3 = 25;
    let boundary3 = rows_at(&db, "src.items", "updated_at", &wm2);
    assert_eq!(boundary3, 1);
    let wm3 = max_cursor(&db, "src.items", "updated_at");
    let ran = run(&s);
    for task in ["merge", "merge_sql"] {
        assert_eq!(
            ran.figures(task),
            (changed3 + new3 + boundary3, new3, changed3),
            "{task}"
        );
    }

    for table in tables {
        assert_eq!(differences(&db, "src.items", table), 0, "{table} = source");
        assert_eq!(count(&db, table), 1075, "{table}");
        let records = audit(&db, table);
        assert_eq!(
            records
                .iter()
                .map(|r| (
                    r.status.as_str(),
                    r.load_type.as_str(),
                    r.previous_max_date.as_deref(),
                    r.data_max_date.as_deref(),
                    r.number_of_records
                ))
                .collect::<Vec<_>>(),
            [
                ("success", "I", None, Some(wm1.as_str()), Some(1000)),
                (
                    "success",
                    "I",
                    Some(wm1.as_str()),
                    Some(wm2.as_str()),
                    Some((changed2 + new2 + boundary2) as i64)
                ),
                (
                    "success",
                    "I",
                    Some(wm2.as_str()),
                    Some(wm3.as_str()),
                    Some((changed3 + new3 + boundary3) as i64)
                ),
            ],
            "{table}: {records:#?}"
        );
        assert_eq!(
            watermark(&db, PROJECT, table).as_deref(),
            Some(wm3.as_str())
        );
    }
}

#[test]
fn boundary_rows_on_the_watermark_are_merged_neither_lost_nor_duplicated() {
    let db = PgTestDb::new("pga_boundary_key");
    // Three rows share the greatest cursor value: the watermark after run 1.
    db.execute(
        "CREATE SCHEMA src;
         CREATE TABLE src.items (id bigint PRIMARY KEY, name text, amount numeric(12,2), updated_at timestamp);
         INSERT INTO src.items
         SELECT i, 'item ' || i, i, least(timestamp '2024-01-01' + i * interval '1 day', timestamp '2024-01-09')
         FROM generate_series(1, 10) AS i;",
    );
    let w = "2024-01-09 00:00:00";
    assert_eq!(rows_at(&db, "src.items", "updated_at", w), 3);
    let s = Sandbox::new(&[PROJECT], &db, &db);
    let run = |s: &Sandbox| {
        s.exec(PROJECT, &["--load-type", "I", "--task", "merge"])
            .ok()
    };

    assert_eq!(run(&s).figures("merge"), (10, 10, 0));
    assert_eq!(watermark(&db, PROJECT, "app.items").as_deref(), Some(w));

    // A row arrives late with a cursor exactly on the watermark: the next run must load it.
    db.execute(&format!(
        "INSERT INTO src.items VALUES (11, 'late', 11, '{w}')"
    ));
    assert_eq!(run(&s).figures("merge"), (4, 1, 0));
    assert_eq!(
        text(&db, "SELECT name FROM app.items WHERE id = 11"),
        ["late"]
    );

    // Nothing changed: the boundary rows are read again and change nothing.
    assert_eq!(run(&s).figures("merge"), (4, 0, 0));
    // A boundary row changing without its cursor moving is picked up as well.
    db.execute("UPDATE src.items SET name = 'changed on the boundary' WHERE id = 9");
    assert_eq!(run(&s).figures("merge"), (4, 0, 1));

    assert_eq!(
        text(&db, "SELECT count(*), count(DISTINCT id) FROM app.items"),
        ["11|11"]
    );
    assert_eq!(differences(&db, "src.items", "app.items"), 0);
    let records = audit(&db, "app.items");
    assert_eq!(
        records
            .iter()
            .map(|r| (r.status.as_str(), r.data_max_date.as_deref()))
            .collect::<Vec<_>>(),
        [("success", Some(w)); 4],
        "{records:#?}"
    );
}

#[test]
fn a_keyless_append_never_appends_the_boundary_rows_twice() {
    let db = PgTestDb::new("pga_boundary_append");
    db.execute(
        "CREATE SCHEMA src;
         CREATE TABLE src.events (id bigint, at timestamp, payload text);
         INSERT INTO src.events
         SELECT i, least(timestamp '2024-01-01' + i * interval '1 hour', timestamp '2024-01-01 08:00'), 'event ' || i
         FROM generate_series(1, 10) AS i;",
    );
    let w = "2024-01-01 08:00:00";
    assert_eq!(rows_at(&db, "src.events", "at", w), 3);
    let s = Sandbox::new(&[PROJECT], &db, &db);
    let run = |s: &Sandbox| {
        s.exec(PROJECT, &["--load-type", "I", "--task", "append"])
            .ok()
    };

    assert_eq!(run(&s).figures("append"), (10, 10, 0));
    assert_eq!(count(&db, "app.events"), 10);

    // No change: `at > watermark` reads nothing, the three rows on the watermark stay single.
    assert_eq!(run(&s).figures("append"), (0, 0, 0));
    assert_eq!(count(&db, "app.events"), 10);
    assert_eq!(watermark(&db, PROJECT, "app.events").as_deref(), Some(w));

    // Two new rows past the watermark (sharing their cursor value) are appended once.
    db.execute(
        "INSERT INTO src.events VALUES (11, '2024-01-01 08:00:00.000001', 'event 11'),
                                       (12, '2024-01-01 08:00:00.000001', 'event 12')",
    );
    assert_eq!(run(&s).figures("append"), (2, 2, 0));
    assert_eq!(run(&s).figures("append"), (0, 0, 0));

    assert_eq!(count(&db, "app.events"), 12);
    // EXCEPT ALL: a duplicated row would show as a difference.
    assert_eq!(differences(&db, "src.events", "app.events"), 0);
    let records = audit(&db, "app.events");
    assert_eq!(
        records
            .iter()
            .map(|r| (
                r.status.as_str(),
                r.data_max_date.as_deref(),
                r.number_of_records
            ))
            .collect::<Vec<_>>(),
        [
            ("success", Some(w), Some(10)),
            ("success", Some(w), Some(0)),
            ("success", Some("2024-01-01 08:00:00.000001"), Some(2)),
            ("success", Some("2024-01-01 08:00:00.000001"), Some(0)),
        ],
        "{records:#?}"
    );
}
