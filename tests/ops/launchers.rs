//! The launchers in launchers/: the POSIX ones run for real (argument checks, finding etl,
//! log lines, exit codes, the container command line with a stand-in engine); the .bat files
//! are checked statically here. shellcheck and wine are not on this machine kind: their tests
//! are `#[ignore]`d with the reason (run them with `--ignored` where the tool is installed).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::{repo, Sandbox, BIN};

pub(crate) fn sandbox(projects: &[&str]) -> Sandbox {
    let s = Sandbox::new();
    for p in projects {
        s.add_project(&repo().join("tests/projects").join(p), p);
    }
    copy_dir(&repo().join("launchers"), &s.path("launchers"));
    s
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

pub(crate) struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// In `env` of [`launch`]: remove the variable.
pub(crate) const UNSET: &str = "\u{0}unset";

/// `launchers/NAME ARGS...` in the sandbox, with no ETL_* of the outer environment and
/// ETL_BIN set to the binary under test (unless `env` sets it to [`UNSET`]).
pub(crate) fn launch(s: &Sandbox, name: &str, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut cmd = Command::new(s.path(&format!("launchers/{name}")));
    cmd.args(args).current_dir(s.root()).stdin(Stdio::null());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ETL_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("ETL_BIN", BIN);
    for (k, v) in env {
        if *v == UNSET {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("start the launcher");
    Ran {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

pub(crate) fn launcher_log(s: &Sandbox, project: &str) -> String {
    s.read(&format!("metadata/logs/{project}/launcher.log"))
}

#[test]
fn bad_arguments_are_refused_with_what_to_write_and_exit_2() {
    let s = sandbox(&["ops_backfill"]);
    for (launcher, args, message) in [
        (
            "run.sh",
            vec![],
            "run.sh: error: the project is missing: run.sh PROJECT [options]",
        ),
        (
            "run.sh",
            vec!["--env", "prod"],
            "the project comes first, before '--env'",
        ),
        ("run.sh", vec!["nope"], "no project 'nope':"),
        (
            "run.sh",
            vec!["../x"],
            "project '../x' is not a project name",
        ),
        (
            "run.sh",
            vec!["ops_backfill", "--load-type", "X"],
            "--load-type 'X' must be F (full) or I (incremental)",
        ),
        (
            "run.sh",
            vec!["ops_backfill", "--param", "novalue"],
            "--param 'novalue' must look like KEY=VALUE",
        ),
        (
            "run.sh",
            vec!["ops_backfill", "--param", "=x"],
            "--param '=x' must look like KEY=VALUE",
        ),
        (
            "run.sh",
            vec!["ops_backfill", "--env"],
            "--env needs a value",
        ),
        (
            "run.sh",
            vec!["ops_backfill", "--env", "a b"],
            "--env 'a b' is not an environment name",
        ),
        (
            "run.sh",
            vec!["ops_backfill", "--from", "2025-01-01"],
            "--from is a backfill option: use backfill.sh",
        ),
        (
            "run.sh",
            vec!["ops_backfill", "--bogus"],
            "unknown argument '--bogus'",
        ),
        (
            "backfill.sh",
            vec!["ops_backfill", "--to", "2025-02-01", "--days", "3"],
            "--from DATE is missing",
        ),
        (
            "backfill.sh",
            vec!["ops_backfill", "--from", "2025-01-01", "--days", "3"],
            "--to DATE is missing",
        ),
        (
            "backfill.sh",
            vec!["ops_backfill", "--from", "2025-01-01", "--to", "2025-02-01"],
            "--days N is missing",
        ),
        (
            "backfill.sh",
            vec![
                "ops_backfill",
                "--from",
                "2025-1-1",
                "--to",
                "2025-02-01",
                "--days",
                "3",
            ],
            "--from '2025-1-1' is not a date",
        ),
        (
            "backfill.sh",
            vec![
                "ops_backfill",
                "--from",
                "2025-01-01",
                "--to",
                "2025-02-01",
                "--days",
                "0",
            ],
            "--days '0' must be a whole number from 1",
        ),
        (
            "backfill.sh",
            vec![
                "ops_backfill",
                "--from",
                "2025-01-01",
                "--to",
                "2025-02-01",
                "--days",
                "3",
                "--parallel",
                "x",
            ],
            "--parallel 'x' must be a whole number from 1",
        ),
        (
            "backfill.sh",
            vec![
                "ops_backfill",
                "--from",
                "2025-01-01",
                "--to",
                "2025-02-01",
                "--days",
                "3",
                "--load-type",
                "I",
            ],
            "unknown argument '--load-type'",
        ),
    ] {
        let ran = launch(&s, launcher, &args, &[]);
        assert_eq!(ran.code, Some(2), "{launcher} {args:?}:\n{}", ran.stderr);
        assert!(
            ran.stderr.contains(message),
            "{launcher} {args:?}: expected {message:?} in\n{}",
            ran.stderr
        );
        assert!(
            ran.stderr.contains(&format!("Run '{launcher} --help'")),
            "{}",
            ran.stderr
        );
    }
    let unknown = launch(&s, "run.sh", &["nope"], &[]);
    assert!(
        unknown.stderr.contains("(projects: ops_backfill)"),
        "{}",
        unknown.stderr
    );
    let help = launch(&s, "backfill.sh", &["--help"], &[]);
    assert_eq!(help.code, Some(0));
    assert!(
        help.stdout
            .starts_with("Usage: backfill.sh PROJECT --from DATE --to DATE --days N"),
        "{}",
        help.stdout
    );
    // Nothing ran, so nothing was logged.
    assert!(!s.exists("metadata/logs/ops_backfill/launcher.log"));
}

#[test]
fn the_exit_code_of_etl_comes_back_and_start_and_end_are_logged() {
    let s = sandbox(&["ops_backfill", "ops_fail"]);
    let failed = launch(&s, "run.sh", &["ops_fail", "--quiet"], &[]);
    assert_eq!(failed.code, Some(1), "{}", failed.stderr);
    assert!(
        failed.stderr.contains("this task fails on purpose"),
        "{}",
        failed.stderr
    );
    assert!(
        !failed.stderr.contains("Task started"),
        "--quiet passes -q: {}",
        failed.stderr
    );
    let log = launcher_log(&s, "ops_fail");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(
        lines[0].contains(" start run.sh pid=")
            && lines[0].contains("exec projects/ops_fail/project.rhai"),
        "{log}"
    );
    assert!(
        lines[1].contains(" end run.sh pid=") && lines[1].contains(": exit 1 after "),
        "{log}"
    );

    // Load type and params reach the run.
    let ok = launch(
        &s,
        "run.sh",
        &[
            "ops_backfill",
            "--load-type",
            "I",
            "--param",
            "note=it's here",
            "--task",
            "log",
            "--env",
            "dev",
        ],
        &[],
    );
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);
    let w = s.warehouse();
    let audit = w.audit_of("orders_log");
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].load_type.as_str(), audit[0].environment.as_str()),
        ("I", "dev")
    );
    assert!(!w.table_exists("orders"), "--task log ran only that task");
    let log = launcher_log(&s, "ops_backfill");
    assert!(
        log.contains("--env 'dev' --load-type 'I' --param 'note=it'\\''s here' --task 'log'"),
        "{log}"
    );
    assert!(log.contains(": exit 0 after "), "{log}");
}

#[test]
fn backfill_launcher_runs_windows_and_returns_failures() {
    let s = sandbox(&["ops_backfill"]);
    let range = [
        "ops_backfill",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-10",
        "--days",
        "3",
    ];
    let mut failing = range.to_vec();
    failing.extend(["--param", "fail_since=2025-01-04", "--quiet"]);
    let ran = launch(&s, "backfill.sh", &failing, &[]);
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("Backfill failed: 1 window failed"),
        "{}",
        ran.stderr
    );
    let mut resume = range.to_vec();
    resume.extend(["--resume", "--parallel", "2"]);
    let ran = launch(&s, "backfill.sh", &resume, &[]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("3 windows, 2 to run (1 done earlier), 2 at once"),
        "{}",
        ran.stderr
    );
    assert_eq!(s.warehouse().count("orders"), 27);
    let log = launcher_log(&s, "ops_backfill");
    assert_eq!(log.matches(" start backfill.sh ").count(), 2, "{log}");
    assert!(
        log.contains(": exit 1 after ") && log.contains(": exit 0 after "),
        "{log}"
    );
}

