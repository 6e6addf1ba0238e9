//! What `etl launcher` and `etl export` write, with hostile values: a project name is refused
//! where the script declares it; a version, a folder or a `--root` holding quotes, `$(...)`,
//! `%`, `&` or a line break never runs as a command. The .sh launcher and the crontab line are
//! run (the crontab line as cron would: its `%` rule, then sh); the .bat text is checked
//! statically (no cmd.exe here).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{repo, Sandbox};

/// Every value in it would run `touch pwned...` if it reached a shell or cmd unquoted.
const VERSION: &str = "1\\nid > pwned-version #\\r\\n& touch pwned-bat %PATH% ^";

fn project(version: &str) -> String {
    format!(
        "project(\"hostile\", #{{ version: \"{version}\", schedule: \"0 2 * * *\", load_type: \"I\" }});\n\
         task(\"t\", |run| {{ log_info(\"ran\"); }});\n"
    )
}

/// `root/projects/hostile` and, when `launchers`, the real generic launchers in `root`.
fn root_with_project(root: &Path, launchers: bool) {
    std::fs::create_dir_all(root.join("projects/hostile")).unwrap();
    std::fs::write(root.join("projects/hostile/project.rhai"), project(VERSION)).unwrap();
    std::fs::write(root.join("etl.toml"), crate::support::ETL_TOML).unwrap();
    if launchers {
        for f in ["run.sh", "run.bat", "lib/launch.sh", "lib/launch.bat"] {
            let to = root.join("launchers").join(f);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(repo().join("launchers").join(f), &to).unwrap();
        }
        chmod_x(&root.join("launchers/run.sh"));
    }
}

fn chmod_x(path: &Path) {
    Command::new("chmod").arg("+x").arg(path).status().unwrap();
}

/// A script at `path` that writes its arguments, one per line, to `record`.
fn recorder(path: &Path, record: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n",
            record.display().to_string().replace('\'', "'\\''")
        ),
    )
    .unwrap();
    chmod_x(path);
}

/// Files named pwned* anywhere under `dir`: what an injected command would have left.
fn pwned(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().filter_map(Result::ok) {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if e.file_name().to_string_lossy().starts_with("pwned") {
                out.push(e.path());
            }
        }
    }
    out
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_project_name_other_than_letters_digits_underscore_dash_dot_is_a_script_error() {
    let s = Sandbox::new();
    for name in ["x\\nid > /tmp/pwned #", "..", "a b", "$(touch pwned)"] {
        s.write(
            "projects/bad/project.rhai",
            format!(
                "// a hostile name\nlet v = \"1\";\n  project(\"{name}\", #{{ version: v }});\n"
            ),
        );
        for args in [
            vec!["check", "projects/bad/project.rhai"],
            vec!["launcher", "bad", "--os", "unix"],
            vec!["export", "cron", "bad"],
        ] {
            let ran = s.etl(&args).status(2).run();
            assert!(
                ran.stderr.contains("projects/bad/project.rhai:3:3")
                    && ran.stderr.contains(
                        "a project name is letters, digits, '_', '-' and '.' (not \".\" or \"..\")"
                    ),
                "{args:?} {name:?}: {}",
                ran.stderr
            );
        }
    }
    assert!(!s.exists("launchers/run_bad.sh"));
    assert!(pwned(s.root()).is_empty());
}

#[test]
fn a_generated_sh_launcher_runs_only_the_project_whatever_its_version_and_folder() {
    let s = Sandbox::new();
    let root = s.path("we'ird $(touch pwned-root) `touch pwned-tick` 100%");
    root_with_project(&root, true);
    let out = s.path("elsewhere/run_hostile.sh");
    // Not beside the generic launcher: its path (in the hostile folder) is written out.
    s.etl(&[
        "launcher",
        root.join("projects/hostile").to_str().unwrap(),
        "--os",
        "unix",
        "--out",
        out.to_str().unwrap(),
    ])
    .run();
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 5, "{text}");
    let record = s.path("etl-args.txt");
    let fake = s.path("fake-etl");
    recorder(&fake, &record);
    let ran = Command::new("bash")
        .arg(&out)
        .args(["--param", "k=$(touch pwned-param)"])
        .current_dir(s.root())
        .env("ETL_BIN", &fake)
        .env_remove("ETL_HOME")
        .output()
        .unwrap();
    assert_eq!(
        ran.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert_eq!(
        lines(&record),
        [
            "exec",
            "projects/hostile/project.rhai",
            "--load-type",
            "I",
            "--param",
            "k=$(touch pwned-param)"
        ]
    );
    assert_eq!(pwned(s.root()), Vec::<PathBuf>::new(), "{text}");
}

