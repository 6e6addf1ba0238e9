//! `.map` and `.filter` closures over every portable type (fixture `pg_transforms`): a closure
//! that uses its row only as `r.name` is called with just those columns, and gives the same
//! table as the same closure made to see the whole row.

use crate::common::{column_types, records, text, PgTestDb};
use crate::{Sandbox, EXPECTED_TYPES};

#[test]
fn closures_called_with_the_columns_they_name_give_the_rows_of_closures_given_the_whole_row() {
    let db = PgTestDb::new("pg_transforms");
    db.execute(EXPECTED_TYPES);
    // Six rows: the three of every type again under new ids.
    db.execute(
        "INSERT INTO expected SELECT id + 3, b, i2, i4, i8, r, d, n, nbig, t, vc, dt, tm, ts, \
         tstz, iv, js, u, by, ai, at FROM expected",
    );
    let s = Sandbox::new(&db, &["pg_transforms"]);
    let run = s
        .exec_env(
            s.warehouse.as_str(),
            &[("ETL_LOG", "etl=debug")],
            "pg_transforms",
            &[],
        )
        .ok();
    // Only the closures that never look at the whole row are narrowed.
    run.contains(
        "only as r.name (i4, i8, id, n, n2, total, vc): each call gets 5 of the 21 columns",
    );
    assert_eq!(
        run.stderr.matches("each call gets").count(),
        1,
        "{}",
        run.stderr
    );

    assert_eq!(records(&db, "app.narrow"), records(&db, "app.whole"));
    assert_eq!(
        column_types(&db, "app.narrow"),
        column_types(&db, "app.whole")
    );
    assert_eq!(
        text(
            &db,
            "SELECT concat_ws(' ', id, total, vc, i4, n2) FROM app.narrow ORDER BY id"
        ),
        [
            "1 3 AB 1 12.50",
            "3 -9223372036854775808 ÜNÏCÖDÉ10C 1073741823 -9999999999.99",
            "4 3 AB 1 12.50",
            "5 none",
            "6 -9223372036854775808 ÜNÏCÖDÉ10C 1073741823 -9999999999.99",
        ]
    );
    // The columns no closure named came through as they were.
    let untouched = "b, i2, r, d, nbig, t, dt, tm, ts, tstz, iv, js::text, u, by, ai, at";
    assert_eq!(
        text(
            &db,
            &format!("SELECT ({untouched})::text FROM app.narrow ORDER BY id")
        ),
        text(
            &db,
            &format!("SELECT ({untouched})::text FROM expected WHERE id <> 2 ORDER BY id")
        )
    );
}
