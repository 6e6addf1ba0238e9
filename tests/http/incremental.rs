//! Incremental loads: the watermark goes to the API as a query parameter (through the URL
//! query serializer), and rows outside the window are dropped even when the API ignores it.
//! `etl plan` prints the request the load would send.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{Reply, Request, Sandbox, Server};

/// Orders updated one day apart (`2024-01-0N`), `count` of them so far; the API ignores any
/// filter, so what is dropped is dropped by etl.
fn orders_api(count: Arc<AtomicU64>) -> Server {
    Server::start(move |_: &Request| {
        let n = count.load(Ordering::SeqCst);
        let rows: Vec<String> = (1..=n)
            .map(|i| {
                format!(
                    r#"{{"id": {i}, "updated_at": "2024-01-{i:02}T00:00:00Z", "total": {i}0.00}}"#
                )
            })
            .collect();
        Reply::json(format!(r#"{{"orders": [{}]}}"#, rows.join(", ")))
    })
}

fn script(api: &Server) -> String {
    format!(
        r#"project("api");
let dw = connect("warehouse");
task("orders", |run| dw.load(#{{ into: "orders", key: ["id"], cursor: "updated_at",
    from: http_json("{}", #{{ records: "$.orders", query: #{{ updated_since: ":since", status: "open & paid" }},
        auth: #{{ type: "api_key", name: "api_key", send_in: "query", key_env: "SHOP_KEY" }} }}) }}));
"#,
        api.url("/orders")
    )
}

#[test]
fn a_second_run_sends_the_watermark_and_loads_only_new_records() {
    let count = Arc::new(AtomicU64::new(5));
    let api = orders_api(count.clone());
    let s = Sandbox::new(&script(&api)).env("SHOP_KEY", "inc-key-123");
    s.exec().ok();
    assert_eq!(
        s.sqlite("SELECT count(*), max(id) FROM orders"),
        [["5", "5"]]
    );
    let first = &api.requests()[0];
    assert_eq!(first.param("updated_since"), None, "no watermark yet");
    assert_eq!(first.param("status"), Some("open & paid"));

    count.store(7, Ordering::SeqCst);
    s.etl(&["exec", "projects/api/project.rhai", "--load-type", "I"])
        .ok();
    let second = api.requests().pop().unwrap();
    // The watermark is bound through the query serializer: ':' and '+' arrive intact.
    assert_eq!(second.param("updated_since"), Some("2024-01-05T00:00:00Z"));
    assert!(
        second
            .query_string
            .contains("updated_since=2024-01-05T00%3A00%3A00Z"),
        "{}",
        second.query_string
    );
    assert_eq!(
        s.sqlite("SELECT count(*), count(DISTINCT id), max(id) FROM orders"),
        [["7", "7", "7"]]
    );
    // Records 1-4 came back from the API but lie before the watermark: not loaded again.
    assert_eq!(
        s.sqlite("SELECT number_of_records FROM etl_runs ORDER BY id"),
        [["5"], ["3"]]
    );
    assert_eq!(
        s.sqlite("SELECT total FROM orders WHERE id = 7"),
        [["70.00"]]
    );
}

#[test]
fn plan_prints_the_request_with_the_key_masked() {
    let count = Arc::new(AtomicU64::new(2));
    let api = orders_api(count);
    let s = Sandbox::new(&script(&api)).env("SHOP_KEY", "plan-key-456");
    s.exec().ok();
    let plan = s
        .etl(&["plan", "projects/api/project.rhai", "--load-type", "I"])
        .ok();
    assert!(
        plan.output.contains(&format!(
            "GET {}?status=open+%26+paid&updated_since=2024-01-02T00%3A00%3A00Z&api_key=***",
            api.url("/orders")
        )),
        "{}",
        plan.output
    );
    assert!(!plan.output.contains("plan-key-456"), "{}", plan.output);
}
