//! A real SMTP server on loopback for the tests: aiosmtpd (Python), started on a free port
//! and stopped when dropped. It stores what it receives in a Maildir, which Python's own
//! `email` package reads back into JSON (subject, recipients, decoded parts, attachments).
//!
//! aiosmtpd is installed with `python3 -m pip install --user aiosmtpd` when it is missing.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// Installs aiosmtpd once per test process, or panics saying how to.
fn ensure_aiosmtpd() {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let importable = || {
            Command::new("python3")
                .args(["-c", "import aiosmtpd"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if importable() {
            return Ok(());
        }
        let attempts: [&[&str]; 2] = [
            &["-m", "pip", "install", "--user", "--quiet", "aiosmtpd"],
            // Debian's python refuses --user installs unless told otherwise (PEP 668).
            &[
                "-m",
                "pip",
                "install",
                "--user",
                "--quiet",
                "--break-system-packages",
                "aiosmtpd",
            ],
        ];
        let mut errors = String::new();
        for args in attempts {
            match Command::new("python3").args(args).output() {
                Ok(out) if out.status.success() && importable() => return Ok(()),
                Ok(out) => errors.push_str(&String::from_utf8_lossy(&out.stderr)),
                Err(e) => errors.push_str(&format!("cannot run python3: {e}\n")),
            }
        }
        Err(errors)
    });
    if let Err(e) = ready {
        panic!(
            "these tests need a loopback SMTP server: python3 with aiosmtpd \
             (`python3 -m pip install --user aiosmtpd`), and installing it failed:\n{e}"
        );
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

enum Mode {
    Accept,
    Refuse,
    Starttls(PathBuf, PathBuf),
}

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    dir: TempDir,
}

/// A handler that refuses every recipient with a permanent error.
const REFUSE_HANDLER: &str = "\
class Refuse:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return '550 5.7.1 relaying denied'
";

impl SmtpServer {
    /// A server that accepts everything into a Maildir.
    pub fn start() -> SmtpServer {
        SmtpServer::spawn(Mode::Accept)
    }

    /// A server that answers every recipient with `550`.
    pub fn start_refusing() -> SmtpServer {
        SmtpServer::spawn(Mode::Refuse)
    }

    /// A server that requires STARTTLS with this certificate and key (PEM files).
    pub fn start_starttls(cert: &Path, key: &Path) -> SmtpServer {
        SmtpServer::spawn(Mode::Starttls(cert.to_path_buf(), key.to_path_buf()))
    }

    fn spawn(mode: Mode) -> SmtpServer {
        ensure_aiosmtpd();
        let dir = tempfile::Builder::new()
            .prefix("etl-smtp-")
            .tempdir()
            .expect("temp dir");
        // aiosmtpd's Mailbox creates the Maildir (tmp/new/cur) only when the folder is new.
        let maildir = dir.path().join("maildir");
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new("python3");
            cmd.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(
                    std::fs::File::create(dir.path().join("server.log")).expect("log"),
                ));
            if let Mode::Starttls(cert, key) = &mode {
                cmd.arg("--tlscert").arg(cert).arg("--tlskey").arg(key);
            }
            if let Mode::Refuse = mode {
                std::fs::write(dir.path().join("refuse.py"), REFUSE_HANDLER).expect("handler");
                cmd.env("PYTHONPATH", dir.path())
                    .args(["-c", "refuse.Refuse"]);
            } else {
                cmd.args(["-c", "aiosmtpd.handlers.Mailbox"]).arg(&maildir);
            }
            let mut child = cmd.spawn().expect("start python3 -m aiosmtpd");
            if wait_listening(port, &mut child) {
                return SmtpServer { child, port, dir };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "aiosmtpd did not start; its log:\n{}",
            std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
        );
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// Every message received, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        read_maildir(&self.maildir())
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls until the port accepts connections (true), or the server exits / 30 s pass (false).
fn wait_listening(port: u16, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A received message, decoded.
#[derive(Debug)]
pub struct Received {
    pub subject: String,
    pub from: String,
    pub to: Vec<String>,
    pub text: String,
    pub html: String,
    /// (file name, content as text)
    pub attachments: Vec<(String, String)>,
}

const PARSE: &str = r#"
import email, email.policy, json, os, re, sys
root = sys.argv[1]
names = []
for sub in ("new", "cur"):
    d = os.path.join(root, sub)
    if os.path.isdir(d):
        names += [os.path.join(d, n) for n in os.listdir(d)]
# In arrival order: Maildir names start `SECONDS.M<microseconds>P<pid>Q<counter>`, the
# microseconds not zero-padded, so the names themselves do not sort by time.
def arrival(path):
    n = os.path.basename(path)
    m = re.match(r"(\d+)\.M(\d+)P\d+Q(\d+)", n)
    return (int(m[1]), int(m[2]), int(m[3]), n) if m else (0, 0, 0, n)
out = []
for path in sorted(names, key=arrival):
    with open(path, "rb") as f:
        m = email.message_from_binary_file(f, policy=email.policy.default)
    def part(kind):
        p = m.get_body(preferencelist=(kind,))
        return p.get_content() if p is not None and p.get_content_type() == "text/" + kind else ""
    atts = []
    for a in m.iter_attachments():
        data = a.get_payload(decode=True) or b""
        atts.append([a.get_filename(), data.decode("utf-8", "replace")])
    out.append({
        "subject": str(m["subject"]),
        "from": str(m["from"]),
        "to": [str(x).strip() for x in str(m["to"]).split(",")],
        "text": part("plain"),
        "html": part("html"),
        "attachments": atts,
    })
print(json.dumps(out))
"#;

fn read_maildir(dir: &Path) -> Vec<Received> {
    if !dir.exists() {
        return Vec::new();
    }
    let out = Command::new("python3")
        .args(["-c", PARSE])
        .arg(dir)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "parsing the Maildir failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let s = |m: &Value, k: &str| m[k].as_str().unwrap_or_default().to_string();
    v.as_array()
        .expect("a list")
        .iter()
        .map(|m| Received {
            subject: s(m, "subject"),
            from: s(m, "from"),
            to: m["to"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect(),
            text: s(m, "text"),
            html: s(m, "html"),
            attachments: m["attachments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    (
                        a[0].as_str().unwrap_or_default().to_string(),
                        a[1].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
        })
        .collect()
}

/// A throwaway certificate authority and a server certificate for `localhost` signed by it,
/// made with the `openssl` command: (ca.pem, server.pem, server.key) in `dir`.
pub fn make_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the TLS test needs the openssl command");
        assert!(
            out.status.success(),
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=etl test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&csr);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext file");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}