#[test]
fn a_generated_bat_launcher_keeps_values_in_comments_and_quotes_or_refuses_them() {
    let s = Sandbox::new();
    let root = s.path("a & b (x) it's");
    root_with_project(&root, true);
    let project = root.join("projects/hostile");
    s.etl(&["launcher", project.to_str().unwrap(), "--os", "windows"])
        .run();
    let text = std::fs::read_to_string(root.join("launchers/run_hostile.bat")).unwrap();
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 6, "{text:?}");
    assert!(!text.replace("\r\n", "").contains(['\n', '\r']), "{text:?}");
    assert!(lines[1].starts_with("rem Runs project 'hostile'"), "{text}");
    for line in &lines[1..4] {
        assert!(line.starts_with("rem "), "{line}");
        assert!(
            !line.contains(['%', '^', '&', '|', '<', '>', '"', '!']),
            "{line}"
        );
    }
    assert_eq!(lines[4], "call \"%~dp0run.bat\" hostile --load-type I %*");

    // Written elsewhere, the generic launcher's path is quoted (& and parentheses are inert in
    // quotes), and one with % is refused.
    let out = s.path("elsewhere/run_hostile.bat");
    s.etl(&[
        "launcher",
        project.to_str().unwrap(),
        "--os",
        "windows",
        "--out",
        out.to_str().unwrap(),
    ])
    .run();
    let call = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("call "))
        .unwrap()
        .to_string();
    assert_eq!(
        call,
        format!(
            "call \"{}\" hostile --load-type I %*",
            root.join("launchers/run.bat").display()
        )
    );
    let percent = s.path("100%");
    root_with_project(&percent, true);
    let ran = s
        .etl(&[
            "launcher",
            percent.join("projects/hostile").to_str().unwrap(),
            "--os",
            "windows",
            "--out",
            out.to_str().unwrap(),
            "--force",
        ])
        .status(2)
        .run();
    assert!(
        ran.stderr
            .contains("holds '%', which cannot be written safely"),
        "{}",
        ran.stderr
    );
}

/// The command part of each crontab entry line, as cron hands it to sh: after the five time
/// fields, cut at the first unescaped `%`, with `\%` read as `%`.
fn cron_commands(crontab: &str) -> Vec<String> {
    crontab
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("CRON_TZ=") && !l.trim().is_empty())
        .map(|l| {
            let mut rest = l;
            for _ in 0..5 {
                rest = rest.trim_start().split_once(' ').expect("five fields").1;
            }
            let mut out = String::new();
            let mut chars = rest.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\\' if chars.peek() == Some(&'%') => out.push(chars.next().unwrap()),
                    '%' => break,
                    c => out.push(c),
                }
            }
            out
        })
        .collect()
}

#[test]
fn a_crontab_line_runs_only_the_launcher_whatever_the_folders_hold() {
    let s = Sandbox::new();
    // The project in a folder whose name holds a line break and a crontab entry.
    let home = s.path("nl\n* * * * * touch pwned-cron #");
    root_with_project(&home, false);
    // The machine's folder (--root) holds quotes, $(...) and %.
    let root = s.path("srv 100% $(touch pwned-root) 'q'");
    let record = s.path("launcher-args.txt");
    recorder(&root.join("launchers/run.sh"), &record);
    let ran = s
        .etl(&[
            "export",
            "cron",
            home.join("projects/hostile").to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
        ])
        .run();
    let crontab = ran.stdout;
    assert_eq!(crontab.lines().count(), 2, "{crontab}");
    let commands = cron_commands(&crontab);
    assert_eq!(commands.len(), 1, "{crontab}");
    let sh = Command::new("sh")
        .args(["-c", &commands[0]])
        .current_dir(s.root())
        .output()
        .unwrap();
    assert!(sh.status.success(), "{crontab}: {sh:?}");
    assert_eq!(
        lines(&record),
        ["hostile", "--load-type", "I", "--quiet"],
        "{crontab}"
    );
    assert_eq!(pwned(s.root()), Vec::<PathBuf>::new(), "{crontab}");

    let ran = s
        .etl(&[
            "export",
            "cron",
            home.join("projects/hostile").to_str().unwrap(),
            "--root",
            "/srv\n* * * * * touch pwned",
        ])
        .status(2)
        .run();
    assert!(
        ran.stderr
            .contains("control character (U+000A), which cannot be written into a crontab line"),
        "{}",
        ran.stderr
    );
}

#[test]
fn task_scheduler_commands_refuse_what_cmd_would_act_on() {
    let s = Sandbox::new();
    root_with_project(&s.path("home"), false);
    let project = s.path("home/projects/hostile");
    let ok = s
        .etl(&[
            "export",
            "schtasks",
            project.to_str().unwrap(),
            "--root",
            "D:\\etl jobs",
        ])
        .run();
    let text = ok.stdout;
    assert!(
        text.contains("/TR \"\\\"D:\\etl jobs\\launchers\\run.bat\\\" hostile --load-type I\""),
        "{text}"
    );
    let rem = text.lines().next().unwrap();
    assert!(rem.starts_with("rem etl: project 'hostile'"), "{text}");
    for root in ["C:\\a & calc", "C:\\100%", "C:\\x\" & calc & \"", "C:\\(x)"] {
        let ran = s
            .etl(&[
                "export",
                "schtasks",
                project.to_str().unwrap(),
                "--root",
                root,
            ])
            .status(2)
            .run();
        assert!(
            ran.stderr
                .contains("cannot be written into a Task Scheduler command"),
            "{root}: {}",
            ran.stderr
        );
    }
}