#[test]
fn etl_is_found_on_path_or_in_target_release_and_a_missing_one_is_explained() {
    let s = sandbox(&["ops_fail"]);
    let bin_dir = s.path("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::os::unix::fs::symlink(BIN, bin_dir.join("etl")).unwrap();
    let path = format!("{}:/usr/bin:/bin", bin_dir.display());
    let ran = launch(
        &s,
        "run.sh",
        &["ops_fail"],
        &[("ETL_BIN", UNSET), ("PATH", &path)],
    );
    assert_eq!(ran.code, Some(1), "found on PATH: {}", ran.stderr);
    assert!(launcher_log(&s, "ops_fail").contains(&format!("{}/etl exec", bin_dir.display())));

    let ran = launch(
        &s,
        "run.sh",
        &["ops_fail"],
        &[("ETL_BIN", UNSET), ("PATH", "/usr/bin:/bin")],
    );
    assert_eq!(ran.code, Some(2));
    assert!(
        ran.stderr.contains(
            "cannot find etl: set ETL_BIN, put etl on PATH, or build it (cargo build --release in"
        ),
        "{}",
        ran.stderr
    );
    std::fs::create_dir_all(s.path("target/release")).unwrap();
    std::os::unix::fs::symlink(BIN, s.path("target/release/etl")).unwrap();
    let ran = launch(
        &s,
        "run.sh",
        &["ops_fail"],
        &[("ETL_BIN", UNSET), ("PATH", "/usr/bin:/bin")],
    );
    assert_eq!(ran.code, Some(1), "found in target/release: {}", ran.stderr);

    let ran = launch(
        &s,
        "run.sh",
        &["ops_fail"],
        &[("ETL_BIN", "/nonexistent/etl")],
    );
    assert_eq!(ran.code, Some(2));
    assert!(
        ran.stderr
            .contains("ETL_BIN '/nonexistent/etl' is not an executable file"),
        "{}",
        ran.stderr
    );

    // ETL_HOME points the launchers at another folder.
    let other = sandbox(&["ops_fail"]);
    let ran = launch(
        &s,
        "run.sh",
        &["ops_fail"],
        &[("ETL_HOME", other.root().to_str().unwrap())],
    );
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(other.exists("metadata/logs/ops_fail/launcher.log"));
}

/// A stand-in container engine: records its arguments and the ETL_CONN_WAREHOUSE it sees,
/// and exits with FAKE_CODE.
fn fake_engine(s: &Sandbox) -> PathBuf {
    let path = s.path("fake-docker");
    std::fs::write(
        &path,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$(dirname \"$0\")/engine-args.txt\"\n\
         printf '%s' \"${ETL_CONN_WAREHOUSE:-}\" > \"$(dirname \"$0\")/engine-env.txt\"\nexit \"${FAKE_CODE:-0}\"\n",
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&path)
        .status()
        .unwrap();
    path
}

#[test]
fn the_docker_launcher_mounts_the_folders_and_passes_connections_by_name() {
    let s = sandbox(&["ops_backfill"]);
    let engine = fake_engine(&s);
    let secret = "postgres://etl:s3cret@db/dw";
    let env = [
        ("ETL_DOCKER", engine.to_str().unwrap()),
        ("ETL_IMAGE", "registry.local/etl:1.2"),
        ("ETL_CONN_WAREHOUSE", secret),
        ("ETL_DOCKER_USER", "1000:1000"),
        ("FAKE_CODE", "1"),
    ];
    let ran = launch(
        &s,
        "run_docker.sh",
        &["ops_backfill", "--load-type", "I", "--param", "a=b"],
        &env,
    );
    assert_eq!(
        ran.code,
        Some(1),
        "the engine's exit code comes back: {}",
        ran.stderr
    );
    let args: Vec<String> = s
        .read("engine-args.txt")
        .lines()
        .map(String::from)
        .collect();
    let root = s.root().display().to_string();
    let expected: Vec<String> = [
        "run",
        "--rm",
        "--user",
        "1000:1000",
        "-v",
        &format!("{root}/projects:/work/projects:ro"),
        "-v",
        &format!("{root}/metadata:/work/metadata"),
        "-v",
        &format!("{root}/etl.toml:/work/etl.toml:ro"),
        "-e",
        "ETL_CONN_WAREHOUSE",
        "registry.local/etl:1.2",
        "exec",
        "projects/ops_backfill/project.rhai",
        "--load-type",
        "I",
        "--param",
        "a=b",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    assert_eq!(args, expected);
    assert_eq!(
        s.read("engine-env.txt"),
        secret,
        "the value reaches the engine through the environment"
    );
    let log = launcher_log(&s, "ops_backfill");
    assert!(!log.contains("s3cret"), "{log}");
    assert!(
        log.contains("start run_docker.sh") && log.contains(": exit 1 after "),
        "{log}"
    );

    let ran = launch(
        &s,
        "run_docker.sh",
        &[
            "backfill",
            "ops_backfill",
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-10",
            "--days",
            "3",
            "--resume",
        ],
        &[
            ("ETL_DOCKER", engine.to_str().unwrap()),
            ("ETL_DOCKER_USER", ""),
        ],
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let args = s.read("engine-args.txt");
    assert!(!args.contains("--user"), "{args}");
    assert!(
        args.ends_with("etl:latest\nbackfill\nprojects/ops_backfill/project.rhai\n--from\n2025-01-01\n--to\n2025-01-10\n--days\n3\n--resume\n"),
        "{args}"
    );
    let ran = launch(
        &s,
        "run_docker.sh",
        &["ops_backfill"],
        &[("ETL_DOCKER", "/nonexistent/docker")],
    );
    assert_eq!(ran.code, Some(2));
    assert!(
        ran.stderr
            .contains("ETL_DOCKER '/nonexistent/docker' is not a command"),
        "{}",
        ran.stderr
    );
}

/// Not run by default: shellcheck is not on this machine kind, and the tests install nothing.
/// Run it where shellcheck is installed (`apt-get install shellcheck`):
/// `cargo test --test ops -- --ignored shellcheck`. Without shellcheck it fails, never passes.
#[test]
#[ignore = "needs shellcheck: apt-get install shellcheck, then cargo test --test ops -- --ignored shellcheck"]
fn launchers_pass_shellcheck() {
    let out = Command::new("shellcheck")
        .args([
            "-s",
            "sh",
            "-x",
            "run.sh",
            "backfill.sh",
            "run_docker.sh",
            "lib/launch.sh",
        ])
        .current_dir(repo().join("launchers"))
        .output()
        .expect("shellcheck is not installed: apt-get install shellcheck");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Labels a batch file jumps to or calls.
fn targets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let lower = line.to_ascii_lowercase();
        for key in ["goto ", "call :"] {
            let mut rest = lower.as_str();
            while let Some(i) = rest.find(key) {
                rest = &rest[i + key.len()..];
                let label: String = rest
                    .trim_start_matches(':')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !label.is_empty() && label != "eof" {
                    out.push(label);
                }
            }
        }
    }
    out
}

#[test]
fn batch_files_are_crlf_jump_to_labels_that_exist_and_know_every_option() {
    let dir = repo().join("launchers");
    let lib = std::fs::read_to_string(dir.join("lib/launch.bat")).unwrap();
    for name in [
        "run.bat",
        "backfill.bat",
        "run_docker.bat",
        "lib/launch.bat",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            !text.replace("\r\n", "").contains('\n'),
            "{name}: every line ends with CRLF"
        );
        let labels: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix(':'))
            .map(|l| l.trim().to_ascii_lowercase())
            .collect();
        for t in targets(&text) {
            assert!(
                labels.contains(&t),
                "{name}: jumps to :{t}, which does not exist"
            );
        }
        if name != "lib/launch.bat" {
            assert!(text.contains("call \"%~dp0lib\\launch.bat\""), "{name}");
            assert!(
                text.contains("exit /b %ERRORLEVEL%"),
                "{name} returns the exit code"
            );
        }
    }
    // Every option of the POSIX launchers is handled by the batch one too.
    let sh = std::fs::read_to_string(dir.join("lib/launch.sh")).unwrap();
    for opt in [
        "--env",
        "--load-type",
        "--param",
        "--task",
        "--dry-run",
        "--quiet",
        "--from",
        "--to",
        "--days",
        "--parallel",
        "--resume",
        "--keep-going",
    ] {
        assert!(sh.contains(opt), "launch.sh lacks {opt}");
        assert!(
            lib.contains(&format!("\"{opt}\"")),
            "launch.bat lacks {opt}"
        );
    }
}

/// The .bat launchers under wine's cmd. Not run by default: wine is not on this machine kind
/// (the .bat files are checked statically above); where wine64 is installed:
/// `cargo test --test ops -- --ignored under_wine`. Without wine it fails, never passes.
/// Wine's cmd loses the exit code of `call other.bat`, so exit codes are checked on
/// lib\launch.bat directly; the command line etl gets is recorded by a stand-in etl.bat.
#[test]
#[ignore = "needs wine64: apt-get install wine64, then cargo test --test ops -- --ignored under_wine"]
fn batch_launchers_handle_arguments_under_wine() {
    let wine = ["/usr/lib/wine/wine64", "/usr/bin/wine64", "/usr/bin/wine"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("wine64 is not installed: apt-get install wine64");
    let s = sandbox(&["ops_backfill"]);
    s.write(
        "fake_etl.bat",
        "@echo off\r\n>>\"%~dp0fake_args.txt\" echo %*\r\nexit /b 0\r\n",
    );
    let prefix = std::env::temp_dir().join("etl-test-wineprefix");
    let root = format!("Z:{}", s.root().display().to_string().replace('/', "\\"));
    let run = |line: &str| -> (Option<i32>, String) {
        s.write(
            "w.bat",
            format!("@echo off\r\nset \"ETL_BIN={root}\\fake_etl.bat\"\r\n{line}\r\n").as_bytes(),
        );
        let _ = std::fs::remove_file(s.path("fake_args.txt"));
        let out = Command::new(wine)
            .args(["cmd", "/c", "w.bat"])
            .current_dir(s.root())
            .env("WINEDEBUG", "-all")
            .env("WINEPREFIX", &prefix)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    // Straight from cmd /c (no `call`), so the exit code survives wine.
    let lib = |mode: &str, args: &str| -> (Option<i32>, String) {
        let line =
            format!("launchers\\lib\\launch.bat {mode} native {mode}.bat {root}\\launchers {args}");
        let out = Command::new(wine)
            .args(["cmd", "/c", &line])
            .current_dir(s.root())
            .env("WINEDEBUG", "-all")
            .env("WINEPREFIX", &prefix)
            .env("ETL_BIN", format!("{root}\\fake_etl.bat"))
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    for (mode, args, message) in [
        ("run", "", "the project is missing"),
        ("run", "nope", "no project 'nope'"),
        (
            "run",
            "ops_backfill --load-type X",
            "--load-type 'X' must be F (full) or I (incremental)",
        ),
        (
            "run",
            "ops_backfill --param novalue",
            "--param 'novalue' must look like KEY=VALUE",
        ),
        (
            "run",
            "ops_backfill --env bad.name",
            "--env 'bad.name' is not an environment name",
        ),
        (
            "run",
            "ops_backfill --from 2025-01-01",
            "--from is a backfill option",
        ),
        (
            "backfill",
            "ops_backfill --from 2025-01-01 --to 2025-02-01",
            "--days N is missing",
        ),
        (
            "backfill",
            "ops_backfill --from 2025-1-1 --to 2025-02-01 --days 3",
            "--from '2025-1-1' is not a date",
        ),
        (
            "backfill",
            "ops_backfill --from 2025-01-01 --to 2025-02-01 --days 0",
            "--days '0' must be a whole number",
        ),
    ] {
        let (code, text) = lib(mode, args);
        assert_eq!(code, Some(2), "{mode} {args}: {text}");
        assert!(
            text.contains(message),
            "{mode} {args}: expected {message:?} in {text}"
        );
    }
    let (code, text) = run("call launchers\\run.bat ops_backfill --load-type I --param \"day=2024-01-01\" --task keyed -q");
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        s.read("fake_args.txt").trim_end(),
        "-q exec \"projects/ops_backfill/project.rhai\" --load-type I --param \"day=2024-01-01\" --task \"keyed\""
    );
    let (_, text) = run("call launchers\\backfill.bat ops_backfill --from 2025-01-01 --to \"2025-02-01 06:00:00\" --days 3 --parallel 2 --resume --env prod");
    assert_eq!(
        s.read("fake_args.txt").trim_end(),
        "backfill \"projects/ops_backfill/project.rhai\" --env prod --from \"2025-01-01\" --to \"2025-02-01 06:00:00\" --days 3 --parallel 2 --resume",
        "{text}"
    );
    assert!(s
        .read("metadata/logs/ops_backfill/launcher.log")
        .contains("start backfill.bat"));
}
