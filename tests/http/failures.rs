//! Transient failures are retried until every record has arrived once; failures that retrying
//! cannot fix end the load at once, name the page, mask the key and leave the target as it was.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{items, slice, Reply, Request, Sandbox, Server};

fn page_of(r: &Request) -> usize {
    r.param("page").and_then(|p| p.parse().ok()).unwrap_or(1)
}

fn load_script(url: &str, options: &str) -> String {
    format!(
        r#"project("api");
let dw = connect("warehouse");
task("load", |run| dw.load(#{{ into: "items", key: ["id"],
    from: http_json("{url}", #{{ paginate: #{{ style: "page" }}, {options} }}) }}));
"#
    )
}

#[test]
fn transient_failures_are_retried_and_every_record_arrives_once() {
    let all = items(1, 7);
    let tries: Arc<Mutex<HashMap<usize, u32>>> = Arc::default();
    let api = Server::start(move |r: &Request| {
        let page = page_of(r);
        let try_no = {
            let mut t = tries.lock().unwrap();
            let n = t.entry(page).or_insert(0);
            *n += 1;
            *n
        };
        let body = slice(&all, (page - 1) * 3, 3);
        match (page, try_no) {
            // Page 1 is cut off halfway, page 2 finds the server down, page 3 is rate limited.
            (1, 1) => Reply::json(body).cut(),
            (2, 1) => Reply::status(503, r#"{"error": "maintenance"}"#),
            (3, 1) => Reply::status(429, r#"{"error": "slow down"}"#).header("Retry-After", "1"),
            _ => Reply::json(body),
        }
    });
    let s = Sandbox::new(&load_script(&api.url("/items"), "retry_backoff_ms: 20"));
    s.exec().ok();
    assert_eq!(
        s.sqlite("SELECT count(*), count(DISTINCT id), sum(id) FROM items"),
        [["7", "7", "28"]]
    );
    let pages: Vec<usize> = api.requests().iter().map(page_of).collect();
    assert_eq!(pages, [1, 1, 2, 2, 3, 3, 4]);
    // Retry-After: 1 is honoured (a lower bound only: a slow machine may wait longer).
    let third: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| page_of(r) == 3)
        .collect();
    let waited = third[1].at - third[0].at;
    assert!(
        waited >= Duration::from_secs(1),
        "retried page 3 after {waited:?}"
    );
}

#[test]
fn exhausted_retries_fail_naming_the_page_with_the_key_masked_and_the_target_unchanged() {
    let all = items(1, 7);
    let broken = Arc::new(AtomicBool::new(false));
    let b = broken.clone();
    let api = Server::start(move |r: &Request| {
        if b.load(Ordering::SeqCst) && page_of(r) == 2 {
            return Reply::status(500, r#"{"error": "internal"}"#);
        }
        Reply::json(slice(&all, (page_of(r) - 1) * 3, 3))
    });
    let key = "k3y-with/odd+chars";
    let s = Sandbox::new(&load_script(
        &api.url("/items"),
        r#"retries: 2, retry_backoff_ms: 10, auth: #{ type: "api_key", name: "api_key", send_in: "query", key_env: "SHOP_KEY" }"#,
    ))
    .env("SHOP_KEY", key);
    s.exec().ok();
    assert_eq!(s.sqlite("SELECT count(*) FROM items"), [["7"]]);
    assert_eq!(api.requests()[0].param("api_key"), Some(key));

    broken.store(true, Ordering::SeqCst);
    let before = api.requests().len();
    let run = s
        .etl(&["exec", "projects/api/project.rhai", "--load-type", "F"])
        .failed()
        .contains("page 2")
        .contains("HTTP 500")
        .contains("api_key=***")
        .contains("gave up after 3 tries");
    for form in [key, "k3y-with%2Fodd%2Bchars"] {
        assert!(!run.output.contains(form), "{form} leaked:\n{}", run.output);
    }
    let pages: Vec<usize> = api.requests()[before..].iter().map(page_of).collect();
    assert_eq!(pages, [1, 2, 2, 2], "one try and two retries of page 2");
    assert_eq!(s.sqlite("SELECT count(*) FROM items"), [["7"]]);
    assert_eq!(
        s.sqlite("SELECT status FROM etl_runs ORDER BY id"),
        [["success"], ["failed"]]
    );
}

#[test]
fn a_404_fails_after_exactly_one_request() {
    let api = Server::start(|_: &Request| Reply::status(404, r#"{"error": "no such resource"}"#));
    let s = Sandbox::new(&load_script(&api.url("/nothing"), "retry_backoff_ms: 10"));
    s.exec()
        .failed()
        .contains("HTTP 404")
        .contains("no such resource");
    assert_eq!(api.requests().len(), 1);
}

#[test]
fn a_retry_after_longer_than_the_allowed_wait_fails_at_once_naming_the_option() {
    let api = Server::start(|_: &Request| {
        Reply::status(503, r#"{"error": "back tomorrow"}"#).header("Retry-After", "86400")
    });
    let s = Sandbox::new(&load_script(
        &api.url("/items"),
        "retry_max_wait_seconds: 5",
    ));
    s.exec()
        .failed()
        .contains("86400s")
        .contains("retry_max_wait_seconds = 5");
    assert_eq!(api.requests().len(), 1);
}

#[test]
fn records_that_do_not_fit_the_columns_are_set_aside_with_max_errors() {
    let api = Server::start(|_: &Request| {
        Reply::json(
            r#"[{"id": 1, "amount": 12.50}, {"id": 2, "amount": 1234.5}, {"id": 3, "amount": "n/a"},
                {"id": 4, "amount": 0.01, "surprise": true}, {"id": 5, "amount": null}]"#,
        )
    });
    let script = |max_errors: &str| {
        format!(
            r#"project("api");
let dw = connect("warehouse");
task("load", |run| {{
    let f = dw.load(#{{ into: "items", key: ["id"], {max_errors}
        from: http_json("{}", #{{ columns: #{{ id: "bigint", amount: "numeric(4,2)" }} }}) }});
    log_info(`rejected ${{f.rejected}}`);
}});
"#,
            api.url("/items")
        )
    };
    // Without max_errors the first misfit fails the load, naming the row and column.
    let s = Sandbox::new(&script(""));
    s.exec()
        .failed()
        .contains("row 2, column 'amount'")
        .contains("does not fit numeric(4,2)");
    s.script(&script("max_errors: 5,"));
    s.exec().ok().contains("rejected 2");
    assert_eq!(
        s.sqlite("SELECT id, amount, surprise FROM items ORDER BY id"),
        [
            ["1", "12.50", "NULL"],
            ["4", "0.01", "1"],
            ["5", "NULL", "NULL"]
        ]
    );
    let rejects = std::fs::read_dir(s.path("metadata/output/api"))
        .expect("rejects folder")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect::<String>();
    assert!(
        rejects.contains("\"{\"\"id\"\": 2, \"\"amount\"\": 1234.5}\""),
        "{rejects}"
    );
    assert!(
        rejects.contains("'n/a' is not a value of type numeric(4,2)"),
        "{rejects}"
    );
}

#[test]
fn a_reply_slower_than_the_read_timeout_is_tried_again() {
    let slow_once = Arc::new(AtomicBool::new(true));
    let s1 = slow_once.clone();
    let api = Server::start(move |r: &Request| {
        if s1.swap(false, Ordering::SeqCst) {
            std::thread::sleep(Duration::from_secs(3));
        }
        Reply::json(slice(&items(1, 7), (page_of(r) - 1) * 3, 3))
    });
    let s = Sandbox::new(&load_script(
        &api.url("/items"),
        "read_timeout_seconds: 0.5, retry_backoff_ms: 10",
    ));
    s.exec().ok().contains("trying again");
    assert_eq!(
        s.sqlite("SELECT count(*), count(DISTINCT id) FROM items"),
        [["7", "7"]]
    );
    let pages: Vec<usize> = api.requests().iter().map(page_of).collect();
    assert_eq!(pages, [1, 1, 2, 3, 4]);
}

#[test]
fn a_server_that_is_not_there_is_tried_again_then_named_in_the_error() {
    // A port nobody listens on: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/items");
    let s = Sandbox::new(&load_script(&url, "retries: 2, retry_backoff_ms: 10"));
    s.exec()
        .failed()
        .contains(&format!("page 1 (GET {url}?page=1)"))
        .contains("gave up after 3 tries");
}
