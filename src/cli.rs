//! The command line: parses arguments, sets up logging and the runtime, and turns results
//! into exit codes (0 success, 1 a task failed, 2 usage or script error).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::connectors::Io;
use crate::context::LoadType;
use crate::script::{factory, Host, Mode};
use crate::{backfill, exec, launcher, logging, progress, runner, scaffold, schedule};

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
    /// Reload a date range window by window (load type B), resumable
    Backfill(backfill::BackfillArgs),
    /// Run the projects of a folder on their `schedule`, reloading edited scripts
    Schedule(schedule::ScheduleArgs),
    /// Write a launcher script with a project's defaults (environment, load type)
    Launcher(launcher::LauncherArgs),
    /// Print the crontab line or Windows Task Scheduler command for a project's schedule
    #[command(subcommand)]
    Export(launcher::ExportCommand),
    /// Write an HTML page of the run history (charts, failures, watermarks) from the audit table
    Report {
        /// Only this project
        #[arg(long)]
        project: Option<String>,
        /// Days of history shown
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// The file to write (default: METADATA/report.html; `-` for standard output)
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// Connection that holds the audit table
        #[arg(long, default_value = "warehouse")]
        connection: String,
        #[arg(long, env = "ETL_ENV")]
        env: Option<String>,
    },
    /// Run a project, then re-run what each saved edit concerns (hot reload)
    Watch(crate::watch::WatchArgs),
    /// Print what a run would do per task, without moving data (SQL, DDL, type map, rows)
    Plan(crate::plan::PlanArgs),
    /// Write Rhai definition files of the script API for editors
    Defs(crate::defs::DefsArgs),
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
    /// Send the run's notification even where the environment turns mail off (and in a dry run)
    #[arg(long, conflicts_with = "no_notify")]
    notify: bool,
    /// Send no mail from this run: no notification, and send_email() sends nothing
    #[arg(long)]
    no_notify: bool,
}

impl ExecArgs {
    fn notify_switch(&self) -> Option<bool> {
        match (self.notify, self.no_notify) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
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
        Command::Backfill(args) => backfill::command(cli.config.as_deref(), args).await,
        Command::Schedule(args) => schedule::command(cli.config.as_deref(), args).await,
        Command::Launcher(args) => launcher::command(cli.config.as_deref(), args).await,
        Command::Export(what) => launcher::export(cli.config.as_deref(), what).await,
        Command::Watch(args) => crate::watch::command(cli.config.as_deref(), args).await,
        Command::Plan(args) => crate::plan::command(cli.config.as_deref(), args).await,
        Command::Defs(args) => crate::defs::command(cli.config.as_deref(), args),
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
        Command::Report {
            project,
            days,
            out,
            connection,
            env,
        } => {
            let args = crate::report::ReportArgs {
                project,
                days,
                out,
                connection,
                env,
            };
            crate::report::command(cli.config.as_deref(), args).await
        }
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
    exec::compile(host).await.map_err(|e| {
        eprintln!("error: {e}");
        2
    })
}

async fn check(config: Option<&Path>, script: &Path, env: Option<&str>) -> u8 {
    let config = match load_config(config, Some(script), env) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let host = Host::new(Mode::Check, config, script, io(CancellationToken::new()));
    match load_project(host).await {
        Ok(p) => {
            if let Err(e) = crate::notify::NotifySpec::from_meta(&p.meta.extra) {
                eprintln!("error: {}: {e}", script.display());
                return 2;
            }
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
    let params = match exec::parse_params(&args.params) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let cancel = CancellationToken::new();
    let selection = runner::Selection {
        tasks: args.tasks.clone(),
        with_deps: args.with_deps,
    };
    let (project, selected) = match exec::prepare(
        config,
        &args.script,
        args.env.as_deref(),
        &selection,
        cancel.clone(),
        if args.dry_run {
            crate::runmode::RunMode::Dry
        } else {
            crate::runmode::RunMode::Write
        },
    )
    .await
    {
        Ok(p) => p,
        Err(code) => return code,
    };
    crate::notify::set_cli_switch(args.notify_switch());
    let run = exec::new_run(
        &project,
        exec::RunRequest {
            load_type,
            window: None,
            params,
            dry_run: args.dry_run,
        },
    );
    let log = exec::open_log(
        &project,
        &run.file_stamp(),
        run.dry_run,
        exec::LogTo::Process,
    );

    // Ctrl-C: stop launching tasks, cancel running loads (they roll back), record failures.
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("Interrupted: cancelling the run (loads in progress roll back).");
            on_signal.cancel();
        }
    });
    let jobs = args.jobs.unwrap_or_else(exec::default_jobs);
    let report = exec::run_tasks(&project, &run, selected, jobs).await;
    if let Some(p) = &log.path {
        tracing::info!("Log: {}", p.display());
    }
    exec::finish(
        &project,
        &run,
        &report,
        log.path.as_deref(),
        args.notify_switch(),
    )
    .await;
    if report.succeeded() {
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
        let db = crate::connectors::open(&conn, &url, &config.open_options())?;
        db.audit()?.history(
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
