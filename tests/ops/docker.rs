//! docker/build.sh --check: what CI runs in place of an image build (no container engine on
//! the test machines). The image build itself (`docker build -f docker/Dockerfile .`) is not
//! run by the tests.

use std::process::Command;

use crate::support::{repo, BIN};

#[test]
fn the_build_script_check_passes_on_this_tree() {
    let out = Command::new(repo().join("docker/build.sh"))
        .args(["--check", "--bin", BIN])
        .output()
        .expect("run docker/build.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    for line in [
        "Dockerfile checked",
        "Cargo.lock matches Cargo.toml",
        "smoke test passed: etl ",
    ] {
        assert!(text.contains(line), "{line:?} missing:\n{text}");
    }
}

#[test]
fn the_check_refuses_a_dockerfile_that_runs_as_root() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("docker")).unwrap();
    for f in ["build.sh", "Dockerfile.dockerignore"] {
        std::fs::copy(
            repo().join("docker").join(f),
            dir.path().join("docker").join(f),
        )
        .unwrap();
    }
    let dockerfile = std::fs::read_to_string(repo().join("docker/Dockerfile")).unwrap();
    assert!(dockerfile.contains("\nUSER etl\n"));
    std::fs::write(
        dir.path().join("docker/Dockerfile"),
        dockerfile.replace("\nUSER etl\n", "\n"),
    )
    .unwrap();
    let out = Command::new("sh")
        .arg(dir.path().join("docker/build.sh"))
        .args(["--check", "--bin", BIN])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Dockerfile: the image must run as the non-root user etl"),
        "{err}"
    );
}
