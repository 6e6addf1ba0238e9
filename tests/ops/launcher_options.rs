//! Every POSIX launcher with every option, through the real scripts: a stand-in `etl` (ETL_BIN)
//! and a stand-in container engine (ETL_DOCKER) record the arguments they get, one per line,
//! so each option is checked to arrive as its own word(s), in every combination the launchers
//! build (`--env` before a backfill's range was once glued to it: `--env 'pg'--from ...`).

use std::path::PathBuf;

use crate::launchers::{launch, launcher_log, sandbox};
use crate::support::Sandbox;

const SCRIPT: &str = "projects/ops_backfill/project.rhai";

/// An executable shell script at `name` that writes its arguments, one per line, to `record`.
fn recorder(s: &Sandbox, name: &str, record: &str) -> PathBuf {
    let path = s.path(name);
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$(dirname \"$0\")/{record}\"\nexit \"${{FAKE_CODE:-0}}\"\n"
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&path)
        .status()
        .unwrap();
    path
}

/// The arguments a native launcher passes to etl.
fn etl_argv(s: &Sandbox, launcher: &str, args: &[&str]) -> Vec<String> {
    let etl = recorder(s, "fake-etl", "etl-args.txt");
    let _ = std::fs::remove_file(s.path("etl-args.txt"));
    let ran = launch(s, launcher, args, &[("ETL_BIN", etl.to_str().unwrap())]);
    assert_eq!(ran.code, Some(0), "{launcher} {args:?}: {}", ran.stderr);
    s.read("etl-args.txt").lines().map(String::from).collect()
}

/// The arguments a docker launcher passes after the image name (what the container's etl gets).
fn container_argv(s: &Sandbox, args: &[&str]) -> Vec<String> {
    let engine = recorder(s, "fake-docker", "engine-args.txt");
    let _ = std::fs::remove_file(s.path("engine-args.txt"));
    let env = [
        ("ETL_DOCKER", engine.to_str().unwrap()),
        ("ETL_IMAGE", "img:1"),
        ("ETL_DOCKER_USER", ""),
    ];
    let ran = launch(s, "run_docker.sh", args, &env);
    assert_eq!(ran.code, Some(0), "run_docker.sh {args:?}: {}", ran.stderr);
    let all: Vec<String> = s
        .read("engine-args.txt")
        .lines()
        .map(String::from)
        .collect();
    let image = all
        .iter()
        .position(|a| a == "img:1")
        .unwrap_or_else(|| panic!("no image in {all:?}"));
    all[image + 1..].to_vec()
}

fn words(s: &[&str]) -> Vec<String> {
    s.iter().map(|w| w.to_string()).collect()
}

/// Options of run.sh, each alone and as `--opt=value`, with the words etl gets for it.
fn run_options() -> Vec<(Vec<&'static str>, Vec<&'static str>)> {
    vec![
        (vec!["--env", "pg"], vec!["--env", "pg"]),
        (vec!["--env=pg"], vec!["--env", "pg"]),
        (vec!["--load-type", "I"], vec!["--load-type", "I"]),
        (vec!["--load-type=full"], vec!["--load-type", "full"]),
        (
            vec!["--param", "note=it's a \"quote\" $HOME `id`"],
            vec!["--param", "note=it's a \"quote\" $HOME `id`"],
        ),
        (vec!["--param=k=v=w"], vec!["--param", "k=v=w"]),
        (vec!["--task", "log"], vec!["--task", "log"]),
        (vec!["--task=my task"], vec!["--task", "my task"]),
        (vec!["--dry-run"], vec!["--dry-run"]),
    ]
}

/// Options of backfill.sh besides the range.
fn backfill_options() -> Vec<(Vec<&'static str>, Vec<&'static str>)> {
    let mut out: Vec<_> = run_options()
        .into_iter()
        .filter(|(given, _)| !given[0].starts_with("--load-type"))
        .collect();
    out.extend([
        (vec!["--parallel", "2"], vec!["--parallel", "2"]),
        (vec!["--parallel=3"], vec!["--parallel", "3"]),
        (vec!["--resume"], vec!["--resume"]),
        (vec!["--keep-going"], vec!["--keep-going"]),
    ]);
    out
}

const RANGE: [&str; 6] = [
    "--from",
    "2025-01-01",
    "--to",
    "2025-01-10 06:00:00",
    "--days",
    "3",
];

/// What etl gets for a backfill: `--env` first (it is moved there), then the range, then the
/// other options in the order given.
fn backfill_expected(option: &[&str]) -> Vec<String> {
    let (env, rest): (Vec<&str>, Vec<&str>) = if option.first() == Some(&"--env") {
        (option.to_vec(), vec![])
    } else {
        (vec![], option.to_vec())
    };
    let mut out = words(&["backfill", SCRIPT]);
    out.extend(words(&env));
    out.extend(words(&RANGE));
    out.extend(words(&rest));
    out
}

