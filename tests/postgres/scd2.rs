//! SCD2 dimensions on PostgreSQL (the fixture tests/projects/dw_scd2; the same runs on SQLite
//! in tests/cli/scd2.rs): five runs compared with the expected history, the surrogate key an
//! identity column, and a failing run that leaves the history as it was.

use crate::common::{column_types, text, PgTestDb};
use crate::Sandbox;

const HEADER: &str = "customer_id,name,city,email,changed_at\n";

fn history(db: &PgTestDb) -> Vec<String> {
    text(
        db,
        "SELECT concat_ws(' ', customer_id, name, city, email, valid_from, coalesce(valid_to::text, '-'), is_current) \
         FROM dim_customer ORDER BY customer_id, valid_from",
    )
}

fn load(s: &Sandbox, rows: &str, expect: &str) {
    s.write(
        "projects/dw_scd2/data/customers.csv",
        &format!("{HEADER}{rows}"),
    );
    s.exec("dw_scd2", &["--param", "effective=yes"])
        .ok()
        .contains(expect);
}

#[test]
fn five_runs_build_the_expected_history_and_a_failed_run_changes_nothing() {
    let db = PgTestDb::new("scd2_history");
    let s = Sandbox::new(&db, &["dw_scd2"]);
    load(
        &s,
        "1,Ann,Paris,a@x,2024-01-01 00:00:00\n\
         2,Bob,Rome,b@x,2024-01-01 00:00:00\n\
         3,Cid,Oslo,c@x,2024-01-01 00:00:00\n",
        "scd2: 3 new versions, 0 changed",
    );
    let paris = text(
        &db,
        "SELECT customer_sk FROM dim_customer WHERE city = 'Paris'",
    );
    load(
        &s,
        "1,Ann,Lyon,a@x,2024-02-01 00:00:00\n\
         2,Bob,Rome,b@x,2024-01-01 00:00:00\n\
         3,Cid,Oslo,c@x,2024-01-01 00:00:00\n\
         4,Dan,Bern,d@x,2024-02-01 00:00:00\n",
        "scd2: 2 new versions, 1 changed",
    );
    load(
        &s,
        "1,Ann,Lyon,a@x,2024-02-01 00:00:00\n\
         2,Bob,Rome,b@x,2024-01-01 00:00:00\n\
         4,Dan,Bern,d@x,2024-02-01 00:00:00\n",
        "scd2: 0 new versions, 0 changed",
    );
    load(
        &s,
        "1,Ann,Nice,a@x,2024-01-15 00:00:00\n\
         2,Bob,Rome,b2@x,2024-01-01 00:00:00\n",
        "scd2: 1 new versions, 2 changed",
    );
    load(
        &s,
        "4,Dan,Bern,d@x,2024-03-01 00:00:00\n",
        "scd2: 0 new versions, 0 changed",
    );
    let expected = [
        "1 Ann Paris a@x 2024-01-01 00:00:00 2024-01-15 00:00:00 f",
        "1 Ann Nice a@x 2024-01-15 00:00:00 2024-02-01 00:00:00 f",
        "1 Ann Lyon a@x 2024-02-01 00:00:00 - t",
        "2 Bob Rome b2@x 2024-01-01 00:00:00 - t",
        "3 Cid Oslo c@x 2024-01-01 00:00:00 - t",
        "4 Dan Bern d@x 2024-02-01 00:00:00 - t",
    ];
    assert_eq!(history(&db), expected);
    assert_eq!(
        text(
            &db,
            "SELECT customer_sk FROM dim_customer WHERE city = 'Paris'"
        ),
        paris
    );
    assert_eq!(
        column_types(&db, "dim_customer")[0],
        "customer_sk bigint",
        "the surrogate key comes first"
    );
    assert_eq!(
        text(
            &db,
            "SELECT attidentity FROM pg_attribute WHERE attrelid = 'dim_customer'::regclass \
             AND attname = 'customer_sk'"
        ),
        ["d"],
        "an identity column"
    );

    // Two rows for one key at one instant: refused, and the history is untouched.
    s.write(
        "projects/dw_scd2/data/customers.csv",
        &format!(
            "{HEADER}5,Eve,Kyiv,e@x,2024-04-01 00:00:00\n\
             1,Ann,Rome,a@x,2024-04-01 00:00:00\n1,Ann,Milan,a@x,2024-04-01 00:00:00\n"
        ),
    );
    s.exec("dw_scd2", &["--param", "effective=yes"])
        .failed()
        .contains("several rows for (customer_id, changed_at) = (1, 2024-04-01 00:00:00)");
    assert_eq!(history(&db), expected);
    assert_eq!(
        text(
            &db,
            "SELECT status FROM etl.etl_runs WHERE target_table = 'dim_customer' ORDER BY id DESC LIMIT 1"
        ),
        ["failed"]
    );
}

