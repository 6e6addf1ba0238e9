"""Checks etl's OpenLineage events against the OpenLineage project's own Python client.

Usage: python openlineage_check.py EVENTS.jsonl

Each event is rebuilt from its values with openlineage-python's generated model (whose
validators check the event time, the producer and schema URIs and the run's UUID) and
serialized back with the client's Serde; the result must equal etl's event exactly, so etl
writes what the reference client writes: the same field names, schema URLs and facets. The one
difference allowed is etl's own `etl_run` run facet, a custom facet, which must carry the
`_producer` and `_schemaURL` every custom facet needs. Exits 1 naming the first difference.
"""

import json
import sys

import attr
from openlineage.client.event_v2 import (
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
    set_producer,
)
from openlineage.client.facet_v2 import error_message_run, output_statistics_output_dataset
from openlineage.client.serde import Serde


def rebuild(e):
    producer = e["producer"]
    set_producer(producer)
    facets = {}
    error = e["run"]["facets"].get("errorMessage")
    if error is not None:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error["message"],
            programmingLanguage=error["programmingLanguage"],
            producer=producer,
        )
    outputs = []
    for o in e["outputs"]:
        out_facets = None
        stats = o.get("outputFacets", {}).get("outputStatistics")
        if stats is not None:
            out_facets = {
                "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                    rowCount=stats["rowCount"], producer=producer
                )
            }
        outputs.append(
            OutputDataset(namespace=o["namespace"], name=o["name"], facets={}, outputFacets=out_facets)
        )
    return RunEvent(
        eventType=RunState[e["eventType"]],
        eventTime=e["eventTime"],
        producer=producer,
        run=Run(runId=e["run"]["runId"], facets=facets),
        job=Job(namespace=e["job"]["namespace"], name=e["job"]["name"], facets={}),
        inputs=[InputDataset(namespace=i["namespace"], name=i["name"], facets={}) for i in e["inputs"]],
        outputs=outputs,
    )


def main():
    with open(sys.argv[1]) as f:
        events = [json.loads(line) for line in f if line.strip()]
    if not events:
        sys.exit("no events")
    for n, e in enumerate(events, 1):
        custom = e["run"]["facets"].pop("etl_run", None)
        if custom is None or not custom.get("_producer") or not custom.get("_schemaURL"):
            sys.exit(f"event {n}: the etl_run facet lacks _producer or _schemaURL: {custom}")
        try:
            ours = Serde.to_dict(rebuild(e))
        except (ValueError, KeyError, TypeError, attr.exceptions.NotAnAttrsClassError) as err:
            sys.exit(f"event {n}: the client refuses it: {err!r}\n{json.dumps(e, indent=1)}")
        if ours != e:
            sys.exit(
                f"event {n} differs from openlineage-python's:\netl:    {json.dumps(e, sort_keys=True)}\n"
                f"client: {json.dumps(ours, sort_keys=True)}"
            )
    print(f"{len(events)} events equal openlineage-python's")


main()
