//! An OpenLineage `RunEvent` (spec 2-0-2) as JSON.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

const PRODUCER: &str = "https://github.com/etl-rs/etl";
const SCHEMA: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
const STATS_SCHEMA: &str =
    "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet";
const ERROR_SCHEMA: &str =
    "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Start,
    Complete,
    Fail,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Start => "START",
            EventType::Complete => "COMPLETE",
            EventType::Fail => "FAIL",
        }
    }
}

/// A dataset: a file (`file` namespace, its absolute path) or a table of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    pub namespace: String,
    pub name: String,
    /// Rows written (outputs only).
    pub rows: Option<u64>,
}

/// One task of one run, as its events name it.
pub struct TaskRun<'a> {
    /// A UUID per task run, shared by its START and its end.
    pub run_id: &'a str,
    pub namespace: &'a str,
    pub project: &'a str,
    pub task: &'a str,
    /// etl's own run id, as a facet, to find the audit records.
    pub etl_run_id: &'a str,
}

pub fn run_event(
    t: &TaskRun<'_>,
    kind: EventType,
    at: DateTime<Utc>,
    inputs: &[Dataset],
    outputs: &[Dataset],
    error: Option<&str>,
) -> Value {
    let mut run_facets = serde_json::Map::new();
    if let Some(e) = error {
        run_facets.insert(
            "errorMessage".into(),
            json!({ "_producer": PRODUCER, "_schemaURL": ERROR_SCHEMA, "message": e, "programmingLanguage": "rhai" }),
        );
    }
    let mut event = json!({
        "eventType": kind.as_str(),
        "eventTime": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "producer": PRODUCER,
        "schemaURL": SCHEMA,
        "run": { "runId": t.run_id, "facets": Value::Object(run_facets) },
        "job": {
            "namespace": t.namespace,
            "name": format!("{}.{}", t.project, t.task),
            "facets": {}
        },
        "inputs": inputs.iter().map(|d| json!({ "namespace": d.namespace, "name": d.name, "facets": {}, "inputFacets": {} })).collect::<Vec<_>>(),
        "outputs": outputs.iter().map(|d| {
            let mut o = json!({ "namespace": d.namespace, "name": d.name, "facets": {} });
            if let Some(rows) = d.rows {
                o["outputFacets"] = json!({ "outputStatistics": { "_producer": PRODUCER, "_schemaURL": STATS_SCHEMA, "rowCount": rows } });
            }
            o
        }).collect::<Vec<_>>(),
    });
    // etl's own run id rides along as a custom run facet, to find the audit records.
    event["run"]["facets"]["etl_run"] = json!({
        "_producer": PRODUCER,
        "_schemaURL": format!("{PRODUCER}#etl_run"),
        "runId": t.etl_run_id
    });
    event
}
