//! Full loads written over several COPY streams (`load(#{ parallel: N })`): the new table is
//! committed on a connection of its own so that N connections can write it, and the target
//! changes only when the swap commits with the audit record. Whatever fails (a refused row
//! while the streams write, the key once they committed, an error-level check), the old table
//! stays and the new one is gone.

use crate::common::{records, text, PgTestDb};
use crate::Sandbox;

const SOURCE: &str =
    "CREATE TABLE many AS SELECT i AS id, md5(i::text) AS t, (i * 0.01)::numeric(12,2) AS n,
            CASE WHEN i % 7 = 0 THEN NULL ELSE date '2024-01-01' + i % 365 END AS d
       FROM generate_series(1, 60000) AS i;
     CREATE SCHEMA out;
     CREATE TABLE out.many (id bigint PRIMARY KEY, t text, n numeric(12,2), d date);
     INSERT INTO out.many VALUES (-1, 'the old table', 0, NULL);";

fn sandbox(db: &PgTestDb, script: &str) -> Sandbox {
    let s = Sandbox::new(db, &[]);
    std::fs::create_dir_all(s.path("projects/par")).expect("project folder");
    s.write("projects/par/project.rhai", script);
    s
}

fn debug(s: &Sandbox, args: &[&str]) -> crate::Run {
    let warehouse = s.warehouse.clone();
    s.exec_env(&warehouse, &[("ETL_LOG", "etl=debug")], "par", args)
}

/// The rows each stream wrote, from the debug log of the load into `table`.
fn per_stream(stderr: &str, table: &str) -> Vec<u64> {
    let line = stderr
        .lines()
        .find(|l| l.contains("Rows per COPY stream:") && l.contains(&format!("table={table}")))
        .unwrap_or_else(|| panic!("no per-stream rows logged for {table}:\n{stderr}"));
    let list = line
        .split("Rows per COPY stream: ")
        .nth(1)
        .and_then(|r| r.split('.').next())
        .expect("the counts");
    list.split(", ")
        .map(|n| n.parse().expect("a count"))
        .collect()
}

fn side_tables(db: &PgTestDb) -> Vec<String> {
    text(
        db,
        "SELECT count(*) FROM pg_tables WHERE tablename LIKE '%etl_new%'",
    )
}

