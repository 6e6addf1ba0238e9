//! OpenLineage events (`[lineage]` in etl.toml) received by a loopback HTTP server and written
//! to a file: START then COMPLETE or FAIL per task, with the file the task read, the tables it
//! loaded and their row counts; an endpoint that is down never fails the run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::support::Sandbox;

const SCRIPT: &str = "projects/ops_backfill/project.rhai";

/// A loopback HTTP server that answers 200 to every POST and hands over the bodies.
fn receiver() -> (String, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/lineage", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            let _ = tx.send((head, String::from_utf8(body).unwrap()));
        }
    });
    (url, rx)
}

fn with_lineage(s: &Sandbox, section: &str) {
    let toml = s.read("etl.toml");
    s.write("etl.toml", format!("{toml}\n[lineage]\n{section}\n"));
}

fn check_event_shape(e: &Value) {
    assert_eq!(
        e["schemaURL"],
        "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    );
    assert!(e["producer"].as_str().unwrap().starts_with("https://"));
    let time = e["eventTime"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{time}");
    let id = e["run"]["runId"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    assert_eq!(e["job"]["namespace"], "shop_ns");
}

#[test]
fn each_task_sends_start_then_complete_with_its_datasets_and_row_counts() {
    let s = Sandbox::with_project("ops_backfill");
    let (url, rx) = receiver();
    with_lineage(
        &s,
        &format!("url = \"{url}\"\nfile = \"metadata/lineage.jsonl\"\nnamespace = \"shop_ns\"\napi_key_env = \"LINEAGE_KEY\"\ntimeout_seconds = 3"),
    );
    s.etl(&["exec", SCRIPT, "--from", "2025-01-04", "--to", "2025-01-07"])
        .env("LINEAGE_KEY", "k3y")
        .run();
    let got: Vec<(String, String)> = (0..4)
        .map(|_| rx.recv_timeout(Duration::from_secs(10)).expect("4 events"))
        .collect();
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "only 4 events"
    );
    for (head, _) in &got {
        assert!(head.starts_with("POST /api/v1/lineage HTTP/1.1"), "{head}");
        assert!(head.contains("Authorization: Bearer k3y"), "{head}");
    }
    let events: Vec<Value> = got
        .iter()
        .map(|(_, b)| serde_json::from_str(b).unwrap())
        .collect();
    for e in &events {
        check_event_shape(e);
    }
    for (task, table) in [("keyed", "orders"), ("log", "orders_log")] {
        let job = format!("ops_backfill.{task}");
        let mine: Vec<&Value> = events.iter().filter(|e| e["job"]["name"] == job).collect();
        assert_eq!(mine.len(), 2, "{job}: {events:#?}");
        assert_eq!(mine[0]["eventType"], "START");
        assert_eq!(mine[1]["eventType"], "COMPLETE");
        assert_eq!(mine[0]["run"]["runId"], mine[1]["run"]["runId"]);
        let end = mine[1];
        let input = end["inputs"][0]["name"].as_str().unwrap();
        assert_eq!(end["inputs"][0]["namespace"], "file");
        assert!(
            input.ends_with("projects/ops_backfill/data/orders.csv"),
            "{input}"
        );
        assert_eq!(end["outputs"][0]["namespace"], "etl://warehouse");
        assert_eq!(end["outputs"][0]["name"], table);
        assert_eq!(
            end["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"], 9,
            "the window's rows"
        );
    }
    // The same events, one JSON line each, in the file.
    let lines: Vec<Value> = s
        .read("metadata/lineage.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    for e in &lines {
        assert!(events.contains(e), "{e}");
    }
}

#[test]
fn a_failed_task_sends_fail_and_a_down_endpoint_never_fails_the_run() {
    let s = Sandbox::with_project("ops_backfill");
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    with_lineage(
        &s,
        &format!("url = \"http://127.0.0.1:{port}/lineage\"\nfile = \"metadata/lineage.jsonl\"\nnamespace = \"shop_ns\""),
    );
    s.etl(&["exec", SCRIPT, "--task", "log"])
        .stderr_contains("Lineage: cannot send the event to http://127.0.0.1:")
        .run();
    s.etl(&[
        "exec",
        SCRIPT,
        "--task",
        "keyed",
        "--from",
        "2025-01-04",
        "--to",
        "2025-01-07",
    ])
    .args(&["--param", "fail_since=2025-01-04"])
    .status(1)
    .run();
    let lines: Vec<Value> = s
        .read("metadata/lineage.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<String> = lines
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["job"]["name"].as_str().unwrap(),
                e["eventType"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "ops_backfill.log START",
            "ops_backfill.log COMPLETE",
            "ops_backfill.keyed START",
            "ops_backfill.keyed FAIL"
        ]
    );
    let fail = &lines[3];
    check_event_shape(fail);
    let message = fail["run"]["facets"]["errorMessage"]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("window 2025-01-04 fails on purpose"),
        "{message}"
    );
    assert_eq!(fail["outputs"], serde_json::json!([]));
    same_as_the_reference_client(&s.path("metadata/lineage.jsonl"));
}

/// The events, rebuilt with the OpenLineage project's own Python client (its validators check
/// times, URIs and run ids) and serialized back by it, come out byte for byte as etl wrote them:
/// START, COMPLETE with a row count, FAIL with an error message.
fn same_as_the_reference_client(events: &std::path::Path) {
    let client = match crate::common::venv::ensure("openlineage", &["openlineage-python==1.54.0"]) {
        Ok(v) => v,
        Err(why) => {
            // PyPI answers on this machine kind: a missing client is a failure, not a pass.
            panic!("cannot check against openlineage-python, which does not install: {why}");
        }
    };
    let out = std::process::Command::new(client.python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/ops/openlineage_check.py"
        ))
        .arg(events)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
