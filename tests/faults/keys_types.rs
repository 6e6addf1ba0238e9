//! Wrong types into existing tables, duplicate keys within one load and across loads, and
//! NULL keys, into SQLite and PostgreSQL. `items` (id integer key, name text, qty integer)
//! holds the seed; each failing case leaves it as it was, with exit code 1, the table, row
//! and column named, and a `failed` audit record saying the same.

use crate::corpus::{Corpus, SEED};
use crate::warehouse::Warehouse;

/// `task NAME` loading `data/in.csv` (with `csv` options) into `items` with `load` options.
fn load_task(csv: &str, load: &str) -> String {
    format!(
        "task(\"load\", |run| dw.load(#{{ from: csv_file(\"data/in.csv\", {csv}), into: \"items\", key: [\"id\"], batch_rows: 1, {load} }}));"
    )
}

struct Case {
    name: &'static str,
    csv: &'static str,
    csv_options: &'static str,
    load_options: &'static str,
    load_type: &'static str,
    error: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "text into an integer column (merge)",
        csv: "id,name,qty\n1,pen,11\n2,ink,lots\n",
        csv_options: "#{}",
        load_options: "",
        load_type: "I",
        error: &["load into items, column 'qty': the source type text does not fit the target column type", "allow_type_change: true"],
    },
    Case {
        name: "text into an integer column, types allowed to change",
        csv: "id,name,qty\n1,pen,11\n2,ink,lots\n",
        csv_options: "#{}",
        load_options: "allow_type_change: true",
        load_type: "I",
        error: &["load into items, row 2, column 'qty': 'lots' is not a valid integer"],
    },
    Case {
        name: "a bigint into an integer column",
        csv: "id,name,qty\n1,pen,11\n2,ink,10000000000\n",
        csv_options: "#{ types: #{ qty: \"bigint\" } }",
        load_options: "",
        load_type: "I",
        error: &["load into items, column 'qty': the source type bigint does not fit the target column type"],
    },
    Case {
        name: "an out-of-range value, types allowed to change",
        csv: "id,name,qty\n1,pen,11\n2,ink,10000000000\n",
        csv_options: "#{ types: #{ qty: \"bigint\" } }",
        load_options: "allow_type_change: true",
        load_type: "I",
        error: &["load into items, row 2, column 'qty': 10000000000 is out of range for integer"],
    },
    Case {
        name: "a decimal into an integer column, types allowed to change",
        csv: "id,name,qty\n1,pen,1.5\n",
        csv_options: "#{ types: #{ qty: \"numeric(4,1)\" } }",
        load_options: "allow_type_change: true",
        load_type: "I",
        error: &["load into items, row 1, column 'qty': 1.5 is not a whole number for integer"],
    },
    Case {
        name: "the seed appended again onto its primary key",
        csv: SEED,
        csv_options: "#{}",
        load_options: "mode: \"append\"",
        load_type: "F",
        error: &["load into items, row 1"],
    },
];

fn run_cases(dw: Warehouse) {
    let c = Corpus::new(dw);
    for case in CASES {
        c.file("in.csv", case.csv);
        c.script(&load_task(case.csv_options, case.load_options));
        c.fails(case.name, &["--load-type", case.load_type], 1, case.error);
    }
    // The duplicate on append, in the database's words.
    let dup = if c.dw.is_pg() {
        "Key (id)=(1) already exists"
    } else {
        "UNIQUE constraint failed: items.id"
    };
    c.file("in.csv", SEED);
    c.script(&load_task("#{}", "mode: \"append\""));
    c.fails(
        "append, the database's words",
        &[],
        1,
        &["load into items, row 1", dup],
    );
}

#[test]
fn wrong_types_and_duplicates_fail_naming_column_and_row_in_sqlite() {
    run_cases(Warehouse::sqlite());
}

#[test]
fn wrong_types_and_duplicates_fail_naming_column_and_row_in_postgres() {
    run_cases(Warehouse::pg("keys_types"));
}

/// A key repeated within one full load: the new table cannot get its primary key.
#[test]
fn a_key_twice_in_one_full_load_fails_and_keeps_the_old_table() {
    for dw in [Warehouse::sqlite(), Warehouse::pg("dup_full")] {
        let c = Corpus::new(dw);
        c.file("in.csv", "id,name,qty\n1,pen,1\n1,pencil,2\n3,pad,3\n");
        c.script(&load_task("#{}", ""));
        let words: &[&str] = if c.dw.is_pg() {
            &[
                "load into items",
                "building the primary key (id)",
                "Key (id)=(1) is duplicated",
            ]
        } else {
            &["load into items, row 2", "UNIQUE constraint failed"]
        };
        c.fails("a key twice in a full load", &[], 1, words);
    }
}

/// A key repeated within one merge: the last row wins, documented (scripting.md, Modes).
#[test]
fn a_key_twice_in_one_merge_keeps_the_last_row() {
    for dw in [Warehouse::sqlite(), Warehouse::pg("dup_merge")] {
        let c = Corpus::new(dw);
        c.file("in.csv", "id,name,qty\n2,first,1\n4,new,4\n2,last,2\n");
        c.script(&load_task("#{}", ""));
        c.run(&["--load-type", "I"]).ok();
        c.run(&["--load-type", "I"]).ok();
        let rows = c.dw.rows("SELECT id, name, qty FROM items ORDER BY id");
        let rows: Vec<String> = rows
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(Option::unwrap_or_default)
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        assert_eq!(rows, ["1|pen|10", "2|last|2", "3|pad|30", "4|new|4"]);
    }
}

fn null_key(dw: Warehouse) -> Corpus {
    let c = Corpus::new(dw);
    c.file("in.csv", "id,name,qty\n1,pen,11\n,nobody,0\n3,pad,33\n");
    c.script(&load_task("#{}", ""));
    c
}

/// A NULL key is refused: the load fails, the table and the audit say so, nothing changes.
#[test]
fn a_null_key_fails_the_load_in_postgres() {
    for load_type in ["F", "I"] {
        let c = null_key(Warehouse::pg("null_key"));
        c.fails(
            &format!("a NULL key, --load-type {load_type}"),
            &["--load-type", load_type],
            1,
            &["load into items", "column 'id'", "the key column is NULL"],
        );
    }
}

/// Issue 11 item 4, the documented behaviour: the error names the source row.
#[test]
fn a_null_key_error_names_the_source_row_in_postgres() {
    for load_type in ["F", "I"] {
        let c = null_key(Warehouse::pg("null_key_row"));
        c.fails(
            &format!("a NULL key, --load-type {load_type}"),
            &["--load-type", load_type],
            1,
            &["load into items, row 2, column 'id'"],
        );
    }
}

/// Issue 11 item 4: SQLite takes the NULL key (its primary keys allow NULL), and every merge
/// adds the row again.
#[test]
fn a_null_key_fails_the_load_in_sqlite() {
    for load_type in ["F", "I"] {
        let c = null_key(Warehouse::sqlite());
        c.fails(
            &format!("a NULL key, --load-type {load_type}"),
            &["--load-type", load_type],
            1,
            &["load into items, row 2, column 'id'"],
        );
    }
}
