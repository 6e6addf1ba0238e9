//! Python tools the tests run for real (moto's S3 server, Airflow, emulators): each gets its own
//! virtual environment under `target/venvs/NAME`, created once and reused by later runs.
//!
//! A venv is ready when its `.etl-ready` marker lists exactly the requested packages; a half
//! finished install (a killed run) has no marker and is redone. Test binaries run in parallel,
//! so installs of one venv are serialised by a lock directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A ready virtual environment.
pub struct Venv {
    pub dir: PathBuf,
}

impl Venv {
    /// The venv's own `bin/NAME` (python, pip, airflow, moto_server, ...).
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }

    pub fn python(&self) -> PathBuf {
        self.bin("python")
    }
}

/// Creates (or reuses) `target/venvs/NAME` with `packages` installed by pip.
///
/// `Err` is the reason the tool is unavailable (no python3, no venv module, PyPI not reachable
/// and nothing cached); callers fail the test with it (PyPI answers on this machine kind), never pass it.
pub fn ensure(name: &str, packages: &[&str]) -> Result<Venv, String> {
    let root = venvs_root();
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let dir = root.join(name);
    let want = packages.join("\n");
    let marker = dir.join(".etl-ready");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == want) {
        return Ok(Venv { dir });
    }
    let _lock = Lock::take(&root.join(format!("{name}.lock")))?;
    // Another process may have finished the install while this one waited for the lock.
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == want) {
        return Ok(Venv { dir });
    }
    let _ = std::fs::remove_dir_all(&dir);
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&dir),
        "python3 -m venv (install python3 and python3-venv)",
    )?;
    let venv = Venv { dir };
    run(
        Command::new(venv.python())
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(packages),
        &format!(
            "pip install {} (PyPI must be reachable once; the venv is cached after)",
            packages.join(" ")
        ),
    )?;
    std::fs::write(&marker, want).map_err(|e| format!("{}: {e}", marker.display()))?;
    Ok(venv)
}

/// `target/venvs`, beside the build output (CARGO_TARGET_DIR honoured).
pub fn venvs_root() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("venvs")
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = err.lines().rev().take(8).collect();
    Err(format!(
        "{what} failed ({}):\n{}",
        out.status,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))
}

/// A lock directory (mkdir is atomic); one left by a killed process is taken over after 15 min.
struct Lock(PathBuf);

impl Lock {
    fn take(path: &Path) -> Result<Lock, String> {
        let start = Instant::now();
        loop {
            match std::fs::create_dir(path) {
                Ok(()) => return Ok(Lock(path.to_path_buf())),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > Duration::from_secs(900));
                    if stale {
                        let _ = std::fs::remove_dir(path);
                        continue;
                    }
                    if start.elapsed() > Duration::from_secs(1200) {
                        return Err(format!("waited 20 min for {}", path.display()));
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// A free loopback port for a server the test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
