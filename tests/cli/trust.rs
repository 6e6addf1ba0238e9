//! The trust model: scripts are trusted with the file system unless `[security] allowed_paths`
//! is set; then every file a script reads (`csv_file`, `run_file`, attachments, imports) must be
//! in a listed folder or the project's own, and neither `..` nor a symbolic link leads out.

use crate::support::{Run, Sandbox, ETL_TOML};

const REFUSED: &str = "is outside the folders scripts may use";

/// The fixture, with `shared/` (listed when `secure`) and `secret/` (never listed) beside it.
fn sandbox(secure: bool) -> Sandbox {
    let s = Sandbox::with_project("trust_paths");
    if secure {
        s.write(
            "etl.toml",
            format!("{ETL_TOML}\n[security]\nallowed_paths = [\"shared\"]\n"),
        );
    }
    for dir in ["shared", "secret"] {
        s.write(&format!("{dir}/in.csv"), "id,name\n1,a\n");
        s.write(
            &format!("{dir}/make.sql"),
            format!("CREATE TABLE made_in_{dir} (n INTEGER);\n"),
        );
        s.write(&format!("{dir}/report.txt"), "figures\n");
        s.write(
            &format!("{dir}/lib.rhai"),
            format!("fn hello() {{ \"hello from {dir}\" }}\n"),
        );
    }
    s
}

/// Task `task` of the fixture, given `path`.
fn task<'a>(s: &'a Sandbox, task: &str, path: &str) -> Run<'a> {
    s.exec("trust_paths").args(&[
        "--task",
        task,
        "--param",
        &format!("path={path}"),
        "--no-notify",
    ])
}

#[test]
fn without_the_setting_scripts_reach_any_file() {
    let s = sandbox(false);
    task(&s, "csv", "../../secret/in.csv").run();
    assert_eq!(s.warehouse().count("from_csv"), 1);
    task(&s, "sql", "../../secret/make.sql").run();
    assert!(s.warehouse().table_exists("made_in_secret"));
    task(&s, "attach", "../../secret/report.txt").run();
    task(&s, "module", "../../secret/lib")
        .stderr_contains("hello from secret")
        .run();
}

#[test]
fn allowed_paths_admit_the_listed_folders_and_the_project() {
    let s = sandbox(true);
    task(&s, "csv", "data/in.csv").run();
    task(&s, "csv", "../../shared/in.csv").run();
    task(&s, "csv", &s.path("shared/in.csv").display().to_string()).run();
    task(&s, "sql", "../../shared/make.sql").run();
    assert!(s.warehouse().table_exists("made_in_shared"));
    task(&s, "attach", "../../shared/report.txt").run();
    task(&s, "module", "lib/helper")
        .stderr_contains("hello from the project")
        .run();
    task(&s, "module", "../../shared/lib")
        .stderr_contains("hello from shared")
        .run();
}

#[test]
fn allowed_paths_refuse_every_other_file_with_the_path_and_the_setting() {
    let s = sandbox(true);
    let secret_csv = s.path("secret/in.csv").display().to_string();
    for (name, path, says) in [
        (
            "csv",
            "../../secret/in.csv",
            "csv_file(\"../../secret/in.csv\"): ",
        ),
        ("csv", secret_csv.as_str(), "secret/in.csv "),
        ("csv", "data/../../../secret/in.csv", "secret/in.csv "),
        (
            "sql",
            "../../secret/make.sql",
            "run_file(\"../../secret/make.sql\"): ",
        ),
        (
            "attach",
            "../../secret/report.txt",
            "attachment \"../../secret/report.txt\": ",
        ),
        (
            "module",
            "../../secret/lib",
            "import \"../../secret/lib\": ",
        ),
    ] {
        task(&s, name, path)
            .status(1)
            .stderr_contains(says)
            .stderr_contains(REFUSED)
            .stderr_contains("[security] allowed_paths in ")
            .stderr_lacks("hello from secret")
            .run();
    }
    let w = s.warehouse();
    assert!(!w.table_exists("made_in_secret"));
    assert!(!w.table_exists("from_csv"));
}

#[cfg(unix)]
#[test]
fn symbolic_links_do_not_lead_out_of_the_allowed_folders() {
    use std::os::unix::fs::symlink;
    let s = sandbox(true);
    let data = s.path("projects/trust_paths/data");
    symlink(s.path("secret/in.csv"), data.join("secret.csv")).unwrap();
    symlink(s.path("secret"), data.join("secret_dir")).unwrap();
    symlink(s.path("shared/in.csv"), data.join("shared.csv")).unwrap();
    for path in ["data/secret.csv", "data/secret_dir/in.csv"] {
        task(&s, "csv", path)
            .status(1)
            .stderr_contains("secret/in.csv ")
            .stderr_contains(REFUSED)
            .run();
    }
    // A link to an allowed place is as good as the place.
    task(&s, "csv", "data/shared.csv").run();
    assert_eq!(s.warehouse().count("from_csv"), 1);
}

#[test]
fn a_refused_import_at_the_top_level_fails_the_check() {
    let s = sandbox(true);
    let script = s.read("projects/trust_paths/project.rhai");
    s.write(
        "projects/trust_paths/project.rhai",
        format!("import \"../../secret/lib\" as evil;\n{script}"),
    );
    s.check("trust_paths")
        .status(2)
        .stderr_contains("import \"../../secret/lib\": ")
        .stderr_contains(REFUSED)
        .run();
}
