//! `http_json(url, #{ ... })`: a relation over the records of a JSON REST API. The options
//! map is read here into `connectors::http::HttpOptions`; the connector does the rest.

use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Engine, Map};

use super::options::Options;
use super::relation::{Origin, Relation};
use super::{fail, Res};
use crate::connectors::http::options::{Auth, Paging, QueryValue, RetryPolicy};
use crate::connectors::http::{HttpOptions, HttpSource};
use crate::data::DataType;

pub fn register(engine: &mut Engine) {
    engine.register_fn("http_json", |url: &str| http_json(url, Map::new()));
    engine.register_fn("http_json", http_json);
}

fn http_json(url: &str, map: Map) -> Res<Relation> {
    let shown = format!("{map:?}");
    let what = format!("http_json(\"{url}\")");
    let opts = read_options(&what, url, map)?;
    let source = HttpSource::new(opts).map_err(|e| fail(format!("{what}: {e}")))?;
    let origin = Origin::Http {
        url: url.to_string(),
        options: shown,
    };
    Ok(Relation::with_origin(Arc::new(source), origin))
}

const OPTIONS: &[&str] = &[
    "records",
    "paginate",
    "auth",
    "query",
    "headers",
    "columns",
    "retries",
    "retry_backoff_ms",
    "retry_max_wait_seconds",
    "max_requests_per_second",
    "connect_timeout_seconds",
    "read_timeout_seconds",
    "infer_rows",
];

fn read_options(what: &str, url: &str, map: Map) -> Res<HttpOptions> {
    let mut o = Options::new(what, map, OPTIONS)?;
    let mut opts = HttpOptions::new(url);
    if let Some(r) = o.string("records")? {
        opts.records = r;
    }
    if let Some(p) = o.map("paginate")? {
        opts.paging = paging(what, p)?;
    }
    if let Some(a) = o.map("auth")? {
        opts.auth = auth(what, a)?;
    }
    if let Some(q) = o.map("query")? {
        for (k, v) in q {
            opts.query.push((k.to_string(), query_value(what, &k, v)?));
        }
    }
    if let Some(h) = o.map("headers")? {
        for (k, v) in h {
            if k.eq_ignore_ascii_case("authorization") {
                return Err(fail(format!(
                    "{what}: headers must not carry credentials (Authorization); use auth: #{{ type: \"bearer\", token_env: \"...\" }}"
                )));
            }
            let v = v
                .into_string()
                .map_err(|t| fail(format!("{what}: header '{k}' must be a string, not {t}")))?;
            opts.headers.push((k.to_string(), v));
        }
    }
    if let Some(c) = o.map("columns")? {
        for (k, v) in c {
            let t = v.into_string().map_err(|t| {
                fail(format!(
                    "{what}: columns: '{k}' must be a type name like \"numeric(12,2)\", not {t}"
                ))
            })?;
            let ty =
                DataType::parse(&t).map_err(|e| fail(format!("{what}: columns: '{k}': {e}")))?;
            opts.columns.push((k.to_string(), ty));
        }
    }
    let defaults = RetryPolicy::default();
    opts.retry = RetryPolicy {
        retries: non_negative(what, "retries", o.int("retries")?)?
            .unwrap_or(defaults.retries as u64) as u32,
        initial: non_negative(what, "retry_backoff_ms", o.int("retry_backoff_ms")?)?
            .map(Duration::from_millis)
            .unwrap_or(defaults.initial),
        max_wait: seconds(
            what,
            "retry_max_wait_seconds",
            o.number("retry_max_wait_seconds")?,
        )?
        .unwrap_or(defaults.max_wait),
    };
    if let Some(r) = o.number("max_requests_per_second")? {
        if r <= 0.0 {
            return Err(fail(format!(
                "{what}: max_requests_per_second must be above 0, not {r}"
            )));
        }
        opts.max_requests_per_second = r;
    }
    if let Some(t) = seconds(
        what,
        "connect_timeout_seconds",
        o.number("connect_timeout_seconds")?,
    )? {
        opts.connect_timeout = t;
    }
    if let Some(t) = seconds(
        what,
        "read_timeout_seconds",
        o.number("read_timeout_seconds")?,
    )? {
        opts.read_timeout = t;
    }
    if let Some(n) = non_negative(what, "infer_rows", o.int("infer_rows")?)? {
        opts.infer_rows = n.max(1) as usize;
    }
    Ok(opts)
}

fn non_negative(what: &str, key: &str, v: Option<i64>) -> Res<Option<u64>> {
    v.map(|n| {
        u64::try_from(n).map_err(|_| fail(format!("{what}: {key} must be 0 or more, not {n}")))
    })
    .transpose()
}

fn seconds(what: &str, key: &str, v: Option<f64>) -> Res<Option<Duration>> {
    v.map(|s| {
        Duration::try_from_secs_f64(s)
            .map_err(|_| fail(format!("{what}: {key} must be 0 or more seconds, not {s}")))
    })
    .transpose()
}