#[test]
fn without_effective_from_versions_start_at_the_run_and_deleted_keys_close() {
    let db = PgTestDb::new("scd2_deletes");
    let s = Sandbox::new(&db, &["dw_scd2"]);
    let run = |rows: &str, expect: &str| {
        s.write(
            "projects/dw_scd2/data/customers.csv",
            &format!("{HEADER}{rows}"),
        );
        s.exec("dw_scd2", &[]).ok().contains(expect);
    };
    run(
        "1,Ann,Paris,a@x,2024-01-01 00:00:00\n2,Bob,Rome,b@x,2024-01-01 00:00:00\n",
        "scd2: 2 new versions, 0 changed",
    );
    run(
        "1,Ann,Lyon,a@x,2024-01-01 00:00:00\n",
        "scd2: 1 new versions, 2 changed",
    );
    run(
        "1,Ann,Lyon,a@x,2024-01-01 00:00:00\n2,Bob,Rome,b@x,2024-01-01 00:00:00\n",
        "scd2: 1 new versions, 0 changed",
    );
    // Each version ends where the next begins; Bob's deleted interval stays a gap.
    assert_eq!(
        text(
            &db,
            "SELECT concat_ws(' ', customer_id, city, is_current, \
               CASE WHEN valid_to IS NULL THEN 'open' \
                    WHEN valid_to = lead(valid_from) OVER (PARTITION BY customer_id ORDER BY valid_from) THEN 'next' \
                    ELSE 'gap' END, \
               pg_typeof(valid_from)) \
             FROM dim_customer ORDER BY customer_id, valid_from"
        ),
        [
            "1 Paris f next timestamp with time zone",
            "1 Lyon t open timestamp with time zone",
            "2 Rome f gap timestamp with time zone",
            "2 Rome t open timestamp with time zone",
        ]
    );
}

/// A run that changes a few keys of many (here 3 of 101, under one in 20) meets the
/// dimension by its indexes instead of hashing it: the history is the same as ever.
#[test]
fn a_few_changes_among_many_keys_version_exactly_those() {
    let db = PgTestDb::new("scd2_few");
    let s = Sandbox::new(&db, &["dw_scd2"]);
    let rows = |change: bool| -> String {
        (1..=100)
            .map(|i| {
                let city = if change && i == 7 { "Lyon" } else { "Paris" };
                let email = if change && i == 8 { "new@x" } else { "old@x" };
                format!("{i},N{i},{city},{email},2024-01-01 00:00:00\n")
            })
            .chain(change.then(|| "101,New,Rome,n@x,2024-01-01 00:00:00\n".to_string()))
            .collect()
    };
    let run = |rows: String, expect: &str| {
        s.write(
            "projects/dw_scd2/data/customers.csv",
            &format!("{HEADER}{rows}"),
        );
        s.exec("dw_scd2", &[]).ok().contains(expect);
    };
    run(rows(false), "scd2: 100 new versions, 0 changed");
    // Key 7's tracked city changes (a new version), key 8's untracked email is corrected in
    // place, key 101 is new.
    run(rows(true), "scd2: 2 new versions, 2 changed");
    assert_eq!(
        text(
            &db,
            "SELECT concat_ws(' ', customer_id, city, email, is_current, valid_to IS NULL) \
             FROM dim_customer WHERE customer_id IN (6, 7, 8, 101) ORDER BY customer_id, valid_from"
        ),
        [
            "6 Paris old@x t t",
            "7 Paris old@x f f",
            "7 Lyon old@x t t",
            "8 Paris new@x t t",
            "101 Rome n@x t t"
        ]
    );
    assert_eq!(
        text(
            &db,
            "SELECT count(*), count(*) FILTER (WHERE is_current) FROM dim_customer"
        ),
        ["102|101"]
    );
    // A key read twice is refused by name (the one-column key's quick count found it).
    s.write(
        "projects/dw_scd2/data/customers.csv",
        &format!(
            "{HEADER}{}5,N5,Rome,old@x,2024-01-01 00:00:00\n",
            rows(true)
        ),
    );
    s.exec("dw_scd2", &[])
        .failed()
        .contains("several rows for (customer_id) = (5)");
}