#[test]
fn three_copy_streams_load_the_same_rows_as_one_and_commit_with_the_audit_record() {
    let db = PgTestDb::new("par_same");
    db.execute(SOURCE);
    let s = sandbox(
        &db,
        r#"project("par");
let dw = connect("warehouse");
task("one", |run| dw.load(#{ from: dw.table("many"), into: "out.one", key: ["id"], parallel: 1 }));
// Rows encoded at the source, spread over three connections.
task("encoded", |run| dw.load(#{ from: dw.table("many"), into: "out.many", key: ["id"], parallel: 3 }));
// Rows as values (a .filter looks at them), encoded by etl for each stream.
task("values", |run| dw.load(#{
    from: dw.table("many").filter(|r| true), into: "out.values", key: ["id"], parallel: 3, batch_rows: 1000 }));
// Not a full load: written on the load's own connection, as said in the log.
task("merged", #{ after: ["encoded"] }, |run| dw.load(#{
    from: dw.table("many"), into: "out.merged", key: ["id"], mode: "merge", parallel: 3 }));
"#,
    );
    let run = debug(&s, &[]).ok();
    for table in ["out.many", "out.values"] {
        assert_eq!(records(&db, table), records(&db, "out.one"), "{table}");
        let counts = per_stream(&run.stderr, table);
        assert_eq!(counts.len(), 3, "{table}: {counts:?}");
        assert!(counts.iter().all(|n| *n > 0), "{table}: {counts:?}");
        assert_eq!(counts.iter().sum::<u64>(), 60000, "{table}: {counts:?}");
    }
    run.contains("Writing the new table over 3 connections at once. table=out.many");
    run.contains("parallel applies to full loads only; this merge load writes on one connection.");
    assert_eq!(records(&db, "out.merged"), records(&db, "out.one"));
    // The key was built after the rows were in, under the table's own name.
    assert_eq!(
        text(
            &db,
            "SELECT conname FROM pg_constraint WHERE conrelid = 'out.many'::regclass AND contype = 'p'"
        ),
        ["many_pkey"]
    );
    assert_eq!(side_tables(&db), ["0"]);
    assert_eq!(
        text(
            &db,
            "SELECT status, number_of_records FROM etl.etl_runs WHERE target_table = 'out.many'"
        ),
        ["success|60000"]
    );
    // What the next run would do says so.
    let plan = s.etl(&["plan", "projects/par/project.rhai", "--task", "encoded"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    plan.contains("built beside the table over up to 3 COPY streams, then swapped in");
}

#[test]
fn a_refused_row_a_duplicate_key_or_a_failed_check_leaves_the_old_table_and_no_new_one() {
    let db = PgTestDb::new("par_fail");
    db.execute(SOURCE);
    db.execute("CREATE TABLE dupes AS SELECT i % 59999 AS id, md5(i::text) AS t FROM generate_series(1, 60000) AS i;");
    let s = sandbox(
        &db,
        r#"project("par");
let dw = connect("warehouse");
task("refused", |run| dw.load(#{
    from: csv_file("data/many.csv", #{ types: #{ id: "bigint", t: "text" } }), into: "out.many", key: ["id"], parallel: 3 }));
task("dupes", |run| dw.load(#{ from: dw.table("dupes"), into: "out.many", key: ["id"], parallel: 3 }));
task("checked", |run| dw.load(#{
    from: dw.table("many"), into: "out.many", key: ["id"], parallel: 3, checks: [range("n", #{ max: 100 })] }));
"#,
    );
    // A text with a NUL character, which PostgreSQL cannot store: refused while the three
    // streams are open and the new table is committed.
    let mut csv = String::from("id,t\n");
    for i in 1..=60000 {
        let t = if i == 45678 {
            "a\u{0}b".to_string()
        } else {
            format!("row {i}")
        };
        csv.push_str(&format!("{i},{t}\n"));
    }
    std::fs::create_dir_all(s.path("projects/par/data")).expect("data folder");
    s.write("projects/par/data/many.csv", &csv);
    let before = records(&db, "out.many");
    let run = s.exec("par", &["--task", "refused"]).failed();
    run.contains("load into out.many, row 45678, column 't': text contains a NUL character");
    assert_eq!(records(&db, "out.many"), before);
    assert_eq!(side_tables(&db), ["0"]);

    // The streams have committed their rows when the key is built, and it fails.
    let run = s.exec("par", &["--task", "dupes"]).failed();
    run.contains("building the primary key (id)");
    assert_eq!(records(&db, "out.many"), before);
    assert_eq!(side_tables(&db), ["0"]);

    let run = s.exec("par", &["--task", "checked"]).failed();
    run.contains("checks failed, so nothing was loaded");
    assert_eq!(records(&db, "out.many"), before);
    assert_eq!(side_tables(&db), ["0"]);
    assert_eq!(
        text(
            &db,
            "SELECT task, status FROM etl.etl_runs WHERE target_table = 'out.many' ORDER BY id"
        ),
        ["refused|failed", "dupes|failed", "checked|failed"]
    );
}

#[test]
fn a_new_table_a_crashed_load_left_behind_is_dropped_by_the_next_load_of_any_mode() {
    let db = PgTestDb::new("par_left");
    db.execute(SOURCE);
    // What a load killed between writing its streams and the swap leaves: a committed,
    // half-filled new table beside the target.
    db.execute("CREATE TABLE out.many__etl_new (id bigint, junk text); INSERT INTO out.many__etl_new VALUES (1, 'x');");
    let s = sandbox(
        &db,
        r#"project("par");
let dw = connect("warehouse");
task("load", |run| dw.load(#{ from: dw.table("many"), into: "out.many", key: ["id"], parallel: 2 }));
task("wrong", |run| dw.load(#{ from: dw.table("many"), into: "out.many", parallel: 0 }));
task("append", |run| dw.load(#{ from: dw.sql("SELECT id + 1000000 AS id, t, n, d FROM many WHERE id <= 10"), into: "out.many", mode: "append" }));
"#,
    );
    s.exec("par", &["--task", "wrong"]).failed().contains(
        "load(): parallel (the COPY streams of a full load) must be from 1 to 32, or \"auto\" for one per two cores, not 0",
    );
    s.exec("par", &["--task", "load"]).ok();
    assert_eq!(
        text(&db, "SELECT count(*), sum(n) FROM out.many"),
        text(&db, "SELECT count(*), sum(n) FROM many")
    );
    assert_eq!(side_tables(&db), ["0"]);

    // A load of another mode drops it too, and says so.
    db.execute(
        "CREATE TABLE out.many__etl_new (id bigint); INSERT INTO out.many__etl_new VALUES (1);",
    );
    s.exec("par", &["--task", "append"]).ok().contains(
        "Dropped \"out\".\"many__etl_new\", the new table of an earlier load that did not finish.",
    );
    assert_eq!(side_tables(&db), ["0"]);
    assert_eq!(text(&db, "SELECT count(*) FROM out.many"), ["60010"]);
}

#[test]
fn a_load_makes_do_with_the_connections_its_pool_has_free() {
    let db = PgTestDb::new("par_pool");
    db.execute(SOURCE);
    let s = sandbox(
        &db,
        r#"project("par");
let dw = connect("warehouse");
// Two of the pool's connections are busy while the load opens its streams.
task("busy", |run| dw.query("SELECT pg_sleep(4)"));
task("busier", |run| dw.query("SELECT pg_sleep(4)"));
task("load", |run| {
    dw.query("SELECT pg_sleep(1)");
    dw.load(#{ from: dw.table("many"), into: "out.many", key: ["id"], parallel: 4 })
});
"#,
    );
    // Four connections: one stays for the source's read, so three streams are asked for;
    // with two held by the other tasks, the load writes over two (and its source waits).
    let url = format!("{}?pool_size=4", db.url());
    let run = s.exec_with(&url, "par", &["--jobs", "3"]).ok();
    run.contains("parallel: 4 asked, writing over at most 3 connections (pool_size 4 of warehouse, one left for reading).");
    run.contains("parallel: 3 asked, writing over 2: no more connections to warehouse were free within 2s (pool_size 4 in the URL).");
    assert_eq!(
        text(&db, "SELECT count(*), sum(n) FROM out.many"),
        text(&db, "SELECT count(*), sum(n) FROM many")
    );
    assert_eq!(side_tables(&db), ["0"]);
}
