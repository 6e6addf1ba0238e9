//! Faults on a source connection while its rows stream out: MariaDB (`my`) and PostgreSQL
//! (`src`), each behind the proxy while the warehouse is reached directly.

use std::time::Duration;

use crate::common::proxy::Proxy;
use crate::harness::{summary_my, summary_pg, wait_sessions_end, Net, Ran, Urls};
use crate::pga::{audit, fingerprint, leftover_tables, statuses};

/// One source under test: its connection, tasks, target table and how to reach it.
struct Case {
    connection: &'static str,
    task: &'static str,
    target: &'static str,
}

const MY: Case = Case {
    connection: "my",
    task: "from_my",
    target: "app.my_big",
};

const PG: Case = Case {
    connection: "src",
    task: "from_pg",
    target: "app.pg_big",
};

impl Case {
    fn proxy(&self, net: &Net) -> Proxy {
        match self.connection {
            "my" => net.my_proxy(),
            _ => net.pg_proxy(),
        }
    }

    /// The source behind `proxy` with `query` added; everything else direct.
    fn via(&self, net: &Net, proxy: &Proxy, query: &str) -> Urls {
        let mut urls = net.direct();
        match self.connection {
            "my" => urls.my = format!("{}{query}", proxy.url(net.my.url())),
            _ => urls.src = format!("{}{query}", proxy.url(net.pg.url())),
        }
        urls
    }

    /// The source's rows, summed up, to compare with the target's.
    fn source(&self, net: &Net) -> String {
        match self.connection {
            "my" => summary_my(&net.my, "big"),
            _ => summary_pg(&net.pg, "public.big"),
        }
    }

    fn change_source(&self, net: &Net) {
        match self.connection {
            "my" => net
                .my
                .execute("UPDATE big SET qty = qty + 1 WHERE id % 7 = 0"),
            _ => net
                .pg
                .execute("UPDATE public.big SET qty = qty + 1 WHERE id % 7 = 0"),
        }
    }

    /// The failed load left the target as it was, no table behind, and a failed audit
    /// record naming the connection.
    fn unchanged(&self, net: &Net, before: &str, ran: &Ran, error: &str) {
        let named = format!("connection '{}'", self.connection);
        ran.contains(&named).contains(error);
        assert_eq!(
            fingerprint(&net.pg, self.target),
            before,
            "target unchanged"
        );
        let records = audit(&net.pg, self.target);
        let last = records.last().expect("an audit record");
        assert_eq!(last.status, "failed", "{records:#?}");
        let message = last.error_message.as_deref().unwrap_or_default();
        assert!(
            message.contains(&named) && message.contains(error),
            "{message}"
        );
        wait_sessions_end(&net.pg);
        assert_eq!(leftover_tables(&net.pg), Vec::<String>::new());
    }

    fn run_all_faults(&self, test: &str, stalled_error: &str) {
        let net = Net::new(test);
        net.exec(&net.direct(), self.task).ok();
        self.change_source(&net);
        let before = fingerprint(&net.pg, self.target);
        let proxy = self.proxy(&net);
        // Starts the task and waits until a megabyte more came from the source.
        let mid_extract = |urls: &Urls, task: &str| {
            let start = proxy.downstream_bytes();
            let mut run = net.spawn(urls, task);
            run.wait_for("the extract to be under way", |_| {
                proxy.downstream_bytes() - start > 1 << 20
            });
            run
        };

        // Cut: the read fails at once.
        proxy.slow(Duration::from_millis(20));
        let run = mid_extract(&self.via(&net, &proxy, ""), self.task);
        proxy.cut();
        proxy.heal();
        let ran = run.wait().failed();
        self.unchanged(&net, &before, &ran, "");

        // Stall: only the read timeout ends the run.
        proxy.slow(Duration::from_millis(20));
        let urls = self.via(&net, &proxy, "?read_timeout=4s");
        let run = mid_extract(&urls, self.task);
        proxy.stall();
        let ran = run.wait().failed();
        proxy.heal();
        self.unchanged(&net, &before, &ran, stalled_error);
        ran.contains("read_timeout=4s");

        // Stalled again, retried once healthy: the load completes.
        proxy.slow(Duration::from_millis(20));
        let retried = format!("{}_retried", self.task);
        let mut run = mid_extract(&urls, &retried);
        proxy.stall();
        let first = format!("Task '{retried}' failed (attempt 1, will retry)");
        run.wait_for("the first attempt to fail", |out| out.contains(&first));
        proxy.heal();
        run.wait().ok();
        assert_eq!(summary_pg(&net.pg, self.target), self.source(&net));

        // Slow, and within the timeouts: loaded exactly.
        self.change_source(&net);
        proxy.slow(Duration::from_millis(5));
        net.exec(&urls, self.task).ok();
        assert_eq!(summary_pg(&net.pg, self.target), self.source(&net));
        let records = audit(&net.pg, self.target);
        assert_eq!(
            statuses(&records),
            ["success", "failed", "failed", "failed", "success", "success"],
            "{records:#?}"
        );
    }
}

#[test]
fn a_mariadb_extract_cut_stalled_or_slowed_never_half_loads_and_retries_recover() {
    MY.run_all_faults("net_extract_my", "no answer from");
}

#[test]
fn a_postgres_extract_cut_stalled_or_slowed_never_half_loads_and_retries_recover() {
    PG.run_all_faults("net_extract_pg", "no progress on connection 'src'");
}
