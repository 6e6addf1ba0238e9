//! A protocol-faithful Salesforce org for API v61.0, as documented: the OAuth 2.0 token
//! endpoint (client credentials, refresh token, JWT bearer with the signature verified),
//! `describe`, the REST query API with `nextRecordsUrl` paging and `queryAll`, and Bulk API
//! 2.0 query jobs (create, poll, CSV result sets by `Sforce-Locator`, gzip, abort, delete).
//! It evaluates the SOQL the loader writes: the select list (parent fields too) and datetime
//! bounds in the WHERE clause. Not a real org: tests use it to see what the loader sends.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Utc};

use super::server::{Reply, Request, Server};

pub const CLIENT_ID: &str = "3MVG9-test-client-id";
pub const CLIENT_SECRET: &str = "s3cr3t-Client-Value-8842";
pub const REFRESH_TOKEN: &str = "5Aep-refresh-Token-Value-1931";
pub const USERNAME: &str = "etl@acme.test";
pub const KEY_PEM: &str = include_str!("jwt_test_key.pem");

#[derive(Clone, Debug)]
pub struct Account {
    pub id: String,
    pub name: String,
    /// currency(18,2), sent as a JSON number the way the API does (1234.5).
    pub revenue: Option<String>,
    pub employees: Option<i32>,
    pub deleted: bool,
    pub owner: Option<&'static str>,
    pub founded: Option<String>,
    pub modstamp: DateTime<Utc>,
}

pub fn account(n: u32, modstamp: &str) -> Account {
    Account {
        id: format!("001R0000{n:010}"),
        name: format!("Acme {n} \"quoted\", comma"),
        revenue: (!n.is_multiple_of(3)).then(|| format!("{n}00.5")),
        employees: (!n.is_multiple_of(4)).then_some(n as i32 * 10),
        deleted: false,
        owner: Some(if n.is_multiple_of(2) {
            "005R00000000001AAA"
        } else {
            "005R00000000002AAA"
        }),
        founded: (!n.is_multiple_of(5))
            .then(|| format!("19{:02}-0{}-1{}", 50 + n % 50, 1 + n % 9, n % 10)),
        modstamp: ts(modstamp),
    }
}

pub fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("timestamp")
        .with_timezone(&Utc)
}

#[derive(Default)]
pub struct Job {
    pub soql: String,
    pub all: bool,
    pub polls: u32,
    pub aborted: bool,
    pub deleted: bool,
}

#[derive(Default)]
pub struct State {
    pub accounts: Vec<Account>,
    pub tokens: Vec<String>,
    pub logins: u32,
    pub page_size: usize,
    /// Expire every session when this REST page (2 = the first nextRecordsUrl) is asked for.
    pub expire_on_page: Option<usize>,
    pub pages_served: usize,
    pub cursors: HashMap<String, Arc<Vec<String>>>,
    pub soql: Vec<String>,
    pub jobs: HashMap<String, Job>,
    /// Records per Bulk result set when the request does not say.
    pub bulk_set_size: usize,
    /// Cut the connection halfway through this result set (1-based).
    pub cut_set: Option<usize>,
    /// Bulk jobs end `Failed` with this message.
    pub fail_jobs: Option<String>,
    pub gzip: bool,
}

pub struct Org {
    pub state: Arc<Mutex<State>>,
    pub server: Server,
}

