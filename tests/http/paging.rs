//! Every pagination style, against an API that serves seven records three at a time: each
//! record arrives exactly once, in PostgreSQL and in SQLite, with its exact value and type.

use super::common::{column_types, records, text, PgTestDb};
use super::{items, slice, Reply, Request, Sandbox, Server};

const PAGE: usize = 3;

/// One API per style, all on one server, over the same seven records.
fn styles_api() -> Server {
    let all = items(1, 7);
    Server::start(move |r: &Request| {
        let n = |name: &str, default: usize| {
            r.param(name)
                .map(|v| v.parse::<usize>().expect("a number"))
                .unwrap_or(default)
        };
        match r.path.as_str() {
            // The next page's URL in a body field; relative, and null on the last page.
            "/next" => {
                let p = n("p", 1);
                let next = if p * PAGE < all.len() {
                    format!(r#""/next?p={}""#, p + 1)
                } else {
                    "null".into()
                };
                Reply::json(format!(
                    r#"{{"data": {{"items": {}}}, "links": {{"next": {next}}}}}"#,
                    slice(&all, (p - 1) * PAGE, PAGE)
                ))
            }
            // The page is the array; the next one is in the Link header.
            "/link" => {
                let p = n("page", 1);
                let reply = Reply::json(slice(&all, (p - 1) * PAGE, PAGE));
                if p * PAGE < all.len() {
                    reply.header(
                        "Link",
                        format!(
                            r#"</link?page={}>; rel="next", </link?page=3>; rel="last""#,
                            p + 1
                        ),
                    )
                } else {
                    reply
                }
            }
            // An opaque cursor: the start index, disguised.
            "/cursor" => {
                let start = r
                    .param("after")
                    .map(|c| c.trim_start_matches("c-").parse().expect("cursor"))
                    .unwrap_or(0);
                let next = if start + PAGE < all.len() {
                    format!(r#""c-{}""#, start + PAGE)
                } else {
                    "null".into()
                };
                Reply::json(format!(
                    r#"{{"results": {}, "meta": {{"next_cursor": {next}}}}}"#,
                    slice(&all, start, PAGE)
                ))
            }
            // Offset and limit; the server caps the limit at 3 whatever is asked.
            "/offset" => Reply::json(format!(
                r#"{{"rows": {}}}"#,
                slice(&all, n("offset", 0), n("limit", 100).min(PAGE))
            )),
            "/page" => Reply::json(slice(
                &all,
                (n("page", 1) - 1) * n("per_page", 10),
                n("per_page", 10),
            )),
            other => Reply::status(404, format!(r#"{{"error": "no {other}"}}"#)),
        }
    })
}

fn styles_script(api: &Server) -> String {
    format!(
        r#"project("api");
let dw = connect("warehouse");
let base = "{base}";
task("next_link", |run| dw.load(#{{ into: "by_next_link", key: ["id"],
    from: http_json(base + "/next", #{{ records: "$.data.items", paginate: #{{ style: "next_link", next: "$.links.next" }} }}) }}));
task("link_header", |run| dw.load(#{{ into: "by_link_header", key: ["id"],
    from: http_json(base + "/link", #{{ paginate: #{{ style: "link_header" }} }}) }}));
task("cursor", |run| dw.load(#{{ into: "by_cursor", key: ["id"],
    from: http_json(base + "/cursor", #{{ records: "$.results", paginate: #{{ style: "cursor", cursor: "$.meta.next_cursor", param: "after" }} }}) }}));
task("offset", |run| dw.load(#{{ into: "by_offset", key: ["id"],
    from: http_json(base + "/offset", #{{ records: "$.rows", paginate: #{{ style: "offset", limit: 100 }} }}) }}));
task("page", |run| dw.load(#{{ into: "by_page", key: ["id"],
    from: http_json(base + "/page", #{{ paginate: #{{ style: "page", size_param: "per_page", size: 3 }} }}) }}));
"#,
        base = api.url("")
    )
}

const TABLES: [&str; 5] = [
    "by_next_link",
    "by_link_header",
    "by_cursor",
    "by_offset",
    "by_page",
];

#[test]
fn every_pagination_style_loads_every_record_once_into_postgres() {
    let api = styles_api();
    let db = PgTestDb::new("http_styles");
    let s = Sandbox::on_postgres(&styles_script(&api), &db);
    s.exec().ok();
    for table in TABLES {
        assert_eq!(
            text(
                &db,
                &format!("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM {table}")
            ),
            ["7|7|1|7"],
            "{table}"
        );
        assert_eq!(
            records(&db, table)[..2],
            ["(1,\"item 1\",1.50)", "(2,\"item 2\",2.50)"],
            "{table}"
        );
        assert_eq!(
            column_types(&db, table),
            ["id integer", "name text", "amount numeric(3,2)"],
            "{table}"
        );
    }
    // Three pages each; offset and page numbers stop at the empty fourth page.
    let pages = |path: &str| {
        api.requests_to(path)
            .iter()
            .map(|r| r.query_string.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(pages("/next"), ["", "p=2", "p=3"]);
    assert_eq!(pages("/link"), ["", "page=2", "page=3"]);
    assert_eq!(pages("/cursor"), ["", "after=c-3", "after=c-6"]);
    assert_eq!(
        pages("/offset"),
        [
            "offset=0&limit=100",
            "offset=3&limit=100",
            "offset=6&limit=100",
            "offset=7&limit=100"
        ]
    );
    assert_eq!(
        pages("/page"),
        [
            "page=1&per_page=3",
            "page=2&per_page=3",
            "page=3&per_page=3",
            "page=4&per_page=3"
        ]
    );
}

#[test]
fn every_pagination_style_loads_every_record_once_into_sqlite() {
    let api = styles_api();
    let s = Sandbox::new(&styles_script(&api));
    s.exec().ok();
    for table in TABLES {
        assert_eq!(
            s.sqlite(&format!(
                "SELECT count(*), count(DISTINCT id), sum(id) FROM {table}"
            )),
            [["7", "7", "28"]],
            "{table}"
        );
        assert_eq!(
            s.sqlite(&format!("SELECT amount FROM {table} WHERE id = 7")),
            [["7.50"]],
            "{table}"
        );
    }
}

#[test]
fn json_values_arrive_with_their_exact_types_in_postgres() {
    let api = Server::start(|_: &Request| {
        Reply::json(
            r#"{"items": [
              {"id": 1, "price": 12.50, "big": 123456789012345678901234567890, "at": "2024-02-29T13:14:15.5+01:00",
               "day": "2024-02-29", "meta": {"tags": ["a", "b"], "n": 1.10}, "code": "007", "ok": true, "gone": null},
              {"id": 2, "price": -0.01, "big": 1, "at": "2024-03-01T00:00:00Z",
               "day": "2024-03-01", "meta": [], "code": "42", "ok": false}
            ]}"#,
        )
    });
    let db = PgTestDb::new("http_types");
    let s = Sandbox::on_postgres(
        &format!(
            r#"project("api");
let dw = connect("warehouse");
task("types", |run| dw.load(#{{ into: "typed", key: ["id"],
    from: http_json("{}", #{{ records: "$.items", columns: #{{ gone: "numeric(10,2)" }} }}) }}));
"#,
            api.url("/types")
        ),
        &db,
    );
    s.exec().ok();
    assert_eq!(
        column_types(&db, "typed"),
        [
            "id integer",
            "price numeric(4,2)",
            "big numeric(30,0)",
            "at timestamp with time zone",
            "day date",
            "meta json",
            "code text",
            "ok boolean",
            "gone numeric(10,2)"
        ]
    );
    assert_eq!(
        text(
            &db,
            "SELECT id, price, big, at AT TIME ZONE 'UTC', day, meta, code, ok, gone FROM typed ORDER BY id"
        ),
        [
            "1|12.50|123456789012345678901234567890|2024-02-29 12:14:15.5|2024-02-29|{\"tags\": [\"a\", \"b\"], \"n\": 1.10}|007|t|NULL",
            "2|-0.01|1|2024-03-01 00:00:00|2024-03-01|[]|42|f|NULL"
        ]
    );
}
