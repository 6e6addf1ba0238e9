//! The arguments of `etl report`.

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ReportArgs {
    /// Only this project
    #[arg(long)]
    pub project: Option<String>,
    /// Days of history shown
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// The file to write (default: METADATA/report.html; `-` for standard output)
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Connection that holds the audit table
    #[arg(long, default_value = "warehouse")]
    pub connection: String,
    #[arg(long, env = "ETL_ENV")]
    pub env: Option<String>,
}
