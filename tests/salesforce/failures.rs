//! Refusals: bad credentials (the secret never shown), a secret in the URL, an unknown object.

use super::{accounts, org, project, Org, Sandbox};

#[test]
fn bad_credentials_fail_without_showing_the_secret() {
    let org = Org::start(accounts(2));
    Sandbox::new(&org, &project(r#"sf.table("Account")"#, "account", ""))
        .env("SF_CLIENT_SECRET", "wrong-Secret-Value-77")
        .exec()
        .failed()
        .contains("invalid_client")
        .contains("client_secret_env=SF_CLIENT_SECRET")
        .lacks("wrong-Secret-Value-77");
}

#[test]
fn a_secret_written_in_the_url_is_refused() {
    let org = Org::start(accounts(2));
    let url = format!("{}&client_secret=hunter2-in-url", org.url());
    Sandbox::new(&org, &project(r#"sf.table("Account")"#, "account", ""))
        .env("ETL_CONN_SF", &url)
        .exec()
        .failed()
        .contains("client_secret_env=VARIABLE")
        .lacks("hunter2-in-url");
    assert!(org.requests().is_empty(), "nothing is sent");
    let _ = org::CLIENT_ID;
}

#[test]
fn an_unknown_object_names_itself() {
    let org = Org::start(accounts(2));
    Sandbox::new(&org, &project(r#"sf.table("Acount")"#, "account", ""))
        .exec()
        .failed()
        .contains("there is no object 'Acount'");
}
