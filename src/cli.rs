//! The command line: parses arguments, sets up logging and the runtime, and turns results
//! into exit codes (0 success, 1 a task failed, 2 usage or script error).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::connectors::Io;
use crate::context::{LoadType, RunInfo};
use crate::script::{factory, Host, Mode};
use crate::{logging, progress, runner, scaffold};

#[derive(Parser)]
#[command(
    name = "etl",
    version,
    about = "Load data into a warehouse with pipelines written as Rhai scripts",
    propagate_version = true
)]
pub struct Cli {
    /// Configuration file (default: etl.toml found from the project folder upwards; or ETL_CONFIG)
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// More detail in the log (-v debug, -vv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only warnings and errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a project's tasks
    Exec(ExecArgs),
    /// Compile a project script and validate its task graph without connecting to anything
    Check {
        /// The project script (projects/NAME/project.rhai)
        script: PathBuf,
        /// Environment whose connections the script's names are checked against
        #[arg(long, env = "ETL_ENV")]
        env: Option<String>,
    },
    /// Create projects/NAME/ with a commented project.rhai that runs as generated
    New {
        name: String,
        /// Folder that holds the projects
        #[arg(long, default_value = "projects")]
        dir: PathBuf,
    },
    /// Show the audit history (etl_runs) of a connection
    Runs {
        /// Only this project
        #[arg(long)]
        project: Option<String>,
        /// How many records, newest first
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Connection that holds the audit table
        #[arg(long, default_value = "warehouse")]
        connection: String,
        #[arg(long, env = "ETL_ENV")]
        env: Option<String>,
    },
}

#[derive(Args)]
struct ExecArgs {
    /// The project script (projects/NAME/project.rhai)
    script: PathBuf,
    /// Environment from etl.toml (default: ETL_ENV, then the file's default_env, then dev)
    #[arg(long, env = "ETL_ENV")]
    env: Option<String>,
    /// F = full reload, I = incremental from the audit watermark
    #[arg(long, default_value = "F", value_name = "F|I")]
    load_type: String,
    /// Run only this task (repeatable)
    #[arg(long = "task", value_name = "NAME")]
    tasks: Vec<String>,
    /// With --task: also run the tasks they depend on
    #[arg(long)]
    with_deps: bool,
    /// A value for run.params (repeatable)
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// Evaluate everything, write nothing: loads and SQL are logged instead of run
    #[arg(long)]
    dry_run: bool,
    /// Tasks run at once (default: the number of cores)
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let verbosity = if cli.quiet { -1 } else { cli.verbose as i8 };
    logging::init(verbosity);
    progress::set_quiet(cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(dispatch(cli));
    logging::detach_file();
    ExitCode::from(code)
}

async fn dispatch(cli: Cli) -> u8 {
    match cli.command {
        Command::Exec(args) => exec(cli.config.as_deref(), args).await,
        Command::Check { script, env } => {
            check(cli.config.as_deref(), &script, env.as_deref()).await
        }
        Command::New { name, dir } => match scaffold::new_project(&dir, &name) {
            Ok(path) => {
                println!(
                    "Created {}. Run it with: etl exec {}",
                    path.display(),
                    path.display()
                );
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                2
            }
        },
        Command::Runs {
            project,
            limit,
            connection,
            env,
        } => {
            runs(
                cli.config.as_deref(),
                project.as_deref(),
                limit,
                &connection,
                env.as_deref(),
            )
            .await
        }
    }
}

fn project_dir(script: &Path) -> Option<PathBuf> {
    std::path::absolute(script)
        .ok()?
        .parent()
        .map(Path::to_path_buf)
}

fn load_config(
    explicit: Option<&Path>,
    script: Option<&Path>,
    env: Option<&str>,
) -> Result<Config, u8> {
    Config::load(explicit, script.and_then(project_dir).as_deref(), env).map_err(|e| {
        eprintln!("error: {e}");
        2
    })
}

fn io(cancel: CancellationToken) -> Io {
    Io {
        handle: tokio::runtime::Handle::current(),
        cancel,
    }
}

/// Evaluates the script on a blocking thread (scripts never run on async workers).
async fn load_project(host: Arc<Host>) -> Result<factory::Project, u8> {
    match tokio::task::spawn_blocking(move || factory::load(host)).await {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            Err(2)
        }
        Err(e) => {
            eprintln!("error: evaluating the script panicked: {e}");
            Err(2)
        }
    }
}

