//! SCD2 dimensions on the embedded SQLite warehouse (the same fixture runs on PostgreSQL in
//! tests/postgres/scd2.rs): five runs with changes, unchanged rows, type-1 columns, late rows
//! and deletes, compared with the history a person would write down.

use crate::support::Sandbox;

const HEADER: &str = "customer_id,name,city,email,changed_at\n";

fn history(s: &Sandbox) -> Vec<String> {
    s.warehouse()
        .rows(
            "SELECT customer_id, name, city, email, valid_from, coalesce(valid_to, '-'), is_current \
             FROM dim_customer ORDER BY customer_id, valid_from",
        )
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| v.unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn surrogate_key(s: &Sandbox, id: i64, city: &str) -> String {
    s.warehouse().rows(&format!(
        "SELECT customer_sk FROM dim_customer WHERE customer_id = {id} AND city = '{city}'"
    ))[0][0]
        .clone()
        .unwrap()
}

fn load(s: &Sandbox, rows: &str, expect: &str) {
    s.write(
        "projects/dw_scd2/data/customers.csv",
        format!("{HEADER}{rows}"),
    );
    s.exec("dw_scd2")
        .args(&["--param", "effective=yes"])
        .stderr_contains(expect)
        .run();
}

#[test]
fn five_runs_build_the_expected_history_with_late_rows_in_their_interval() {
    let s = Sandbox::with_project("dw_scd2");
    load(
        &s,
        "1,Ann,Paris,a@x,2024-01-01 00:00:00\n\
         2,Bob,Rome,b@x,2024-01-01 00:00:00\n\
         3,Cid,Oslo,c@x,2024-01-01 00:00:00\n",
        "scd2: 3 new versions, 0 changed",
    );
    let paris = surrogate_key(&s, 1, "Paris");
    // Ann moves, Dan is new, the others are unchanged.
    load(
        &s,
        "1,Ann,Lyon,a@x,2024-02-01 00:00:00\n\
         2,Bob,Rome,b@x,2024-01-01 00:00:00\n\
         3,Cid,Oslo,c@x,2024-01-01 00:00:00\n\
         4,Dan,Bern,d@x,2024-02-01 00:00:00\n",
        "scd2: 2 new versions, 1 changed",
    );
    // The same file again changes nothing.
    load(
        &s,
        "1,Ann,Lyon,a@x,2024-02-01 00:00:00\n\
         2,Bob,Rome,b@x,2024-01-01 00:00:00\n\
         4,Dan,Bern,d@x,2024-02-01 00:00:00\n",
        "scd2: 0 new versions, 0 changed",
    );
    // A late row: Ann lived in Nice from mid-January; Bob's e-mail (not tracked) changes in
    // place.
    load(
        &s,
        "1,Ann,Nice,a@x,2024-01-15 00:00:00\n\
         2,Bob,Rome,b2@x,2024-01-01 00:00:00\n",
        "scd2: 1 new versions, 2 changed",
    );
    // Dan's row again at a later instant with the same values: no new version.
    load(
        &s,
        "4,Dan,Bern,d@x,2024-03-01 00:00:00\n",
        "scd2: 0 new versions, 0 changed",
    );
    assert_eq!(
        history(&s),
        [
            "1 Ann Paris a@x 2024-01-01 00:00:00 2024-01-15 00:00:00 0",
            "1 Ann Nice a@x 2024-01-15 00:00:00 2024-02-01 00:00:00 0",
            "1 Ann Lyon a@x 2024-02-01 00:00:00 - 1",
            "2 Bob Rome b2@x 2024-01-01 00:00:00 - 1",
            "3 Cid Oslo c@x 2024-01-01 00:00:00 - 1",
            "4 Dan Bern d@x 2024-02-01 00:00:00 - 1",
        ]
    );
    assert_eq!(
        surrogate_key(&s, 1, "Paris"),
        paris,
        "a version keeps its surrogate key"
    );
    let sks = s
        .warehouse()
        .rows("SELECT count(DISTINCT customer_sk), count(*) FROM dim_customer");
    assert_eq!(sks[0][0], sks[0][1], "surrogate keys are unique");
}

#[test]
fn deleted_keys_close_and_a_returning_key_gets_a_new_version_after_the_gap() {
    let s = Sandbox::with_project("dw_scd2");
    let run = |rows: &str, expect: &str| {
        s.write(
            "projects/dw_scd2/data/customers.csv",
            format!("{HEADER}{rows}"),
        );
        s.exec("dw_scd2").stderr_contains(expect).run();
    };
    run(
        "1,Ann,Paris,a@x,2024-01-01 00:00:00\n2,Bob,Rome,b@x,2024-01-01 00:00:00\n",
        "scd2: 2 new versions, 0 changed",
    );
    run(
        "1,Ann,Paris,a@x,2024-01-01 00:00:00\n",
        "scd2: 0 new versions, 1 changed",
    );
    run(
        "1,Ann,Paris,a@x,2024-01-01 00:00:00\n2,Bob,Rome,b@x,2024-01-01 00:00:00\n",
        "scd2: 1 new versions, 0 changed",
    );
    let bob = s.warehouse().rows(
        "SELECT valid_from, valid_to, is_current FROM dim_customer WHERE customer_id = 2 \
         ORDER BY valid_from",
    );
    assert_eq!(bob.len(), 2, "{bob:?}");
    let (closed, back) = (&bob[0], &bob[1]);
    assert_eq!(closed[2].as_deref(), Some("0"));
    assert!(
        closed[1] < back[0],
        "the deleted interval ends before Bob returns: {bob:?}"
    );
    assert_eq!(back[1], None);
    assert_eq!(back[2].as_deref(), Some("1"));
    // Runs without a change record the run's start as valid_from of new versions.
    let audit = s.warehouse().audit_of("dim_customer");
    assert!(audit.iter().all(|r| r.status == "success"), "{audit:?}");
}

#[test]
fn two_rows_for_one_key_are_refused_naming_the_key() {
    let s = Sandbox::with_project("dw_scd2");
    s.write(
        "projects/dw_scd2/data/customers.csv",
        format!(
            "{HEADER}1,Ann,Paris,a@x,2024-01-01 00:00:00\n1,Ann,Lyon,a@x,2024-02-01 00:00:00\n"
        ),
    );
    s.exec("dw_scd2")
        .status(1)
        .stderr_contains("the source has several rows for (customer_id) = (1)")
        .stderr_contains("effective_from")
        .run();
}
