//! `etl new NAME`: a project folder whose script runs as generated and explains itself.

use std::path::{Path, PathBuf};

const SCRIPT: &str = r#"// Project NAME. Run it with:  etl exec projects/NAME/project.rhai
// Check it without touching any database:  etl check projects/NAME/project.rhai
// The script API is described in docs/scripting.md.

project("NAME", #{
    version: "0.1.0",            // recorded in the audit table (etl_runs.script_version)
    target: "warehouse",         // connection for loads and the audit table (see etl.toml)
    // schedule: "0 2 * * *",    // for launchers and the scheduler
    logs: #{ keep_days: 7, keep_runs: 30 },
});

// Connections are named in etl.toml per environment; nothing connects until a task runs.
let dw = connect("warehouse");

// A load: rows stream from the CSV file into the table in batches.
// Without `key` a full run (--load-type F, the default) replaces the table atomically;
// with `key: ["id"]` an incremental run (--load-type I) merges by key.
task("load_example", |run| {
    dw.load(#{
        from: csv_file("data/example.csv"),
        into: "NAME_example",
        key: ["id"],
    })
});

// SQL runs after the load it depends on; files resolve against this folder.
task("summary", #{ after: ["load_example"] }, |run| {
    dw.run_file("sql/summary.sql")
});
"#;

const SQL: &str = "DROP TABLE IF EXISTS \"NAME_summary\";\n\
CREATE TABLE \"NAME_summary\" AS\n\
SELECT category, count(*) AS items, sum(quantity) AS quantity\n\
FROM \"NAME_example\"\n\
GROUP BY category;\n";

const CSV: &str = "id,category,quantity,updated_at\n1,books,3,2026-01-01 10:00:00\n2,music,1,2026-01-02 11:30:00\n3,books,2,2026-01-03 09:15:00\n";

pub fn new_project(dir: &Path, name: &str) -> Result<PathBuf, String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "project name '{name}' may only contain letters, digits, '_' and '-'"
        ));
    }
    let root = dir.join(name);
    if root.exists() {
        return Err(format!(
            "{} already exists; pick another name or remove it",
            root.display()
        ));
    }
    let write = |rel: &str, text: &str| -> Result<(), String> {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().expect("has a parent"))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        std::fs::write(&path, text.replace("NAME", name))
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    write("project.rhai", SCRIPT)?;
    write("sql/summary.sql", SQL)?;
    write("data/example.csv", CSV)?;
    Ok(root.join("project.rhai"))
}