async fn check(config: Option<&Path>, script: &Path, env: Option<&str>) -> u8 {
    let config = match load_config(config, Some(script), env) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let host = Host::new(Mode::Check, config, script, io(CancellationToken::new()));
    match load_project(host).await {
        Ok(p) => {
            println!(
                "{}: project '{}' v{} is valid: {} tasks",
                script.display(),
                p.meta.name,
                p.meta.version,
                p.tasks.len()
            );
            for t in &p.tasks {
                let after = if t.after.is_empty() {
                    String::new()
                } else {
                    format!(" (after {})", t.after.join(", "))
                };
                println!("  {}{after}", t.name);
            }
            0
        }
        Err(code) => code,
    }
}

fn parse_params(raw: &[String]) -> Result<BTreeMap<String, String>, String> {
    raw.iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(format!("--param '{p}' must look like KEY=VALUE")),
        })
        .collect()
}

async fn exec(config: Option<&Path>, args: ExecArgs) -> u8 {
    let load_type = match LoadType::parse(&args.load_type) {
        Ok(LoadType::Backfill) => {
            eprintln!("error: --load-type B is set by `etl backfill`, not `etl exec`");
            return 2;
        }
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: --load-type: {e}");
            return 2;
        }
    };
    let params = match parse_params(&args.params) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let config = match load_config(config, Some(&args.script), args.env.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let cancel = CancellationToken::new();
    let host = Host::new(Mode::Run, config, &args.script, io(cancel.clone()));
    let project = match load_project(host.clone()).await {
        Ok(p) => Arc::new(p),
        Err(code) => return code,
    };
    let selected = match runner::select(
        &project,
        &runner::Selection {
            tasks: args.tasks.clone(),
            with_deps: args.with_deps,
        },
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let meta = &project.meta;
    let started_at = chrono::Utc::now();
    let run = Arc::new(RunInfo {
        id: RunInfo::new_id(started_at),
        project: meta.name.clone(),
        env: host.config.env.clone(),
        load_type,
        since: None,
        until: None,
        params,
        dry_run: args.dry_run,
        script_version: meta.version.clone(),
        started_at,
        output_dir: host.config.metadata_dir.join("output").join(&meta.name),
        output_files: Default::default(),
    });
    let log_dir = host.config.metadata_dir.join("logs").join(&meta.name);
    let log_path = match logging::attach_file(&log_dir, &meta.name, &run.file_stamp()) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!("Cannot write the log file in {}: {e}", log_dir.display());
            None
        }
    };
    // After attaching, so this run's own log counts among the runs kept; a dry run deletes
    // nothing.
    let removed = if args.dry_run {
        0
    } else {
        logging::apply_retention(&log_dir, &meta.name, meta.log_keep_days, meta.log_keep_runs)
    };
    tracing::info!(
        run_id = %run.id, env = %run.env, load_type = load_type.code(), version = %meta.version,
        "Run of project '{}' started ({} tasks{}).", meta.name, selected.len(), if args.dry_run { ", dry run" } else { "" }
    );
    if removed > 0 {
        tracing::debug!("Removed {removed} old log files.");
    }

    // Ctrl-C: stop launching tasks, cancel running loads (they roll back), record failures.
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("Interrupted: cancelling the run (loads in progress roll back).");
            on_signal.cancel();
        }
    });
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let report = runner::run(project.clone(), run.clone(), selected, jobs).await;

    if !meta.keep_output {
        for f in run.output_files.lock().expect("output lock").drain(..) {
            let _ = std::fs::remove_file(&f);
        }
    }
    let table = runner::summary(&report);
    tracing::info!(
        "Run finished in {:.2}s.\n{table}",
        report.duration.as_secs_f64()
    );
    let ok = report.succeeded();
    if ok {
        tracing::info!(run_id = %run.id, "Run succeeded.");
    } else {
        let failed: Vec<&str> = report
            .outcomes
            .iter()
            .filter(|o| o.status != runner::TaskStatus::Success)
            .map(|o| o.name.as_str())
            .collect();
        tracing::error!(run_id = %run.id, "Run failed: {} did not succeed.", failed.join(", "));
    }
    if let Some(p) = log_path {
        tracing::info!("Log: {}", p.display());
    }
    if ok {
        0
    } else {
        1
    }
}

async fn runs(
    config: Option<&Path>,
    project: Option<&str>,
    limit: usize,
    connection: &str,
    env: Option<&str>,
) -> u8 {
    let config = match load_config(config, None, env) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let conn = connection.to_string();
    let project = project.map(str::to_string);
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::spawn_blocking(move || {
        let url = config.connection_url(&conn)?;
        let options = crate::connectors::open::OpenOptions::from_config(&config);
        let db = crate::connectors::open::open_with(&conn, &url, &options)?;
        db.audit_history(
            &Io {
                handle,
                cancel: CancellationToken::new(),
            },
            project.as_deref(),
            limit,
        )
    })
    .await;
    match result {
        Ok(Ok(records)) => {
            print!("{}", crate::audit::history_table(&records));
            0
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            2
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
