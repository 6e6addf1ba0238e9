//! `etl launcher` and `etl export cron|schtasks` for a project's defaults and schedule, and
//! the project options they read (checked by `etl check` with the script's line).

use crate::support::{repo, Sandbox, BIN};

fn sandbox() -> Sandbox {
    let s = Sandbox::with_project("ops_backfill");
    s.write(
        "etl.toml",
        format!(
            "{}[env.prod.connections]\nwarehouse = \"sqlite://metadata/prod.db\"\n",
            crate::support::ETL_TOML
        ),
    );
    let launchers = repo().join("launchers");
    for f in ["run.sh", "run.bat", "lib/launch.sh", "lib/launch.bat"] {
        s.write(
            &format!("launchers/{f}"),
            std::fs::read(launchers.join(f)).unwrap(),
        );
    }
    std::process::Command::new("chmod")
        .args(["+x", "launchers/run.sh"])
        .current_dir(s.root())
        .status()
        .unwrap();
    s
}

#[test]
fn a_generated_launcher_runs_the_project_with_its_defaults() {
    let s = sandbox();
    s.etl(&["launcher", "ops_backfill", "--env", "dev", "--os", "unix"])
        .stdout_contains("launchers/run_ops_backfill.sh")
        .run();
    let text = s.read("launchers/run_ops_backfill.sh");
    assert!(text.starts_with("#!/bin/sh\n"), "{text}");
    assert!(text.contains("schedule \"0 2 * * *\" (local)"), "{text}");
    assert!(
        text.contains(
            "exec \"$(dirname \"$0\")/run.sh\" ops_backfill --env dev --load-type I \"$@\""
        ),
        "{text}"
    );
    // It runs: the project's load_type ("I") is the default, a later argument overrides it.
    let run = |args: &[&str]| {
        std::process::Command::new(s.path("launchers/run_ops_backfill.sh"))
            .args(args)
            .current_dir(s.root())
            .env("ETL_BIN", BIN)
            .env_remove("ETL_ENV")
            .env_remove("ETL_CONFIG")
            .output()
            .unwrap()
    };
    let out = run(&["--task", "log"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["--task", "log", "--load-type", "F"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let types: Vec<String> = s
        .warehouse()
        .audit_of("orders_log")
        .into_iter()
        .map(|r| r.load_type)
        .collect();
    assert_eq!(types, ["I", "F"]);

    s.etl(&["launcher", "ops_backfill", "--os", "unix"])
        .status(2)
        .stderr_contains("run_ops_backfill.sh exists: pass --force to replace it")
        .run();
    s.etl(&["launcher", "projects/ops_backfill", "--os", "windows"])
        .run();
    let bat = s.read("launchers/run_ops_backfill.bat");
    assert!(bat.starts_with("@echo off\r\n"), "{bat}");
    assert!(
        bat.contains(
            "\r\ncall \"%~dp0run.bat\" ops_backfill --load-type I %*\r\nexit /b %ERRORLEVEL%\r\n"
        ),
        "{bat}"
    );
    assert!(!bat.replace("\r\n", "").contains('\n'));
    s.etl(&["launcher", "nope"])
        .status(2)
        .stderr_contains("no project 'nope': it is neither a project.rhai, a project folder, nor projects/nope/project.rhai (projects here: ops_backfill)")
        .run();
}

#[test]
fn cron_and_task_scheduler_entries_follow_the_schedule() {
    let s = sandbox();
    let root = s.root().display().to_string();
    let out = s
        .etl(&["export", "cron", "ops_backfill", "--env", "prod"])
        .run()
        .stdout;
    assert_eq!(
        out,
        format!(
            "# etl: project 'ops_backfill' ({root}/projects/ops_backfill/project.rhai), schedule \"0 2 * * *\"\n\
             0 2 * * * {root}/launchers/run.sh ops_backfill --env prod --load-type I --quiet\n"
        )
    );
    let out = s
        .etl(&[
            "export",
            "schtasks",
            "projects/ops_backfill/project.rhai",
            "--root",
            "C:\\etl",
        ])
        .run()
        .stdout;
    assert_eq!(
        out,
        "rem etl: project 'ops_backfill', schedule '0 2 * * *' (1 task)\n\
         schtasks /Create /F /TN \"etl\\ops_backfill\" /TR \"\\\"C:\\etl\\launchers\\run.bat\\\" ops_backfill --load-type I\" /SC DAILY /ST 02:00\n"
    );

    // A zone of its own: CRON_TZ for cron, a note for Task Scheduler.
    let script = "projects/ops_backfill/project.rhai";
    s.write(
        script,
        s.read(script).replace(
            "schedule: \"0 2 * * *\",",
            "schedule: \"30 6 * * mon-fri\", timezone: \"Europe/Berlin\",",
        ),
    );
    let out = s.etl(&["export", "cron", "ops_backfill"]).run().stdout;
    assert!(
        out.contains("\" in Europe/Berlin\nCRON_TZ=Europe/Berlin\n30 6 * * mon-fri "),
        "{out}"
    );
    let out = s.etl(&["export", "schtasks", "ops_backfill"]).run().stdout;
    assert!(
        out.contains("read in Europe/Berlin: Task Scheduler uses the machine's local time"),
        "{out}"
    );
    assert!(
        out.contains("/SC WEEKLY /D MON,TUE,WED,THU,FRI /ST 06:30"),
        "{out}"
    );

    // What cannot be expressed is refused with what to do instead.
    s.write(
        script,
        s.read(script).replace("30 6 * * mon-fri", "*/20 * * * * *"),
    );
    s.etl(&["export", "cron", "ops_backfill"])
        .status(2)
        .stderr_contains("has a seconds field, which cron cannot run")
        .run();
    s.write(
        script,
        s.read(script).replace("schedule: \"*/20 * * * * *\", ", ""),
    );
    s.etl(&["export", "schtasks", "ops_backfill"])
        .status(2)
        .stderr_contains("project 'ops_backfill' has no schedule: add `schedule: \"0 2 * * *\"`")
        .run();
}

#[test]
fn scheduling_options_are_checked_with_the_line_of_the_project_call() {
    let s = sandbox();
    let script = "projects/ops_backfill/project.rhai";
    let original = s.read(script);
    for (from, to, message) in [
        (
            "schedule: \"0 2 * * *\"",
            "schedule: \"every night\"",
            "project() option 'schedule': schedule 'every night' is not a cron expression",
        ),
        (
            "schedule: \"0 2 * * *\"",
            "schedule: \"0 2 * * *\", timezone: \"Mars/Base\"",
            "project() option 'timezone': 'Mars/Base' is not a time zone",
        ),
        (
            "schedule: \"0 2 * * *\"",
            "schedule: \"0 2 * * *\", missed: \"always\"",
            "project() option 'missed' is \"skip\" or \"run_once\", not \"always\"",
        ),
        (
            "load_type: \"I\"",
            "load_type: \"B\"",
            "project() option 'load_type' is \"F\" (full) or \"I\" (incremental), not \"B\"",
        ),
    ] {
        s.write(script, original.replace(from, to));
        s.check("ops_backfill")
            .status(2)
            .stderr_contains(&format!("{script}:"))
            .stderr_contains(message)
            .run();
    }
}
