//! `etl defs`: definition files that name the script API.

use crate::support::Sandbox;

#[test]
fn defs_writes_the_script_api_for_editors() {
    let s = Sandbox::new();
    s.etl(&["defs", "--out", "defs"])
        .stdout_contains("definition files to defs")
        .run();
    let api = s.read("defs/__static__.d.rhai");
    for f in [
        "fn connect(",
        "fn load(",
        "fn csv_file(",
        "fn task(",
        "fn output_csv(",
    ] {
        assert!(api.contains(f), "{f} missing from __static__.d.rhai");
    }
    assert!(s.exists("defs/__builtin__.d.rhai"));
    let one = s.etl(&["defs", "--stdout", "--no-std"]).run().stdout;
    assert!(
        one.contains("fn run_file(") && !one.contains("__builtin__"),
        "{one}"
    );
}
