//! `etl launcher` writes a per-project launcher script (calling the generic
//! `launchers/run.sh` / `run.bat` with the project's defaults); `etl export cron` and
//! `etl export schtasks` print how to run a project on its `schedule` with the system's own
//! scheduler, through those launchers; `etl export airflow` writes Airflow DAG files.

mod airflow;
mod airflow_command;
mod args;
mod export;
mod export_command;
mod quote;
mod target;
mod write;

pub use airflow::Mode as AirflowMode;
pub use args::{AirflowArgs, ExportArgs, ExportCommand, LauncherArgs, Os};
pub use export::{cron_line, schtasks_commands};
pub use export_command::export;
pub use target::{resolve_script, Target};
pub use write::command;