impl Org {
    pub fn start(accounts: Vec<Account>) -> Org {
        let state = Arc::new(Mutex::new(State {
            accounts,
            page_size: 2,
            bulk_set_size: 3,
            gzip: true,
            ..State::default()
        }));
        let s = state.clone();
        let server = Server::start(move |req| handle(&s, req));
        Org { state, server }
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// The connection URL for the client credentials flow (secrets in SF_CLIENT_ID and
    /// SF_CLIENT_SECRET).
    pub fn url(&self) -> String {
        format!(
            "salesforce://127.0.0.1:{}?tls=false&api=v61.0&flow=client_credentials&client_id_env=SF_CLIENT_ID&client_secret_env=SF_CLIENT_SECRET&poll_seconds=0.02",
            self.server.port
        )
    }

    pub fn requests(&self) -> Vec<Request> {
        self.server.requests()
    }
}

fn handle(state: &Mutex<State>, req: &Request) -> Reply {
    let mut st = state.lock().unwrap();
    if req.path == "/services/oauth2/token" {
        return token(&mut st, req);
    }
    let bearer = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    let is_page = req.path.starts_with("/services/data/v61.0/query/");
    if is_page
        || req.path == "/services/data/v61.0/query"
        || req.path == "/services/data/v61.0/queryAll"
    {
        st.pages_served += 1;
        if st.expire_on_page == Some(st.pages_served) {
            st.tokens.clear();
        }
    }
    if !st.tokens.contains(&bearer) {
        return Reply::json(
            401,
            r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#,
        );
    }
    let gzip = st.gzip
        && req
            .header("accept-encoding")
            .is_some_and(|e| e.contains("gzip"));
    let reply = route(&mut st, req);
    if gzip && reply.status == 200 && !reply.body.is_empty() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&reply.body).unwrap();
        let mut r = reply;
        r.body = enc.finish().unwrap();
        return r.header("Content-Encoding", "gzip");
    }
    reply
}

