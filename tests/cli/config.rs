//! Configuration: environment overrides, environments, unknown connections, `.env` files and
//! secrets that must never be printed.

use crate::support::{script, Sandbox, ETL_TOML};

#[test]
fn etl_conn_variable_overrides_the_file() {
    let s = Sandbox::with_project("config_basic");
    s.exec("config_basic")
        .env("ETL_CONN_WAREHOUSE", "sqlite://other.db")
        .run();
    assert!(
        !s.exists("metadata/warehouse.db"),
        "the file's warehouse is not used"
    );
    let w = s.sqlite("other.db");
    assert_eq!(w.count("items"), 2);
    assert_eq!(w.audit_of("items")[0].status, "success");
}

#[test]
fn unknown_connection_is_a_script_error() {
    let s = Sandbox::with_project("config_unknown_connection");
    s.check("config_unknown_connection")
        .status(2)
        .stderr_contains(&format!(
            "error: {}:4:11: ",
            script("config_unknown_connection")
        ))
        .stderr_contains("no connection named 'crm' in environment 'dev' (known: warehouse)")
        .stderr_contains("[env.dev.connections]")
        .stderr_contains("ETL_CONN_CRM")
        .run();
}

#[test]
fn a_connection_url_no_connector_opens_is_refused_by_check() {
    let s = Sandbox::with_project("config_basic");
    s.check("config_basic")
        .env("ETL_CONN_WAREHOUSE", "db2://etl:s3cret@db/dw")
        .status(2)
        // The project's target connection is checked where `project()` names it.
        .stderr_contains(&format!("error: {}:2:1: ", script("config_basic")))
        .stderr_contains("connection 'warehouse': unsupported URL 'db2://etl:***@db/dw'")
        .stderr_contains(
            "expected sqlite://PATH, postgres://USER@HOST:5432/DB, mysql://USER@HOST:3306/DB",
        )
        .run();
}

#[test]
fn env_option_picks_another_environment() {
    let s = Sandbox::with_project("config_basic");
    s.write(
        "etl.toml",
        format!("{ETL_TOML}\n[env.prod.connections]\nwarehouse = \"sqlite://prod.db\"\n"),
    );
    s.exec("config_basic")
        .args(&["--env", "prod"])
        .stderr_contains("environment prod")
        .run();
    assert!(!s.exists("metadata/warehouse.db"));
    let w = s.sqlite("prod.db");
    assert_eq!(w.count("items"), 2);
    assert_eq!(w.audit()[0].environment, "prod");
}

#[test]
fn unknown_environment_is_a_usage_error() {
    let s = Sandbox::with_project("config_basic");
    s.exec("config_basic")
        .args(&["--env", "qa"])
        .status(2)
        .stderr_contains("environment 'qa' is not defined")
        .run();
}

#[test]
fn passwords_never_appear_in_output_or_logs() {
    // Nothing listens on port 1: each task fails to connect, and says so without the secret.
    for url in [
        "mysql://loader:hunter2@127.0.0.1:1/shop",
        "postgres://loader:hunter2@127.0.0.1:1/shop",
        "postgres://127.0.0.1:1/shop?user=loader&password=hunter2",
    ] {
        let s = Sandbox::with_project("config_secret");
        let check = s
            .check("config_secret")
            .env("ETL_CONN_SHOP", url)
            .stderr_lacks("hunter2")
            .run();
        let exec = s
            .exec("config_secret")
            .arg("-vv")
            .env("ETL_CONN_SHOP", url)
            .status(1)
            .stderr_contains("connection 'shop'")
            .stderr_lacks("hunter2")
            .run();
        let log = s.logs("config_secret");
        let audit = format!("{:?}", s.warehouse().audit());
        assert!(audit.contains("connection 'shop'"), "{audit}");
        for (what, text) in [
            ("check stdout", &check.stdout),
            ("stdout", &exec.stdout),
            ("log", &log),
            ("audit", &audit),
        ] {
            assert!(
                !text.contains("hunter2"),
                "{url}: the password leaked into {what}:\n{text}"
            );
        }
    }
}

#[test]
fn dot_env_beside_etl_toml_supplies_connections() {
    let s = Sandbox::with_project("config_basic");
    s.write(".env", "ETL_CONN_WAREHOUSE=sqlite://from_dotenv.db\n");
    s.exec("config_basic").run();
    assert!(!s.exists("metadata/warehouse.db"));
    assert_eq!(s.sqlite("from_dotenv.db").count("items"), 2);
}

#[test]
fn a_malformed_dot_env_line_is_reported_and_the_lines_after_it_are_read() {
    let s = Sandbox::with_project("config_basic");
    s.write(
        ".env",
        "# secrets\nthis line is broken\nETL_CONN_WAREHOUSE=sqlite://from_dotenv.db\n",
    );
    s.exec("config_basic")
        .stderr_contains(".env:2:")
        .stderr_contains("this line is not KEY=VALUE and is skipped (`this line is broken`)")
        .run();
    assert_eq!(s.sqlite("from_dotenv.db").count("items"), 2);
    assert!(!s.exists("metadata/warehouse.db"));

    // A quote never closed swallows the rest of the file: an error, nothing runs.
    s.write(
        ".env",
        "A=1\nETL_CONN_WAREHOUSE=\"sqlite://x.db\nETL_CONN_OTHER=y\n",
    );
    s.exec("config_basic")
        .status(2)
        .stderr_contains(".env:2:")
        .stderr_contains("a quote opened here is never closed")
        .run();
}

#[test]
fn dot_env_is_read_beside_etl_toml_only_and_the_environment_wins() {
    let s = Sandbox::new();
    // The project and its etl.toml in work/, run from there; a .env in the folder above is
    // not theirs.
    s.add_project(
        &crate::support::repo().join("tests/projects/config_basic"),
        "../work/projects/config_basic",
    );
    s.write("work/etl.toml", crate::support::ETL_TOML);
    s.write(".env", "ETL_CONN_WAREHOUSE=sqlite://parent.db\n");
    let run = |env: Option<&str>| {
        let mut cmd = s
            .etl(&["exec", "projects/config_basic/project.rhai"])
            .command();
        cmd.current_dir(s.path("work"));
        if let Some(url) = env {
            cmd.env("ETL_CONN_WAREHOUSE", url);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(None);
    assert!(!s.exists("parent.db") && !s.exists("work/parent.db"));
    assert_eq!(s.sqlite("work/metadata/warehouse.db").count("items"), 2);

    s.write("work/.env", "ETL_CONN_WAREHOUSE=sqlite://beside.db\n");
    run(None);
    assert_eq!(s.sqlite("work/beside.db").count("items"), 2);
    run(Some("sqlite://from_env.db"));
    assert_eq!(s.sqlite("work/from_env.db").count("items"), 2);
}
