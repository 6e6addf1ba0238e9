//! The inputs of `etl watch`: file events (notify, on its own thread, debounced on
//! another), the keyboard (`r` + Enter: full re-run, `q` + Enter: quit) and Ctrl-C, all
//! turned into [`Trigger`]s on one channel the session reads.

use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant, SystemTime};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

pub enum Trigger {
    /// Paths that saw events, and when the first of them arrived.
    Files {
        paths: Vec<PathBuf>,
        first: SystemTime,
    },
    /// `r` + Enter.
    Full,
    /// `q` + Enter.
    Quit,
}

/// Watches folders and reports changed paths in debounced batches: a batch closes once no
/// event came for `quiet` (editors save by rename and write several times), or after
/// `max_wait` of continuous events.
pub struct FileWatcher {
    watcher: RecommendedWatcher,
    watched: Vec<(PathBuf, RecursiveMode)>,
}

impl FileWatcher {
    /// Starts the notify watcher and the debounce thread; paths under `ignore` (the
    /// metadata folder: logs, outputs, the warehouse) never wake anything.
    pub fn start(
        out: UnboundedSender<Trigger>,
        quiet: Duration,
        ignore: Vec<PathBuf>,
    ) -> notify::Result<FileWatcher> {
        let (tx, rx) = std_mpsc::channel::<(Vec<PathBuf>, SystemTime)>();
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let Ok(event) = res else { return };
            if matches!(event.kind, notify::EventKind::Access(_)) {
                return;
            }
            let paths: Vec<PathBuf> = event
                .paths
                .into_iter()
                .filter(|p| !ignore.iter().any(|i| p.starts_with(i)))
                .collect();
            if !paths.is_empty() {
                let _ = tx.send((paths, SystemTime::now()));
            }
        })?;
        std::thread::Builder::new()
            .name("etl-watch-debounce".into())
            .spawn(move || debounce(rx, out, quiet, quiet * 10))
            .map_err(|e| notify::Error::generic(&e.to_string()))?;
        Ok(FileWatcher {
            watcher,
            watched: Vec::new(),
        })
    }

    /// Watches `dir` (once). Watching folders rather than files keeps seeing a file that an
    /// editor replaces by renaming a new one over it.
    pub fn watch(&mut self, dir: &Path, mode: RecursiveMode) {
        if !dir.is_dir() {
            return;
        }
        let covered = self
            .watched
            .iter()
            .any(|(d, m)| d == dir || (*m == RecursiveMode::Recursive && dir.starts_with(d)));
        if covered {
            return;
        }
        match self.watcher.watch(dir, mode) {
            Ok(()) => self.watched.push((dir.to_path_buf(), mode)),
            Err(e) => tracing::warn!("Cannot watch {}: {e}", dir.display()),
        }
    }
}

fn debounce(
    rx: std_mpsc::Receiver<(Vec<PathBuf>, SystemTime)>,
    out: UnboundedSender<Trigger>,
    quiet: Duration,
    max_wait: Duration,
) {
    while let Ok((mut paths, first)) = rx.recv() {
        let opened = Instant::now();
        loop {
            let left = max_wait.saturating_sub(opened.elapsed());
            if left.is_zero() {
                break;
            }
            match rx.recv_timeout(quiet.min(left)) {
                Ok((more, _)) => paths.extend(more),
                Err(std_mpsc::RecvTimeoutError::Timeout) => break,
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        paths.sort();
        paths.dedup();
        if out.send(Trigger::Files { paths, first }).is_err() {
            return;
        }
    }
}

/// Reads commands from standard input: `r` re-runs everything, `q` quits. A closed or
/// absent standard input just ends this thread.
pub fn read_keys(out: UnboundedSender<Trigger>) {
    let _ = std::thread::Builder::new()
        .name("etl-watch-keys".into())
        .spawn(move || {
            let mut line = String::new();
            loop {
                line.clear();
                match std::io::stdin().read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let trigger = match line.trim() {
                    "r" | "R" => Trigger::Full,
                    "q" | "Q" => Trigger::Quit,
                    "" => continue,
                    other => {
                        crate::stdout::note(format_args!("watch: '{other}' is not a command: r + Enter re-runs every task, q + Enter quits"));
                        continue;
                    }
                };
                if out.send(trigger).is_err() {
                    return;
                }
            }
        });
}
