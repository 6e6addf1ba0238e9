//! Bulk API 2.0 query jobs: several gzipped CSV result sets read by locator, the job deleted
//! afterwards; a cut result set or a failed job fails the load and leaves the target as it was.

use super::common::{text, PgTestDb};
use super::{accounts, project, Org, Sandbox};

#[test]
fn a_bulk_job_reads_several_result_sets_once_each() {
    let org = Org::start(accounts(8));
    let db = PgTestDb::new("sf_bulk_sets");
    let s = Sandbox::on_postgres(
        &org,
        &project(r#"sf.table("Account", #{ bulk: true })"#, "crm.account", ""),
        &db,
    );
    s.exec().ok();
    assert_eq!(
        text(
            &db,
            r#"SELECT count(*), count(DISTINCT "Id") FROM crm.account"#
        ),
        ["8|8"]
    );
    assert_eq!(
        text(
            &db,
            r#"SELECT "Name", "AnnualRevenue", "NumberOfEmployees", "Founded__c", "SystemModstamp" AT TIME ZONE 'UTC' FROM crm.account WHERE "Id" = '001R00000000000004'"#
        ),
        ["Acme 4 \"quoted\", comma|400.50|NULL|1954-05-14|2024-03-01 10:00:04.25"]
    );
    let reqs = org.requests();
    let locators: Vec<Option<&str>> = reqs
        .iter()
        .filter(|r| r.path.ends_with("/results"))
        .map(|r| r.param("locator"))
        .collect();
    // Three result sets of three, each asked for by the locator the one before gave.
    assert_eq!(locators, [None, Some("3"), Some("6")]);
    assert!(reqs
        .iter()
        .filter(|r| r.path.ends_with("/results"))
        .all(|r| r.header("accept-encoding") == Some("gzip")));
    let jobs = org.with(|st| {
        st.jobs
            .values()
            .map(|j| (j.deleted, j.aborted))
            .collect::<Vec<_>>()
    });
    assert_eq!(jobs, [(true, false)], "the job is deleted after the read");
}

#[test]
fn a_cut_result_set_fails_the_load_and_keeps_the_target() {
    let org = Org::start(accounts(4));
    let db = PgTestDb::new("sf_bulk_cut");
    let s = Sandbox::on_postgres(
        &org,
        &project(r#"sf.table("Account", #{ bulk: true })"#, "crm.account", ""),
        &db,
    );
    s.exec().ok();
    org.with(|st| {
        st.accounts.extend(accounts(9).into_iter().skip(4));
        st.cut_set = Some(2);
    });
    s.exec()
        .failed()
        .contains("result set 2")
        .contains("connection 'sf'");
    assert_eq!(text(&db, "SELECT count(*) FROM crm.account"), ["4"]);
    assert_eq!(
        text(&db, "SELECT status FROM etl.etl_runs ORDER BY id"),
        ["success", "failed"]
    );
    let second = org.with(|st| {
        let mut v: Vec<_> = st
            .jobs
            .iter()
            .map(|(id, j)| (id.clone(), j.aborted, j.deleted))
            .collect();
        v.sort();
        v[1].clone()
    });
    assert!(
        second.1 && second.2,
        "the failed job is aborted and deleted: {second:?}"
    );
}

#[test]
fn a_failed_job_fails_the_load_with_its_reason() {
    let org = Org::start(accounts(4));
    org.with(|st| {
        st.fail_jobs = Some("INVALID_FIELD: No such column 'Foo' on entity 'Account'".into())
    });
    let s = Sandbox::new(
        &org,
        &project(r#"sf.table("Account", #{ bulk: true })"#, "account", ""),
    );
    s.exec()
        .failed()
        .contains("the job ended Failed: INVALID_FIELD: No such column 'Foo'");
    assert_eq!(s.sqlite("SELECT status FROM etl_runs"), ["failed"]);
}

#[test]
fn a_bulk_query_reads_parent_fields_from_the_csv_header() {
    let org = Org::start(accounts(4));
    let s = Sandbox::new(
        &org,
        &project(
            r#"sf.sql("SELECT Id, Owner.Name, SystemModstamp FROM Account", #{ bulk: true, deleted: true })"#,
            "account_owner",
            "",
        ),
    );
    s.exec().ok();
    assert_eq!(
        s.sqlite(
            r#"SELECT "Id", "Owner_Name", "SystemModstamp" FROM account_owner ORDER BY 1 LIMIT 2"#
        ),
        [
            "001R00000000000001|Grace Hopper|2024-03-01 10:00:01.250+00:00",
            "001R00000000000002|Ada Lovelace|2024-03-01 10:00:02.250+00:00",
        ]
    );
    let created: serde_json::Value = serde_json::from_str(
        &org.requests()
            .iter()
            .find(|r| r.method == "POST" && r.path.ends_with("/jobs/query"))
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(created["operation"], "queryAll");
}
