//! Faults on the warehouse connection while a load's COPY streams into it.

use std::time::Duration;

use crate::common::proxy::Proxy;
use crate::harness::{copy_running, wait_sessions_end, Net, Ran, Running, Urls};
use crate::pga::{audit, differences, fingerprint, leftover_tables, statuses};

/// Every connection direct but the warehouse, which goes through `proxy` with `query` added.
fn via(net: &Net, proxy: &Proxy, query: &str) -> Urls {
    let mut urls = net.direct();
    urls.warehouse = format!("{}{query}", proxy.url(net.pg.url()));
    urls
}

/// A first load, then changes in the source, so a later load that succeeds changes the target.
fn loaded(test: &str) -> Net {
    let net = Net::new(test);
    net.exec(&net.direct(), "copy").ok();
    net.pg
        .execute("UPDATE public.big SET qty = qty + 1, note = note || '!' WHERE id % 7 = 0");
    net
}

/// Starts `task` and waits until its COPY is under way: the server shows it and a megabyte
/// more went through the proxy.
fn mid_copy(net: &Net, proxy: &Proxy, urls: &Urls, task: &str) -> Running {
    let start = proxy.upstream_bytes();
    let mut run = net.spawn(urls, task);
    run.wait_for("the COPY into the warehouse", |_| {
        copy_running(&net.pg) && proxy.upstream_bytes() - start > 1 << 20
    });
    run
}

/// The failed load left the target as it was, no table behind, and a failed audit record
/// whose error contains `error`.
fn unchanged(net: &Net, before: &str, ran: &Ran, error: &str) {
    ran.contains(error);
    assert_eq!(fingerprint(&net.pg, "app.big"), before, "target unchanged");
    let records = audit(&net.pg, "app.big");
    let last = records.last().expect("an audit record");
    assert_eq!(last.status, "failed", "{records:#?}");
    let message = last.error_message.as_deref().unwrap_or_default();
    assert!(message.contains(error), "{message}");
    wait_sessions_end(&net.pg);
    assert_eq!(leftover_tables(&net.pg), Vec::<String>::new());
}

#[test]
fn a_copy_cut_mid_way_rolls_back_and_a_retried_task_then_succeeds() {
    let net = loaded("net_copy_cut");
    let before = fingerprint(&net.pg, "app.big");
    let proxy = net.pg_proxy();
    proxy.slow(Duration::from_millis(20));
    let run = mid_copy(&net, &proxy, &via(&net, &proxy, ""), "copy");
    proxy.cut();
    proxy.heal();
    let ran = run.wait().failed();
    unchanged(&net, &before, &ran, "connection 'warehouse'");

    proxy.slow(Duration::from_millis(20));
    let run = mid_copy(&net, &proxy, &via(&net, &proxy, ""), "copy_retried");
    proxy.cut();
    proxy.heal();
    let ran = run.wait().ok();
    ran.contains("Task 'copy_retried' failed (attempt 1, will retry)");
    assert_eq!(differences(&net.pg, "public.big", "app.big"), 0);
    assert_eq!(
        statuses(&audit(&net.pg, "app.big")),
        ["success", "failed", "failed", "success"]
    );
}

#[test]
fn a_stalled_copy_ends_by_the_read_timeout_and_a_retried_task_succeeds_once_healed() {
    let net = loaded("net_copy_stall");
    let before = fingerprint(&net.pg, "app.big");
    let proxy = net.pg_proxy();
    proxy.slow(Duration::from_millis(20));
    let urls = via(&net, &proxy, "?read_timeout=4s");
    let run = mid_copy(&net, &proxy, &urls, "copy");
    proxy.stall();
    // Nothing but the read timeout ends this run: the proxy stays stalled until it has.
    let ran = run.wait().failed();
    ran.contains("no progress on connection 'warehouse'");
    proxy.heal();
    unchanged(&net, &before, &ran, "read_timeout=4s");

    proxy.slow(Duration::from_millis(20));
    let mut run = mid_copy(&net, &proxy, &urls, "copy_retried");
    proxy.stall();
    run.wait_for("the first attempt to fail", |out| {
        out.contains("Task 'copy_retried' failed (attempt 1, will retry)")
    });
    proxy.heal();
    run.wait().ok();
    assert_eq!(differences(&net.pg, "public.big", "app.big"), 0);
    let records = audit(&net.pg, "app.big");
    assert_eq!(statuses(&records[..3]), ["success", "failed", "failed"]);
    assert_eq!(records.last().unwrap().status, "success", "{records:#?}");
}

#[test]
fn a_slow_link_loads_exactly_and_a_copy_past_statement_timeout_is_cancelled() {
    let net = loaded("net_copy_slow");
    let proxy = net.pg_proxy();
    proxy.slow(Duration::from_millis(5));
    net.exec(&via(&net, &proxy, "?read_timeout=4s"), "copy")
        .ok();
    assert_eq!(differences(&net.pg, "public.big", "app.big"), 0);

    net.pg
        .execute("UPDATE public.big SET qty = qty + 1 WHERE id % 5 = 0");
    let before = fingerprint(&net.pg, "app.big");
    proxy.slow(Duration::from_millis(50));
    let ran = net
        .exec(&via(&net, &proxy, "?statement_timeout=1s"), "copy")
        .failed();
    ran.contains("canceling statement due to statement timeout");
    ran.contains("raise statement_timeout or read_timeout");
    proxy.heal();
    unchanged(&net, &before, &ran, "connection 'warehouse'");
}