fn query_value(what: &str, key: &str, v: Dynamic) -> Res<QueryValue> {
    if v.is_string() {
        let s = v.into_string().expect("string");
        return Ok(match s.as_str() {
            ":since" => QueryValue::Since,
            ":until" => QueryValue::Until,
            _ => QueryValue::Text(s),
        });
    }
    if v.is_int() || v.is_bool() || v.is_float() {
        return Ok(QueryValue::Text(v.to_string()));
    }
    Err(fail(format!(
        "{what}: query: '{key}' must be a string, a number, true/false, \":since\" or \":until\", not {}",
        v.type_name()
    )))
}

fn paging(what: &str, map: Map) -> Res<Paging> {
    let what = format!("{what}: paginate");
    let style = map
        .get("style")
        .and_then(|s| s.clone().into_string().ok())
        .ok_or_else(|| {
            fail(format!(
                "{what}: style is required: \"next_link\", \"link_header\", \"cursor\", \"offset\" or \"page\""
            ))
        })?;
    let known: &[&str] = match style.as_str() {
        "next_link" => &["style", "next"],
        "link_header" => &["style"],
        "cursor" => &["style", "cursor", "param"],
        "offset" => &["style", "param", "limit_param", "limit"],
        "page" => &["style", "param", "start", "size_param", "size"],
        other => {
            return Err(fail(format!(
                "{what}: unknown style '{other}' (styles: next_link, link_header, cursor, offset, page)"
            )))
        }
    };
    let mut o = Options::new(&what, map, known)?;
    let required = |key: &str, v: Option<String>| {
        v.ok_or_else(|| fail(format!("{what}: style \"{style}\" needs '{key}'")))
    };
    Ok(match style.as_str() {
        "next_link" => Paging::NextField {
            path: required("next", o.string("next")?)?,
        },
        "link_header" => Paging::LinkHeader,
        "cursor" => Paging::Cursor {
            path: required("cursor", o.string("cursor")?)?,
            param: required("param", o.string("param")?)?,
        },
        "offset" => Paging::Offset {
            param: o.string("param")?.unwrap_or_else(|| "offset".into()),
            limit_param: o.string("limit_param")?.unwrap_or_else(|| "limit".into()),
            size: non_negative(&what, "limit", o.int("limit")?)?
                .unwrap_or(100)
                .max(1),
        },
        _ => Paging::Page {
            param: o.string("param")?.unwrap_or_else(|| "page".into()),
            start: non_negative(&what, "start", o.int("start")?)?.unwrap_or(1),
            size_param: o.string("size_param")?,
            size: non_negative(&what, "size", o.int("size")?)?,
        },
    })
}

fn auth(what: &str, map: Map) -> Res<Auth> {
    let what = format!("{what}: auth");
    let kind = map
        .get("type")
        .and_then(|s| s.clone().into_string().ok())
        .ok_or_else(|| {
            fail(format!(
                "{what}: type is required: \"bearer\", \"basic\", \"api_key\" or \"oauth2\""
            ))
        })?;
    let known: &[&str] = match kind.as_str() {
        "bearer" => &["type", "token_env"],
        "basic" => &["type", "user", "password_env"],
        "api_key" => &["type", "name", "send_in", "key_env"],
        "oauth2" => &[
            "type",
            "token_url",
            "client_id_env",
            "client_secret_env",
            "scope",
        ],
        other => {
            return Err(fail(format!(
                "{what}: unknown type '{other}' (types: bearer, basic, api_key, oauth2)"
            )))
        }
    };
    let mut o = Options::new(&what, map, known)?;
    let required = |key: &str, v: Option<String>| {
        v.ok_or_else(|| {
            fail(format!(
                "{what}: type \"{kind}\" needs '{key}' (secrets are read from environment variables, named with *_env)"
            ))
        })
    };
    Ok(match kind.as_str() {
        "bearer" => Auth::Bearer {
            token_env: required("token_env", o.string("token_env")?)?,
        },
        "basic" => Auth::Basic {
            user: required("user", o.string("user")?)?,
            password_env: required("password_env", o.string("password_env")?)?,
        },
        "api_key" => Auth::ApiKey {
            name: required("name", o.string("name")?)?,
            in_query: match o.string("send_in")?.as_deref() {
                None | Some("header") => false,
                Some("query") => true,
                Some(other) => {
                    return Err(fail(format!(
                        "{what}: send_in must be \"header\" or \"query\", not \"{other}\""
                    )))
                }
            },
            key_env: required("key_env", o.string("key_env")?)?,
        },
        _ => Auth::OAuth2 {
            token_url: required("token_url", o.string("token_url")?)?,
            client_id_env: required("client_id_env", o.string("client_id_env")?)?,
            client_secret_env: required("client_secret_env", o.string("client_secret_env")?)?,
            scope: o.string("scope")?,
        },
    })
}
