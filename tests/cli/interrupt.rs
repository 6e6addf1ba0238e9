//! Ctrl-C during a load: the load rolls back, the target keeps its contents, the audit table
//! records the failure, and the exit code says the run did not succeed.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{wait_for_text, Sandbox};

#[test]
fn ctrl_c_rolls_back_the_load_in_progress() {
    let s = Sandbox::with_project("interrupt");
    s.exec("interrupt")
        .args(&["--param", "file=data/small.csv"])
        .run();
    assert_eq!(s.warehouse().count("big"), 2);

    // Big enough that the per-row .map keeps the load busy far longer than the test waits.
    let mut csv = std::io::BufWriter::new(
        std::fs::File::create(s.path("projects/interrupt/data/big.csv")).unwrap(),
    );
    writeln!(csv, "id,n").unwrap();
    for id in 1..=300_000 {
        writeln!(csv, "{id},{}", id % 97).unwrap();
    }
    csv.into_inner().unwrap().sync_all().unwrap();

    let mut child = s
        .exec("interrupt")
        .args(&["--param", "file=data/big.csv"])
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start etl");
    // Only this run can log the marker: the small file has no row 10000.
    let log_dir = s.path("metadata/logs/interrupt");
    let newest_log = || {
        let entries = std::fs::read_dir(&log_dir).ok()?;
        entries.filter_map(Result::ok).map(|e| e.path()).max()
    };
    wait_for_text(newest_log, "load is under way", &mut child);
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let output = child.wait_with_output().expect("wait for etl");
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_ne!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        output.status.code(),
        Some(1),
        "a cancelled run is a failed run: {stderr}"
    );
    assert!(stderr.contains("Interrupted"), "{stderr}");
    let w = s.warehouse();
    assert_eq!(w.count("big"), 2, "the target keeps its previous contents");
    assert_eq!(w.columns("big"), ["id", "n", "doubled"]);
    let audit = w.audit_of("big");
    assert_eq!(
        audit.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(),
        ["success", "failed"],
        "{audit:#?}"
    );
    let error = audit[1].error_message.as_deref().unwrap_or_default();
    assert!(error.contains("cancel"), "{error}");
    assert!(
        !w.table_exists("big__etl_new"),
        "no half-loaded table is left"
    );
}
