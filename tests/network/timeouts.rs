//! The server-side statement timeout, on a healthy network: each server cancels a statement
//! that runs longer than the connection's `statement_timeout`, and the error says which
//! connection and which setting to raise.

use crate::harness::{wait_until, Net};

#[test]
fn a_statement_past_statement_timeout_is_cancelled_by_either_server() {
    let net = Net::new("net_statement_timeout");
    let mut urls = net.direct();
    urls.warehouse = format!("{}?statement_timeout=1s", net.pg.url());
    urls.my = format!("{}?statement_timeout=1500ms", net.my.url());
    let ran = net.exec(&urls, "pg_sleep").failed();
    ran.contains("connection 'warehouse'")
        .contains("canceling statement due to statement timeout")
        .contains("raise statement_timeout");
    let ran = net.exec(&urls, "my_sleep").failed();
    ran.contains("connection 'my'")
        .contains("max_statement_time exceeded")
        .contains("raise statement_timeout");

    // The same limits from etl.toml, for every connection.
    net.configure("[connections]\nstatement_timeout = \"1s\"\n[env.dev.connections]\n");
    net.exec(&net.direct(), "pg_sleep")
        .failed()
        .contains("canceling statement due to statement timeout");
    net.exec(&net.direct(), "my_sleep")
        .failed()
        .contains("max_statement_time exceeded");
}

/// `pg_sleep(3600)` running on the server for this database.
fn sleeping(net: &Net) -> bool {
    net.pg
        .scalar(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND state = 'active' \
             AND query LIKE '%pg_sleep(3600)%' AND pid <> pg_backend_pid()",
            net.pg.name()
        ))
        .as_deref()
        != Some("0")
}

#[test]
fn a_cancelled_run_cancels_its_statement_on_the_server() {
    let net = Net::new("net_cancel");
    let mut run = net.spawn(&net.direct(), "pg_sleep");
    run.wait_for("the statement to run on the server", |_| sleeping(&net));
    run.interrupt();
    let ran = run.wait();
    assert_ne!(ran.code, Some(0), "{}", ran.output);
    // An hour's sleep whose client left would go on; the cancel request ends it now.
    wait_until("the statement to be cancelled", || !sleeping(&net));
}