#[test]
fn run_sh_passes_every_option_alone_and_all_together() {
    let s = sandbox(&["ops_backfill"]);
    for (given, passed) in run_options() {
        let mut args = vec!["ops_backfill"];
        args.extend(&given);
        let mut expected = words(&["exec", SCRIPT]);
        expected.extend(words(&passed));
        assert_eq!(etl_argv(&s, "run.sh", &args), expected, "run.sh {given:?}");
    }
    let all = [
        "ops_backfill",
        "--quiet",
        "--task",
        "a",
        "--param",
        "x=1 2",
        "--dry-run",
        "--load-type",
        "I",
        "--env",
        "pg",
        "--task",
        "b",
    ];
    assert_eq!(
        etl_argv(&s, "run.sh", &all),
        words(&[
            "-q",
            "exec",
            SCRIPT,
            "--env",
            "pg",
            "--load-type",
            "I",
            "--task",
            "a",
            "--param",
            "x=1 2",
            "--dry-run",
            "--task",
            "b",
        ])
    );
    // A later --env or --load-type wins (what generated launchers rely on).
    assert_eq!(
        etl_argv(
            &s,
            "run.sh",
            &[
                "ops_backfill",
                "--env",
                "a",
                "--load-type",
                "F",
                "--env",
                "b",
                "-q"
            ]
        ),
        words(&["-q", "exec", SCRIPT, "--env", "b", "--load-type", "F"])
    );
}

#[test]
fn backfill_sh_passes_every_option_with_the_range() {
    let s = sandbox(&["ops_backfill"]);
    for (given, passed) in backfill_options() {
        let mut args = vec!["ops_backfill"];
        args.extend(&given);
        args.extend(RANGE);
        assert_eq!(
            etl_argv(&s, "backfill.sh", &args),
            backfill_expected(&passed),
            "backfill.sh {given:?}"
        );
    }
    let mut all = vec!["ops_backfill", "--env", "pg", "--quiet"];
    all.extend(RANGE);
    all.extend([
        "--param",
        "k=v",
        "--task",
        "keyed",
        "--parallel",
        "2",
        "--resume",
        "--keep-going",
        "--dry-run",
    ]);
    let mut expected = words(&["-q", "backfill", SCRIPT, "--env", "pg"]);
    expected.extend(words(&RANGE));
    expected.extend(words(&[
        "--param",
        "k=v",
        "--task",
        "keyed",
        "--parallel",
        "2",
        "--resume",
        "--keep-going",
        "--dry-run",
    ]));
    assert_eq!(etl_argv(&s, "backfill.sh", &all), expected);
}

#[test]
fn run_docker_sh_passes_every_option_to_the_container_for_runs_and_backfills() {
    let s = sandbox(&["ops_backfill"]);
    for (given, passed) in run_options() {
        let mut args = vec!["ops_backfill"];
        args.extend(&given);
        let mut expected = words(&["exec", SCRIPT]);
        expected.extend(words(&passed));
        assert_eq!(
            container_argv(&s, &args),
            expected,
            "run_docker.sh {given:?}"
        );
    }
    for (given, passed) in backfill_options() {
        let mut args = vec!["backfill", "ops_backfill"];
        args.extend(&given);
        args.extend(RANGE);
        assert_eq!(
            container_argv(&s, &args),
            backfill_expected(&passed),
            "run_docker.sh backfill {given:?}"
        );
    }
    let mut quiet = vec!["backfill", "ops_backfill", "-q", "--env", "pg"];
    quiet.extend(RANGE);
    let mut expected = words(&["-q", "backfill", SCRIPT, "--env", "pg"]);
    expected.extend(words(&RANGE));
    assert_eq!(container_argv(&s, &quiet), expected);
}

/// The real etl behind backfill.sh with --env: the environment reaches the audit records.
#[test]
fn backfill_sh_with_env_runs_the_real_backfill_in_that_environment() {
    let s = sandbox(&["ops_backfill"]);
    let ran = launch(
        &s,
        "backfill.sh",
        &[
            "ops_backfill",
            "--env",
            "dev",
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-04",
            "--days",
            "3",
            "--task",
            "keyed",
        ],
        &[],
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let audit = s.warehouse().audit();
    assert!(!audit.is_empty());
    assert!(
        audit
            .iter()
            .all(|r| r.environment == "dev" && r.load_type == "B"),
        "{audit:?}"
    );
    let log = launcher_log(&s, "ops_backfill");
    assert!(
        log.contains("--env 'dev' --from '2025-01-01' --to '2025-01-04' --days 3"),
        "{log}"
    );
}

/// In both libraries every fragment added to the argument list starts with a space, so no
/// two options can run together (the .bat one cannot be run here: this is its check).
#[test]
fn every_fragment_of_the_argument_list_starts_with_a_space() {
    let dir = crate::support::repo().join("launchers/lib");
    let sh = std::fs::read_to_string(dir.join("launch.sh")).unwrap();
    let mut seen = 0;
    for line in sh.lines().map(str::trim) {
        let Some(value) = line
            .split_once("EXTRA=")
            .filter(|(before, _)| before.is_empty() || before.ends_with("&& "))
            .map(|(_, v)| v)
        else {
            continue;
        };
        seen += 1;
        let value = value.trim_matches('"');
        assert!(
            value.starts_with(' ')
                || value.starts_with("$EXTRA ")
                || value.is_empty()
                || value == "${EXTRA# }",
            "launch.sh: {line}"
        );
    }
    assert!(seen >= 8, "{seen} assignments found in launch.sh");
    let bat = std::fs::read_to_string(dir.join("launch.bat")).unwrap();
    let mut seen = 0;
    for line in bat.lines() {
        let Some((_, value)) = line.split_once("set \"EXTRA=") else {
            continue;
        };
        seen += 1;
        assert!(
            value == "\"" || value.starts_with(' ') || value.starts_with("%EXTRA% "),
            "launch.bat: {line}"
        );
    }
    assert!(seen >= 8, "{seen} assignments found in launch.bat");
    assert!(
        bat.contains("%COMMAND% \"%SCRIPT%\"%EXTRA%\r\n"),
        "launch.bat appends the list right after the script"
    );
}
