//! Credentials: taken from the environment, sent only to the API's own host, never shown.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::{items, slice, Reply, Request, Sandbox, Server};

fn script(url: &str, auth: &str, more: &str) -> String {
    format!(
        r#"project("api");
let dw = connect("warehouse");
task("load", |run| dw.load(#{{ into: "items", key: ["id"],
    from: http_json("{url}", #{{ paginate: #{{ style: "page" }}, retry_backoff_ms: 10, auth: {auth} {more} }}) }}));
"#
    )
}

/// Every file the run left under metadata/ (logs, rejects, the warehouse), as text.
fn everything_written(s: &Sandbox) -> String {
    fn walk(dir: &std::path::Path, out: &mut String) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    let mut out = String::new();
    walk(&s.path("metadata"), &mut out);
    out
}

#[test]
fn a_bearer_token_is_masked_even_when_the_server_echoes_it() {
    let api = Server::start(|r: &Request| {
        Reply::status(
            400,
            format!(
                r#"{{"error": "rejected {}"}}"#,
                r.header("authorization").unwrap_or_default()
            ),
        )
    });
    let token = "s3cr3t-t0ken";
    let s = Sandbox::new(&script(
        &api.url("/items"),
        r#"#{ type: "bearer", token_env: "SHOP_TOKEN" }"#,
        "",
    ))
    .env("SHOP_TOKEN", token);
    s.exec()
        .failed()
        .contains("HTTP 400")
        .contains("rejected Bearer ***")
        .lacks(token);
    assert_eq!(
        api.requests()[0].header("authorization"),
        Some("Bearer s3cr3t-t0ken")
    );
    assert!(
        !everything_written(&s).contains(token),
        "the token is in a file under metadata/"
    );
}

#[test]
fn etl_check_needs_no_secrets_and_a_missing_one_is_named_when_the_load_runs() {
    let api = Server::start(|_: &Request| Reply::json("[]"));
    let s = Sandbox::new(&script(
        &api.url("/items"),
        r#"#{ type: "bearer", token_env: "SHOP_TOKEN_NOT_SET" }"#,
        "",
    ));
    s.etl(&["check", "projects/api/project.rhai"]).ok();
    s.exec()
        .failed()
        .contains("environment variable SHOP_TOKEN_NOT_SET, which is not set");
    assert!(
        api.requests().is_empty(),
        "nothing is sent without the token"
    );
}

#[test]
fn a_redirect_to_another_host_is_refused_when_credentials_are_set() {
    let elsewhere = Server::start(|_: &Request| Reply::json("[]"));
    let target = elsewhere.url("/collect");
    let api =
        Server::start(move |_: &Request| Reply::status(302, "").header("Location", target.clone()));
    let s = Sandbox::new(&script(
        &api.url("/items"),
        r#"#{ type: "bearer", token_env: "SHOP_TOKEN" }"#,
        "",
    ))
    .env("SHOP_TOKEN", "t0ken-never-leaves");
    s.exec()
        .failed()
        .contains("redirected to another host")
        .lacks("t0ken-never-leaves");
    assert_eq!(api.requests().len(), 1);
    assert!(elsewhere.requests().is_empty(), "the other host was called");
}

/// An OAuth2 server issuing `tok-1`, `tok-2`, ... valid for `lifetime` seconds, whose API
/// refuses `tok-1` once on page 2 (a revoked token) when `revoke` is set.
fn oauth_api(lifetime: u64, revoke: bool) -> (Server, Arc<AtomicU32>) {
    let all = items(1, 7);
    let issued = Arc::new(AtomicU32::new(0));
    let refused = Arc::new(AtomicU32::new(0));
    let i = issued.clone();
    let api = Server::start(move |r: &Request| {
        if r.path == "/token" {
            let n = i.fetch_add(1, Ordering::SeqCst) + 1;
            return Reply::json(format!(
                r#"{{"access_token": "tok-{n}", "token_type": "Bearer", "expires_in": {lifetime}}}"#
            ));
        }
        let page: usize = r.param("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let auth = r.header("authorization").unwrap_or_default();
        if !auth.starts_with("Bearer tok-") {
            return Reply::status(401, r#"{"error": "no token"}"#);
        }
        if revoke
            && page == 2
            && auth == "Bearer tok-1"
            && refused.fetch_add(1, Ordering::SeqCst) == 0
        {
            return Reply::status(401, r#"{"error": "token revoked"}"#);
        }
        Reply::json(slice(&all, (page - 1) * 3, 3))
    });
    (api, issued)
}

fn oauth_script(api: &Server, more: &str) -> String {
    script(
        &api.url("/items"),
        &format!(
            r#"#{{ type: "oauth2", token_url: "{}", client_id_env: "SHOP_ID", client_secret_env: "SHOP_SECRET", scope: "read" }}"#,
            api.url("/token")
        ),
        more,
    )
}

#[test]
fn an_oauth2_token_is_fetched_once_for_the_run_and_replaced_once_after_a_401() {
    let (api, issued) = oauth_api(3600, true);
    let s = Sandbox::new(&oauth_script(&api, ""))
        .env("SHOP_ID", "etl-client")
        .env("SHOP_SECRET", "cl1ent-s3cret");
    s.exec().ok().lacks("cl1ent-s3cret");
    assert_eq!(
        s.sqlite("SELECT count(*), count(DISTINCT id) FROM items"),
        [["7", "7"]]
    );
    // One token for pages 1 and 2, refused on page 2, one more for the rest.
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    let token_request = &api.requests_to("/token")[0];
    assert_eq!(token_request.method, "POST");
    assert!(
        token_request.body.contains("grant_type=client_credentials")
            && token_request.body.contains("client_id=etl-client")
            && token_request.body.contains("scope=read"),
        "{}",
        token_request.body
    );
    let used: Vec<String> = api
        .requests_to("/items")
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.param("page").unwrap_or("1"),
                r.header("authorization").unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        used,
        [
            "1 Bearer tok-1",
            "2 Bearer tok-1",
            "2 Bearer tok-2",
            "3 Bearer tok-2",
            "4 Bearer tok-2"
        ]
    );
}

#[test]
fn an_oauth2_token_is_renewed_before_it_expires() {
    // Tokens live 1s and pages come one a second: each page after the first needs a new one,
    // fetched before the old one runs out rather than after a 401.
    let (api, issued) = oauth_api(1, false);
    let s = Sandbox::new(&oauth_script(&api, ", max_requests_per_second: 1.0"))
        .env("SHOP_ID", "etl-client")
        .env("SHOP_SECRET", "cl1ent-s3cret");
    s.exec().ok();
    assert_eq!(s.sqlite("SELECT count(*) FROM items"), [["7"]]);
    assert_eq!(issued.load(Ordering::SeqCst), 4, "one token per page");
    let pages = api.requests_to("/items");
    assert_eq!(pages.len(), 4);
    for w in pages.windows(2) {
        // A lower bound with a margin: the pace is kept when a request is sent.
        let gap = w[1].at - w[0].at;
        assert!(
            gap >= std::time::Duration::from_millis(900),
            "max_requests_per_second: {gap:?}"
        );
    }
}
