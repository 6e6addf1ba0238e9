//! `etl export airflow` in real Apache Airflow 3 (PyPI, in a venv cached under
//! target/venvs/airflow): the DAG files of all three modes import into Airflow's DagBag and
//! render exactly the `etl exec` command of a data interval, hostile names included; and
//! `airflow dags test` runs the bash-mode DAG for real against a throwaway PostgreSQL
//! database, loading exactly each interval's rows, and fails when a task fails without
//! running its downstream. Docker and Kubernetes DAGs are only imported and rendered: there
//! is no container engine here.
//!
//! Each test has its own AIRFLOW_HOME (SQLite metadata database) in its sandbox. When the
//! venv cannot be made (no python3, PyPI unreachable and nothing cached), a test prints why
//! and returns.

#[path = "../cli/support.rs"]
#[allow(dead_code)]
mod support;

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::venv::{self, Venv};
use common::PgTestDb;
use serde_json::Value;
use support::Sandbox;

/// The newest Airflow 3 on PyPI when this was written, and the providers of the container modes.
const PACKAGES: [&str; 3] = [
    "apache-airflow==3.3.2",
    "apache-airflow-providers-docker",
    "apache-airflow-providers-cncf-kubernetes",
];

fn airflow() -> Option<Venv> {
    match venv::ensure("airflow", &PACKAGES) {
        Ok(v) => Some(v),
        Err(why) => {
            panic!("cannot run Airflow: it does not install: {why}")
        }
    }
}

/// An Airflow command with its home (config, SQLite database, logs) inside the sandbox.
fn airflow_cmd(venv: &Venv, s: &Sandbox, program: &str) -> Command {
    let mut c = Command::new(venv.bin(program));
    c.current_dir(s.root())
        .env("AIRFLOW_HOME", s.path("airflow_home"))
        .env("AIRFLOW__CORE__DAGS_FOLDER", s.path("dags"))
        .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        .env("TZ", "UTC");
    c
}

fn output(mut c: Command) -> Output {
    c.output()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", c.get_program()))
}

fn etl_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_etl"))
}

