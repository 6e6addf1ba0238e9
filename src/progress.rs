//! Progress of long loads: a live bar (rows, rows/s) on a terminal, a log line every
//! `LOG_EVERY` otherwise, so cron logs still show that a big load is moving.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

const LOG_EVERY: Duration = Duration::from_secs(10);
/// Loads shorter than this show nothing: a bar that flashes for 50 ms is noise.
const SHOW_AFTER: Duration = Duration::from_millis(800);

static QUIET: AtomicBool = AtomicBool::new(false);

/// `-q` turns bars off everywhere.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub struct Progress {
    label: String,
    started: Instant,
    last_log: Instant,
    bar: Option<ProgressBar>,
    terminal: bool,
}

impl Progress {
    pub fn new(label: &str) -> Progress {
        let now = Instant::now();
        Progress {
            label: label.to_string(),
            started: now,
            last_log: now,
            bar: None,
            terminal: std::io::stderr().is_terminal() && !QUIET.load(Ordering::Relaxed),
        }
    }

    pub fn update(&mut self, rows: u64) {
        let elapsed = self.started.elapsed();
        if elapsed < SHOW_AFTER {
            return;
        }
        let rate = rows as f64 / elapsed.as_secs_f64().max(1e-9);
        if self.terminal {
            let bar = self.bar.get_or_insert_with(|| {
                let b = ProgressBar::new_spinner();
                b.set_style(
                    ProgressStyle::with_template("{spinner} {prefix}: {msg}")
                        .expect("valid template"),
                );
                b.set_prefix(self.label.clone());
                b.enable_steady_tick(Duration::from_millis(200));
                b
            });
            bar.set_message(format!("{rows} rows, {rate:.0} rows/s"));
        } else if self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            tracing::info!(table = %self.label, rows, "Loading: {rows} rows so far, {rate:.0} rows/s.");
        }
    }

    pub fn finish(&mut self, _rows: u64) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