fn route(st: &mut State, req: &Request) -> Reply {
    let p = req.path.strip_prefix("/services/data/v61.0/").unwrap_or("");
    match (req.method.as_str(), p) {
        ("GET", "sobjects/" | "sobjects") => Reply::json(200, DESCRIBE_GLOBAL),
        ("GET", "sobjects/Account/describe") => Reply::json(200, ACCOUNT_DESCRIBE),
        ("GET", "sobjects/User/describe") => Reply::json(200, USER_DESCRIBE),
        ("GET", p) if p.starts_with("sobjects/") => Reply::json(
            404,
            r#"[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]"#,
        ),
        ("GET", "query" | "queryAll") => {
            let soql = req.param("q").unwrap_or_default().to_string();
            st.soql.push(soql.clone());
            let fields = parse_select(&soql).0;
            let records: Vec<String> = select(st, &soql, p == "queryAll")
                .into_iter()
                .map(|a| record_json(a, &fields))
                .collect();
            page(st, Arc::new(records), 0)
        }
        ("GET", p) if p.starts_with("query/") => {
            let id = p.trim_start_matches("query/");
            let (cursor, offset) = id.split_once('-').unwrap();
            let records = st.cursors[cursor].clone();
            page(st, records, offset.parse().unwrap())
        }
        ("POST", "jobs/query") => {
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
            let id = format!("750R0000000{:04}AAA", st.jobs.len() + 1);
            st.soql.push(body["query"].as_str().unwrap().to_string());
            st.jobs.insert(
                id.clone(),
                Job {
                    soql: body["query"].as_str().unwrap().to_string(),
                    all: body["operation"] == "queryAll",
                    ..Job::default()
                },
            );
            Reply::json(
                200,
                format!(
                    r#"{{"id":"{id}","operation":{},"state":"UploadComplete","contentType":"CSV","apiVersion":61.0}}"#,
                    body["operation"]
                ),
            )
        }
        (m, p) if p.starts_with("jobs/query/") => {
            let rest = p.trim_start_matches("jobs/query/");
            let (id, results) = match rest.split_once('/') {
                Some((id, "results")) => (id.to_string(), true),
                _ => (rest.to_string(), false),
            };
            let fail = st.fail_jobs.clone();
            let Some(job) = st.jobs.get_mut(&id) else {
                return Reply::json(
                    404,
                    r#"[{"errorCode":"NOT_FOUND","message":"no such job"}]"#,
                );
            };
            match (m, results) {
                ("GET", false) => {
                    job.polls += 1;
                    let state = match (&fail, job.polls) {
                        (_, 1) => "InProgress",
                        (Some(_), _) => "Failed",
                        _ => "JobComplete",
                    };
                    let msg = fail
                        .map(|m| format!(r#","errorMessage":"{m}""#))
                        .unwrap_or_default();
                    Reply::json(200, format!(r#"{{"id":"{id}","state":"{state}"{msg}}}"#))
                }
                ("PATCH", false) => {
                    job.aborted = true;
                    Reply::json(200, format!(r#"{{"id":"{id}","state":"Aborted"}}"#))
                }
                ("DELETE", false) => {
                    job.deleted = true;
                    Reply::new(204, "text/plain", Vec::new())
                }
                ("GET", true) => {
                    let (soql, all) = (job.soql.clone(), job.all);
                    let offset: usize = req
                        .param("locator")
                        .map(|l| l.parse().unwrap())
                        .unwrap_or(0);
                    let size: usize = req
                        .param("maxRecords")
                        .map(|n| n.parse().unwrap())
                        .unwrap_or(st.bulk_set_size);
                    let rows = select(st, &soql, all);
                    let fields = parse_select(&soql).0;
                    let end = (offset + size).min(rows.len());
                    let mut csv = fields
                        .iter()
                        .map(|f| format!("\"{f}\""))
                        .collect::<Vec<_>>()
                        .join(",");
                    csv.push('\n');
                    for a in &rows[offset..end] {
                        let line: Vec<String> = fields.iter().map(|f| csv_value(a, f)).collect();
                        csv.push_str(&line.join(","));
                        csv.push('\n');
                    }
                    let set = offset / size + 1;
                    let locator = if end < rows.len() {
                        end.to_string()
                    } else {
                        "null".into()
                    };
                    let mut r = Reply::new(200, "text/csv", csv)
                        .header("Sforce-Locator", locator)
                        .header("Sforce-NumberOfRecords", (end - offset).to_string());
                    r.cut = st.cut_set == Some(set);
                    r
                }
                _ => Reply::json(405, "[]"),
            }
        }
        _ => Reply::json(
            404,
            r#"[{"errorCode":"NOT_FOUND","message":"no such resource"}]"#,
        ),
    }
}

/// Up to `page_size` records from `offset`, with the next page's URL when more follow.
fn page(st: &mut State, records: Arc<Vec<String>>, offset: usize) -> Reply {
    let end = (offset + st.page_size).min(records.len());
    let done = end >= records.len();
    let next = if done {
        String::new()
    } else {
        let cursor = format!("01gR{:06}", st.cursors.len() + 1);
        st.cursors.insert(cursor.clone(), records.clone());
        format!(r#","nextRecordsUrl":"/services/data/v61.0/query/{cursor}-{end}""#)
    };
    Reply::json(
        200,
        format!(
            r#"{{"totalSize":{},"done":{done}{next},"records":[{}]}}"#,
            records.len(),
            records[offset..end].join(",")
        ),
    )
}

fn token(st: &mut State, req: &Request) -> Reply {
    let form: HashMap<String, String> = url::form_urlencoded::parse(req.body.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let ok = match get("grant_type") {
        "client_credentials" => {
            get("client_id") == CLIENT_ID && get("client_secret") == CLIENT_SECRET
        }
        "refresh_token" => get("client_id") == CLIENT_ID && get("refresh_token") == REFRESH_TOKEN,
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => verify_jwt(get("assertion")),
        _ => false,
    };
    if !ok {
        return Reply::json(
            400,
            r#"{"error":"invalid_client","error_description":"invalid client credentials"}"#,
        );
    }
    st.logins += 1;
    let token = format!("00DR-session-{}", st.logins);
    st.tokens.push(token.clone());
    Reply::json(
        200,
        format!(
            r#"{{"access_token":"{token}","instance_url":"http://127.0.0.1","token_type":"Bearer","issued_at":"1700000000000"}}"#
        ),
    )
}

/// RS256 over `header.claims` with the test key's public half, and the claims Salesforce
/// checks: iss (the client id), sub (the user), aud, exp in the future.
fn verify_jwt(assertion: &str) -> bool {
    let parts: Vec<&str> = assertion.split('.').collect();
    if parts.len() != 3 {
        return false;
    }
    let body: String = KEY_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = STANDARD.decode(body).unwrap();
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    let public = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        pair.public().as_ref().to_vec(),
    );
    let Ok(sig) = URL_SAFE_NO_PAD.decode(parts[2]) else {
        return false;
    };
    let signed = format!("{}.{}", parts[0], parts[1]);
    if public.verify(signed.as_bytes(), &sig).is_err() {
        return false;
    }
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    header["alg"] == "RS256"
        && claims["iss"] == CLIENT_ID
        && claims["sub"] == USERNAME
        && claims["aud"] == "https://login.salesforce.com"
        && claims["exp"].as_i64().unwrap_or(0) > Utc::now().timestamp()
}

/// The select list and the datetime bounds of a query the loader wrote.
/// `SystemModstamp >= 2024-...Z`: field, operator, bound.
type Bound = (String, String, DateTime<Utc>);

fn parse_select(soql: &str) -> (Vec<String>, Vec<Bound>) {
    let lower = soql.to_ascii_lowercase();
    let from = lower.find(" from ").expect("FROM");
    // Field names are matched without regard to case, as Salesforce does.
    let known = [
        "Id",
        "IsDeleted",
        "Name",
        "AnnualRevenue",
        "NumberOfEmployees",
        "OwnerId",
        "Founded__c",
        "SystemModstamp",
        "Owner.Name",
    ];
    let fields = soql[7..from]
        .split(',')
        .map(|f| {
            let f = f.trim();
            known
                .iter()
                .find(|k| k.eq_ignore_ascii_case(f))
                .map_or(f.to_string(), |k| k.to_string())
        })
        .collect();
    let tokens: Vec<&str> = soql[from..].split_whitespace().collect();
    let mut bounds = Vec::new();
    for w in tokens.windows(3) {
        if matches!(w[1], ">=" | "<" | ">") {
            let lit = w[2].trim_end_matches(')');
            if let Ok(t) = DateTime::parse_from_rfc3339(lit) {
                bounds.push((
                    w[0].trim_start_matches('(').to_string(),
                    w[1].to_string(),
                    t.with_timezone(&Utc),
                ));
            }
        }
    }
    (fields, bounds)
}

fn select<'a>(st: &'a State, soql: &str, all: bool) -> Vec<&'a Account> {
    let bounds = parse_select(soql).1;
    st.accounts
        .iter()
        .filter(|a| all || !a.deleted)
        .filter(|a| {
            bounds.iter().all(|(f, op, t)| {
                assert_eq!(
                    f, "SystemModstamp",
                    "the org filters on SystemModstamp only"
                );
                match op.as_str() {
                    ">=" => a.modstamp >= *t,
                    ">" => a.modstamp > *t,
                    _ => a.modstamp < *t,
                }
            })
        })
        .collect()
}

fn owner_name(id: &str) -> &'static str {
    if id.ends_with("1AAA") {
        "Ada Lovelace"
    } else {
        "Grace Hopper"
    }
}

/// A field as JSON text: numbers as the API writes them, datetimes with +0000.
fn json_value(a: &Account, field: &str) -> String {
    let s = |v: &str| serde_json::to_string(v).unwrap();
    let opt = |v: &Option<String>| v.as_deref().map(s).unwrap_or("null".into());
    match field {
        "Id" => s(&a.id),
        "Name" => s(&a.name),
        "AnnualRevenue" => a.revenue.clone().unwrap_or("null".into()),
        "NumberOfEmployees" => a.employees.map(|n| n.to_string()).unwrap_or("null".into()),
        "IsDeleted" => a.deleted.to_string(),
        "OwnerId" => a.owner.map(s).unwrap_or("null".into()),
        "Founded__c" => opt(&a.founded),
        "SystemModstamp" => s(&a.modstamp.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()),
        "Owner.Name" => a.owner.map(|o| s(owner_name(o))).unwrap_or("null".into()),
        other => panic!("the org has no field {other}"),
    }
}

fn record_json(a: &Account, fields: &[String]) -> String {
    let mut out = format!(
        r#"{{"attributes":{{"type":"Account","url":"/services/data/v61.0/sobjects/Account/{}"}}"#,
        a.id
    );
    for f in fields {
        if let Some(rel) = f.strip_suffix(".Name") {
            let v = match a.owner {
                Some(o) => format!(
                    r#"{{"attributes":{{"type":"User","url":"/services/data/v61.0/sobjects/User/{o}"}},"Name":{}}}"#,
                    json_value(a, f)
                ),
                None => "null".into(),
            };
            out.push_str(&format!(r#","{rel}":{v}"#));
        } else {
            out.push_str(&format!(r#","{f}":{}"#, json_value(a, f)));
        }
    }
    out.push('}');
    out
}

/// A field in Bulk CSV: quoted, datetimes with Z, NULL as an empty field.
fn csv_value(a: &Account, field: &str) -> String {
    let text = match field {
        "SystemModstamp" => Some(a.modstamp.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        f => {
            let j = json_value(a, f);
            match serde_json::from_str::<serde_json::Value>(&j).unwrap() {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s),
                v => Some(v.to_string()),
            }
        }
    };
    match text {
        None => String::new(),
        Some(t) => format!("\"{}\"", t.replace('"', "\"\"")),
    }
}

/// describeGlobal, abridged to the fields etl reads: a change-event object is not queryable.
const DESCRIBE_GLOBAL: &str = r#"{"encoding":"UTF-8","maxBatchSize":200,"sobjects":[
 {"name":"User","label":"User","queryable":true,"custom":false},
 {"name":"AccountChangeEvent","label":"Account Change Event","queryable":false,"custom":false},
 {"name":"Account","label":"Account","queryable":true,"custom":false}
]}"#;

const ACCOUNT_DESCRIBE: &str = r#"{"name":"Account","label":"Account","queryable":true,"fields":[
 {"name":"Id","type":"id","length":18,"precision":0,"scale":0,"nillable":false,"relationshipName":null,"referenceTo":[]},
 {"name":"IsDeleted","type":"boolean","length":0,"precision":0,"scale":0,"nillable":false,"relationshipName":null,"referenceTo":[]},
 {"name":"Name","type":"string","length":255,"precision":0,"scale":0,"nillable":false,"relationshipName":null,"referenceTo":[]},
 {"name":"BillingAddress","type":"address","length":0,"precision":0,"scale":0,"nillable":true,"relationshipName":null,"referenceTo":[]},
 {"name":"AnnualRevenue","type":"currency","length":0,"precision":18,"scale":2,"nillable":true,"relationshipName":null,"referenceTo":[]},
 {"name":"NumberOfEmployees","type":"int","length":0,"precision":0,"scale":0,"digits":8,"nillable":true,"relationshipName":null,"referenceTo":[]},
 {"name":"OwnerId","type":"reference","length":18,"precision":0,"scale":0,"nillable":false,"relationshipName":"Owner","referenceTo":["User"]},
 {"name":"Founded__c","type":"date","length":0,"precision":0,"scale":0,"nillable":true,"relationshipName":null,"referenceTo":[]},
 {"name":"SystemModstamp","type":"datetime","length":0,"precision":0,"scale":0,"nillable":false,"relationshipName":null,"referenceTo":[]}
]}"#;

const USER_DESCRIBE: &str = r#"{"name":"User","label":"User","queryable":true,"fields":[
 {"name":"Id","type":"id","length":18,"precision":0,"scale":0,"nillable":false,"relationshipName":null,"referenceTo":[]},
 {"name":"Name","type":"string","length":121,"precision":0,"scale":0,"nillable":false,"relationshipName":null,"referenceTo":[]}
]}"#;