/// A project whose task names try every way out of a Python string, a shell word and a Jinja
/// template.
const HOSTILE: &str = r#"
project("shop", #{ version: "2.0.0", schedule: "30 1 * * *", timezone: "Europe/Berlin" });
task("extract", #{ retries: 3, retry_delay: 45, timeout: 120 }, |run| {});
task("load {{ ds }} {% if 1 %}x{% endif %} {# c #}", #{ after: ["extract"] }, |run| {});
task("it's \"quoted\" $(id) `id` \\ ; rm -rf /", #{ after: ["extract"] }, |run| {});
task("ünïcode\tand\nnewline\n", #{ after: ["it's \"quoted\" $(id) `id` \\ ; rm -rf /"] }, |run| {});
"#;

#[test]
fn dags_in_all_three_modes_import_and_render_the_exact_command() {
    let Some(venv) = airflow() else { return };
    let s = Sandbox::new();
    s.write("projects/shop/project.rhai", HOSTILE);
    let root = "/srv/it's {{ ds }} etl";
    for (mode, out) in [
        ("bash", "dags_bash"),
        ("docker", "dags_docker"),
        ("kubernetes", "dags_k8s"),
    ] {
        s.etl(&["export", "airflow", "shop", "--mode", mode, "--out", out])
            .args(&["--image", "registry/etl:1", "--root", root, "--env", "dev"])
            .run();
    }
    // Regenerating gives the same bytes.
    let first = s.read("dags_bash/shop.py");
    s.etl(&[
        "export",
        "airflow",
        "shop",
        "--out",
        "dags_bash",
        "--root",
        root,
        "--env",
        "dev",
    ])
    .run();
    assert_eq!(s.read("dags_bash/shop.py"), first);

    let (start, end) = ("2025-03-30T01:30:00+01:00", "2025-03-31T01:30:00+02:00");
    let mut c = airflow_cmd(&venv, &s, "python");
    c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/airflow/render.py"))
        .arg(s.path("render.json"))
        .args([start, end, "dags_bash", "dags_docker", "dags_k8s"]);
    let out = output(c);
    assert!(
        out.status.success(),
        "render.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_str(&s.read("render.json")).expect("render.py writes JSON");
    assert_eq!(json["import_errors"], serde_json::json!({}), "{json:#}");

    let names = [
        "extract",
        "load {{ ds }} {% if 1 %}x{% endif %} {# c #}",
        "it's \"quoted\" $(id) `id` \\ ; rm -rf /",
        "ünïcode\tand\nnewline\n",
    ];
    for (folder, operator) in [
        ("dags_bash", "BashOperator"),
        ("dags_docker", "DockerOperator"),
        ("dags_k8s", "KubernetesPodOperator"),
    ] {
        let dag = &json["dags"][format!("{folder}:shop")];
        assert_eq!(dag["timetable"], "CronDataIntervalTimetable", "{dag:#}");
        assert_eq!(dag["summary"], "30 1 * * *");
        assert_eq!(dag["timezone"], "Europe/Berlin");
        assert_eq!(dag["catchup"], false);
        assert_eq!(dag["max_active_runs"], 1);
        assert_eq!(dag["tags"], serde_json::json!(["etl", "shop"]));
        let tasks = dag["tasks"].as_object().unwrap();
        assert_eq!(tasks.len(), 4, "{dag:#}");
        for name in names {
            let (id, task) = tasks
                .iter()
                .find(|(_, t)| t["argv"].as_array().unwrap().iter().any(|a| a == name))
                .unwrap_or_else(|| panic!("{folder}: no task runs {name:?}: {dag:#}"));
            assert_eq!(task["operator"], operator);
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)),
                "{id}"
            );
            let mut want: Vec<String> = match folder {
                "dags_bash" => vec![
                    "cd".into(),
                    root.into(),
                    "&&".into(),
                    "exec".into(),
                    "etl".into(),
                ],
                _ => vec!["etl".into()],
            };
            want.extend(
                [
                    "exec",
                    "projects/shop/project.rhai",
                    "--task",
                    name,
                    "--from",
                    start,
                    "--to",
                    end,
                    "--no-retries",
                    "--env",
                    "dev",
                ]
                .map(String::from),
            );
            assert_eq!(task["argv"], serde_json::json!(want), "{folder} {name:?}");
        }
        let extract = &tasks["extract"];
        assert_eq!(extract["retries"], 3);
        assert_eq!(extract["retry_delay"], 45.0);
        assert_eq!(extract["execution_timeout"], 180.0, "timeout + 60 s");
        assert_eq!(extract["upstream"], serde_json::json!([]));
        let last = tasks
            .values()
            .find(|t| t["argv"][if folder == "dags_bash" { 8 } else { 4 }] == names[3])
            .unwrap();
        let quoted = tasks
            .iter()
            .find(|(_, t)| t["argv"].as_array().unwrap().iter().any(|a| a == names[2]))
            .unwrap()
            .0;
        assert_eq!(last["upstream"], serde_json::json!([quoted]));
    }
}

/// The sandbox with the fixture, the DAG written for the real binary, and Airflow's
/// metadata database migrated.
fn dags_test_setup(venv: &Venv, db: &PgTestDb, project: &str) -> Sandbox {
    let s = Sandbox::with_project(project);
    s.etl(&["export", "airflow", project, "--out", "dags"])
        .args(&["--etl", etl_bin().to_str().unwrap()])
        .env("ETL_CONN_WAREHOUSE", db.url())
        .run();
    let mut c = airflow_cmd(venv, &s, "airflow");
    c.args(["db", "migrate"]);
    let out = output(c);
    assert!(
        out.status.success(),
        "airflow db migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    s
}

fn dags_test(venv: &Venv, s: &Sandbox, db: &PgTestDb, dag: &str, date: &str) -> Output {
    let mut c = airflow_cmd(venv, s, "airflow");
    c.args(["dags", "test", dag, date])
        .env("ETL_CONN_WAREHOUSE", db.url());
    output(c)
}

fn log_of(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn airflow_dags_test_loads_exactly_each_days_interval_into_postgres() {
    let Some(venv) = airflow() else { return };
    let db = PgTestDb::new("airflow_days");
    let s = dags_test_setup(&venv, &db, "airflow_shop");
    // Logical date D is the daily run of the interval [D-1, D).
    for date in ["2025-01-05", "2025-01-08"] {
        let out = dags_test(&venv, &s, &db, "airflow_shop", date);
        assert!(out.status.success(), "dags test {date}:\n{}", log_of(&out));
    }
    let rows = |table: &str| {
        common::text(
            &db,
            &format!("SELECT id::text || ' ' || updated_at::text FROM {table} ORDER BY id"),
        )
    };
    let want = [
        "10 2025-01-04 00:00:00",
        "11 2025-01-04 08:00:00",
        "12 2025-01-04 23:00:00",
        "19 2025-01-07 00:00:00",
        "20 2025-01-07 08:00:00",
        "21 2025-01-07 23:00:00",
    ];
    assert_eq!(rows("orders_log"), want);
    assert_eq!(rows("orders"), want);
    // Per interval and task: its load record (load type B) and its task marker, in order.
    let audit = common::text(
        &db,
        "SELECT task, coalesce(target_table, '-'), load_type, status, start_load_date, end_load_date, \
         coalesce(number_of_records::text, '-') FROM etl.etl_runs ORDER BY id",
    );
    let mut expected = Vec::new();
    for (since, until) in [("2025-01-04", "2025-01-05"), ("2025-01-07", "2025-01-08")] {
        for (task, table) in [("keyed", "orders"), ("log", "orders_log")] {
            expected.push(format!(
                "{task}|{table}|B|success|{since} 00:00:00|{until} 00:00:00|3"
            ));
            expected.push(format!("{task}|-|B|success|{since}|{until}|3"));
        }
    }
    let mut got = audit.clone();
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "{audit:#?}");
}

#[test]
fn a_failing_task_fails_the_dag_run_and_its_downstream_never_runs() {
    let Some(venv) = airflow() else { return };
    let db = PgTestDb::new("airflow_fail");
    let s = Sandbox::new();
    s.write(
        "projects/af_fail/project.rhai",
        r#"project("af_fail", #{ schedule: "0 0 * * *", timezone: "UTC" });
let dw = connect("warehouse");
task("extract", #{ retries: 0 }, |run| { throw "the source is not there"; });
task("load", #{ after: ["extract"] }, |run| { dw.sql("CREATE TABLE downstream_ran (x int)"); });
"#,
    );
    let s = {
        s.etl(&["export", "airflow", "af_fail", "--out", "dags"])
            .args(&["--etl", etl_bin().to_str().unwrap()])
            .env("ETL_CONN_WAREHOUSE", db.url())
            .run();
        let mut c = airflow_cmd(&venv, &s, "airflow");
        c.args(["db", "migrate"]);
        assert!(output(c).status.success());
        s
    };
    let out = dags_test(&venv, &s, &db, "af_fail", "2025-01-05");
    let log = log_of(&out);
    assert!(!out.status.success(), "the DAG run must fail:\n{log}");
    // etl's own error, with the script position, is in Airflow's task log.
    assert!(
        log.contains("projects/af_fail/project.rhai:3:42: the source is not there"),
        "{log}"
    );
    assert!(log.contains("Command exited with return code 1"), "{log}");
    let ran = db.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'downstream_ran'");
    assert_eq!(ran.as_deref(), Some("0"), "the downstream task ran");
}
