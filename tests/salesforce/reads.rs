//! The REST query API: every record exactly once with exact types, incremental windows on
//! SystemModstamp, parent fields, deleted records, a session that expires mid-read, the
//! three login flows, and `etl plan`.

use super::common::{text, PgTestDb};
use super::{accounts, org, project, ts, Org, Sandbox};

#[test]
fn every_record_arrives_once_with_exact_types_in_postgres() {
    let mut all = accounts(7);
    all[6].deleted = true;
    let org = Org::start(all);
    let db = PgTestDb::new("sf_rest_types");
    let s = Sandbox::on_postgres(
        &org,
        &project(r#"sf.table("Account")"#, "crm.account", ""),
        &db,
    );
    s.exec().ok();
    // Three pages of two: nextRecordsUrl followed to the end, the deleted record left out.
    assert_eq!(
        org.requests()
            .iter()
            .filter(|r| r.path.contains("/query"))
            .count(),
        3
    );
    assert_eq!(
        text(
            &db,
            r#"SELECT count(*), count(DISTINCT "Id") FROM crm.account"#
        ),
        ["6|6"]
    );
    assert_eq!(
        text(
            &db,
            "SELECT column_name, CASE WHEN data_type = 'character varying' THEN 'varchar(' || character_maximum_length || ')' \
             WHEN data_type = 'numeric' THEN 'numeric(' || numeric_precision || ',' || numeric_scale || ')' ELSE data_type END \
             FROM information_schema.columns WHERE table_schema = 'crm' AND table_name = 'account' ORDER BY ordinal_position"
        ),
        [
            "Id|varchar(18)",
            "IsDeleted|boolean",
            "Name|varchar(255)",
            "AnnualRevenue|numeric(18,2)",
            "NumberOfEmployees|integer",
            "OwnerId|varchar(18)",
            "Founded__c|date",
            "SystemModstamp|timestamp with time zone",
        ],
        "describe's fields in order, compound BillingAddress left out"
    );
    assert_eq!(
        text(
            &db,
            r#"SELECT "Id", "Name", "AnnualRevenue", "NumberOfEmployees", "IsDeleted", "Founded__c",
                      to_char("SystemModstamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS')
               FROM crm.account WHERE "Id" IN ('001R00000000000003', '001R00000000000004') ORDER BY "Id""#
        ),
        [
            "001R00000000000003|Acme 3 \"quoted\", comma|NULL|30|f|1953-04-13|2024-03-01 10:00:03.250",
            "001R00000000000004|Acme 4 \"quoted\", comma|400.50|NULL|f|1954-05-14|2024-03-01 10:00:04.250",
        ]
    );
}

#[test]
fn sqlite_gets_the_same_records() {
    let org = Org::start(accounts(5));
    let s = Sandbox::new(&org, &project(r#"sf.table("Account")"#, "account", ""));
    s.exec().ok();
    let rows = s.sqlite(r#"SELECT "Id", "AnnualRevenue", "NumberOfEmployees", "IsDeleted", "Founded__c" FROM account ORDER BY "Id""#);
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0], "001R00000000000001|100.50|10|0|1951-02-11");
    assert_eq!(rows[4], "001R00000000000005|500.50|50|0|NULL");
}

#[test]
fn incremental_runs_read_from_the_systemmodstamp_watermark() {
    let org = Org::start(accounts(4));
    let db = PgTestDb::new("sf_incremental");
    let s = Sandbox::on_postgres(
        &org,
        &project(
            r#"sf.table("Account")"#,
            "crm.account",
            r#", cursor: "SystemModstamp""#,
        ),
        &db,
    );
    s.etl(&["exec", "projects/crm/project.rhai", "--load-type", "I"])
        .ok();
    org.with(|st| {
        st.accounts[1].name = "Renamed".into();
        st.accounts[1].modstamp = ts("2024-03-02T08:00:00.125Z");
        st.accounts.push(org::account(5, "2024-03-02T09:00:00Z"));
    });
    s.etl(&["exec", "projects/crm/project.rhai", "--load-type", "I"])
        .ok();
    let soql = org.with(|st| st.soql.clone());
    assert!(
        !soql[0].contains("WHERE"),
        "the first run reads everything: {}",
        soql[0]
    );
    // The watermark 10:00:04.250 as a SOQL datetime literal, widened to the second; the
    // loader keeps exactly the rows of the window.
    assert!(
        soql[1].ends_with(
            "FROM Account WHERE (SystemModstamp >= 2024-03-01T10:00:04Z OR SystemModstamp = null)"
        ),
        "{}",
        soql[1]
    );
    assert_eq!(
        text(
            &db,
            r#"SELECT "Id", "Name" FROM crm.account WHERE "Id" IN ('001R00000000000002', '001R00000000000005') ORDER BY 1"#
        ),
        [
            "001R00000000000002|Renamed",
            "001R00000000000005|Acme 5 \"quoted\", comma"
        ]
    );
    assert_eq!(text(&db, "SELECT count(*) FROM crm.account"), ["5"]);
    assert_eq!(
        text(&db, "SELECT status, load_type, number_of_records, data_max_date FROM etl.etl_runs ORDER BY id"),
        [
            "success|I|4|2024-03-01 10:00:04.250+00",
            // Account 4 sat on the watermark: read again (>= with a key), merged unchanged.
            "success|I|3|2024-03-02 09:00:00+00",
        ]
    );
    // The plan of the next run shows the SOQL it would send, window and all.
    s.etl(&["plan", "projects/crm/project.rhai", "--load-type", "I"])
        .ok()
        .contains("WHERE (SystemModstamp >= 2024-03-02T09:00:00Z OR SystemModstamp = null)")
        .contains("REST query");
}

#[test]
fn parent_fields_become_columns() {
    let org = Org::start(accounts(3));
    let s = Sandbox::new(
        &org,
        &project(
            r#"sf.sql("SELECT Id, Name, owner.name FROM Account WHERE Name != :skip", #{ skip: "O'Neil" })"#,
            "account_owner",
            "",
        ),
    );
    s.exec().ok();
    assert_eq!(
        s.sqlite(r#"SELECT "Id", "Owner_Name" FROM account_owner ORDER BY 1"#),
        [
            "001R00000000000001|Grace Hopper",
            "001R00000000000002|Ada Lovelace",
            "001R00000000000003|Grace Hopper",
        ]
    );
    // The parameter is written in as an escaped literal.
    let soql = org.with(|st| st.soql[0].clone());
    assert_eq!(
        soql,
        r#"SELECT Id, Name, owner.name FROM Account WHERE Name != 'O\'Neil'"#
    );
}

#[test]
fn deleted_records_come_from_queryall() {
    let mut all = accounts(3);
    all[2].deleted = true;
    let org = Org::start(all);
    let s = Sandbox::new(
        &org,
        &project(
            r#"sf.table("Account", #{ deleted: true })"#,
            "account_all",
            "",
        ),
    );
    s.exec().ok();
    assert_eq!(
        s.sqlite(r#"SELECT "Id", "IsDeleted" FROM account_all ORDER BY 1"#),
        [
            "001R00000000000001|0",
            "001R00000000000002|0",
            "001R00000000000003|1"
        ]
    );
    assert!(org
        .requests()
        .iter()
        .any(|r| r.path == "/services/data/v61.0/queryAll"));
}

#[test]
fn a_session_that_expires_mid_read_logs_in_once_more() {
    let org = Org::start(accounts(7));
    org.with(|st| st.expire_on_page = Some(3));
    let s = Sandbox::new(&org, &project(r#"sf.table("Account")"#, "account", ""));
    s.exec().ok();
    assert_eq!(
        s.sqlite("SELECT count(DISTINCT \"Id\") || '/' || count(*) FROM account"),
        ["7/7"]
    );
    assert_eq!(org.with(|st| st.logins), 2);
}

#[test]
fn jwt_and_refresh_token_flows_log_in() {
    let org = Org::start(accounts(2));
    let base = format!("salesforce://127.0.0.1:{}?tls=false", org.server.port);
    let jwt = Sandbox::new(&org, &project(r#"sf.table("Account")"#, "account", ""))
        .env(
            "ETL_CONN_SF",
            &format!(
                "{base}&flow=jwt&client_id_env=SF_CLIENT_ID&username={}&private_key_env=SF_KEY",
                org::USERNAME
            ),
        )
        .env("SF_KEY", org::KEY_PEM);
    jwt.exec().ok();
    assert_eq!(jwt.sqlite("SELECT count(*) FROM account"), ["2"]);
    let refresh = Sandbox::new(&org, &project(r#"sf.table("Account")"#, "account", ""))
        .env(
            "ETL_CONN_SF",
            &format!(
                "{base}&flow=refresh_token&client_id_env=SF_CLIENT_ID&refresh_token_env=SF_REFRESH"
            ),
        )
        .env("SF_REFRESH", org::REFRESH_TOKEN);
    refresh.exec().ok();
    assert_eq!(refresh.sqlite("SELECT count(*) FROM account"), ["2"]);
    assert_eq!(org.with(|st| st.logins), 2);
    // A key that is not the one the app knows: the signature check refuses it.
    let other = jwt::other_key();
    jwt_refused(&org, &base, &other);
}

fn jwt_refused(org: &Org, base: &str, pem: &str) {
    Sandbox::new(org, &project(r#"sf.table("Account")"#, "account", ""))
        .env(
            "ETL_CONN_SF",
            &format!(
                "{base}&flow=jwt&client_id_env=SF_CLIENT_ID&username={}&private_key_env=SF_KEY",
                org::USERNAME
            ),
        )
        .env("SF_KEY", pem)
        .exec()
        .failed()
        .contains("invalid_client")
        .lacks("PRIVATE KEY");
}

mod jwt {
    /// A second RSA key, so a signature by the wrong key is refused.
    pub fn other_key() -> String {
        include_str!("jwt_other_key.pem").to_string()
    }
}

#[test]
fn plan_prints_the_soql() {
    let org = Org::start(accounts(2));
    let s = Sandbox::new(
        &org,
        &project(
            r#"sf.table("Account", #{ bulk: true })"#,
            "account",
            r#", cursor: "SystemModstamp""#,
        ),
    );
    s.etl(&["plan", "projects/crm/project.rhai"])
        .ok()
        .contains("SELECT Id, IsDeleted, Name, AnnualRevenue, NumberOfEmployees, OwnerId, Founded__c, SystemModstamp FROM Account")
        .contains("Bulk API 2.0 query job")
        .lacks(org::CLIENT_SECRET);
    // A plan reads describe, never records.
    assert!(org.requests().iter().all(|r| !r.path.contains("query")));
}
