//! 1M accounts through the REST query API and through a Bulk API 2.0 job into PostgreSQL:
//! rows per second and the loader's peak RSS. Run it with
//! `cargo test --release --test salesforce throughput -- --ignored --nocapture`.

use std::time::Instant;

use super::common::{text, PgTestDb};
use super::{accounts, project, Org, Sandbox};

#[test]
#[ignore = "a benchmark: 1M records, run on demand with --ignored --nocapture"]
fn throughput_rest_vs_bulk_1m_rows() {
    if !std::path::Path::new("/usr/bin/time").exists() {
        println!("skipped: /usr/bin/time is needed to measure peak RSS");
        return;
    }
    let n = 1_000_000;
    let org = Org::start(accounts(n));
    org.with(|st| {
        st.page_size = 2000;
        st.bulk_set_size = 100_000;
    });
    let db = PgTestDb::new("sf_throughput");
    for (name, from) in [
        ("REST query", r#"sf.table("Account")"#),
        ("Bulk API 2.0", r#"sf.table("Account", #{ bulk: true })"#),
    ] {
        let s = Sandbox::on_postgres(&org, &project(from, "crm.account", ""), &db);
        let started = Instant::now();
        let out = s.timed(&["exec", "projects/crm/project.rhai"]);
        let secs = started.elapsed().as_secs_f64();
        let rss_kb = out
            .output
            .lines()
            .find_map(|l| l.strip_prefix("PEAK_RSS_KB="))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .expect("peak RSS from /usr/bin/time");
        out.ok();
        assert_eq!(
            text(&db, "SELECT count(*) FROM crm.account"),
            [n.to_string()]
        );
        println!(
            "{name}: {n} rows in {secs:.1}s = {:.0} rows/s, loader peak RSS {} MiB",
            n as f64 / secs,
            rss_kb / 1024
        );
    }
}
