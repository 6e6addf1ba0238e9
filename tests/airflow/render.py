"""Loads a folder of DAG files into Airflow's DagBag and prints, as JSON, the import errors and
for each DAG its settings and each task's command rendered for one data interval (argv, after
a shell's word splitting in bash mode), as Airflow itself renders the operator's fields.

usage: python render.py OUT.json START END DAG_FOLDER...   (START/END: ISO times with an offset)
"""
import json
import shlex
import sys

import pendulum
from airflow.dag_processing.dagbag import DagBag

# Airflow logs to stdout, so the result goes to a file of its own.
result, start, end = sys.argv[1], pendulum.parse(sys.argv[2]), pendulum.parse(sys.argv[3])
out = {"import_errors": {}, "dags": {}}
for folder in sys.argv[4:]:
    bag = DagBag(dag_folder=folder)
    out["import_errors"].update({k: str(v) for k, v in bag.import_errors.items()})
    out["dags"].update({folder + ":" + dag_id: dag for dag_id, dag in bag.dags.items()})
for key, dag in sorted(out["dags"].items()):
    env = dag.get_template_env()
    context = {"data_interval_start": start, "data_interval_end": end}

    def render(text):
        return env.from_string(text).render(**context)

    tasks = {}
    for task in dag.tasks:
        kind = type(task).__name__
        if kind == "BashOperator":
            argv = shlex.split(render(task.bash_command))
        elif kind == "DockerOperator":
            argv = [render(a) for a in task.command]
        else:
            argv = list(task.cmds) + [render(a) for a in task.arguments]
        tasks[task.task_id] = {
            "operator": kind,
            "argv": argv,
            "upstream": sorted(task.upstream_task_ids),
            "retries": task.retries,
            "retry_delay": task.retry_delay.total_seconds(),
            "execution_timeout": task.execution_timeout.total_seconds()
            if task.execution_timeout
            else None,
        }
    timetable = dag.timetable
    out["dags"][key] = {
        "timetable": type(timetable).__name__,
        "summary": timetable.summary,
        "timezone": str(getattr(timetable, "_timezone", "")),
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "tags": sorted(dag.tags),
        "tasks": tasks,
    }
with open(result, "w") as f:
    json.dump(out, f, sort_keys=True, indent=1)
