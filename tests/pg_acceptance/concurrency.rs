//! Two runs of one project into one target at the same time: the second is refused with a clear
//! message while the first is in COPY, and the first completes.

use crate::common::PgTestDb;
use crate::harness::{audit, count, statuses, wait_for_copy, Sandbox};
use crate::swap::big_table;

#[test]
fn a_second_run_while_the_first_is_in_copy_is_refused_and_the_first_succeeds() {
    let dw = PgTestDb::new("pga_concurrent");
    let src = PgTestDb::new("pga_concurrent_src");
    src.execute(&big_table(300_000));
    let s = Sandbox::new(&["pga_full"], &dw, &src);

    let mut first = s.spawn("pga_full", &[]);
    wait_for_copy(&dw, &mut first);
    let second = s.exec("pga_full", &[]).failed();
    second.contains("another run of project pga_full is loading app.target right now");
    let first = first.wait().ok();
    assert_eq!(first.figures("load"), (300_000, 300_000, 0));
    assert_eq!(count(&dw, "app.target"), 300_000);

    let records = audit(&dw, "app.target");
    assert_eq!(statuses(&records), ["success", "failed"], "{records:#?}");
    assert_eq!(records[0].number_of_records, Some(300_000));
    let error = records[1].error_message.as_deref().unwrap_or_default();
    assert!(
        error.contains("another run of project pga_full is loading app.target"),
        "{error}"
    );
    assert_eq!(records[1].number_of_records, Some(0));
}
