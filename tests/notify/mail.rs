//! Run notifications and `send_email`, sent to a real SMTP server on loopback.

use std::io::Read;
use std::net::TcpListener;

use crate::smtp::{free_port, SmtpServer};
use crate::support::Sandbox;

/// etl.toml with the SQLite warehouse, `[smtp]` on `port` (plain, fast retries) and `extra`.
/// A generous timeout: on a loaded machine the Python server can be slow to answer, and a
/// timed-out attempt that the server did complete would be sent again.
fn config(port: u16, extra: &str) -> String {
    format!(
        "[env.dev.connections]\nwarehouse = \"sqlite://metadata/warehouse.db\"\n\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"etl <etl@example.com>\"\n\
         timeout = 15\nretries = 2\nretry_delay = 0.1\n{extra}"
    )
}

fn sandbox(project: &str, port: u16, extra: &str) -> Sandbox {
    let s = Sandbox::with_project(project);
    s.write("etl.toml", config(port, extra));
    s
}

#[test]
fn a_successful_run_mails_its_summary_with_the_export_attached() {
    let server = SmtpServer::start();
    let s = sandbox("notify_shop", server.port, "");
    s.exec("notify_shop")
        .stderr_contains("Notification (success) sent to data@example.com, ops@example.com")
        .run();
    let mails = server.messages();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let m = &mails[0];
    assert!(
        m.subject
            .starts_with("[etl] notify_shop (dev): succeeded in "),
        "{}",
        m.subject
    );
    assert_eq!(m.to, ["data@example.com", "ops@example.com"]);
    assert!(m.from.contains("etl@example.com"), "{}", m.from);
    // The summary: every task with its status, rows and the table and watermark it loaded.
    let orders = m
        .text
        .lines()
        .find(|l| l.starts_with("orders "))
        .unwrap_or_else(|| panic!("no orders row:\n{}", m.text));
    for cell in ["success", " 3 ", "orders", "2025-01-03 10:00:00"] {
        assert!(orders.contains(cell), "{cell:?} not in {orders:?}");
    }
    for task in ["export ", "check "] {
        assert!(
            m.text
                .lines()
                .any(|l| l.starts_with(task) && l.contains("success")),
            "{}",
            m.text
        );
    }
    assert!(
        m.text.contains("version 2.1.0") && m.text.contains("load type F"),
        "{}",
        m.text
    );
    assert!(
        !m.text.contains("lines of the log"),
        "the log's tail is for failures: {}",
        m.text
    );
    let log = s.files_in("metadata/logs/notify_shop");
    assert!(
        m.text.contains(&format!(
            "Log file: {}",
            s.path("metadata/logs/notify_shop").join(&log[0]).display()
        )),
        "{}",
        m.text
    );
    assert!(
        m.html.contains("<table") && m.html.contains("notify_shop"),
        "{}",
        m.html
    );
    assert!(m.html.contains(">2025-01-03 10:00:00<"), "{}", m.html);

    assert_eq!(m.attachments.len(), 1, "{:?}", m.attachments);
    let (name, content) = &m.attachments[0];
    assert!(
        name.starts_with("orders_export_") && name.ends_with(".csv"),
        "{name}"
    );
    assert!(
        content.starts_with("id,status,amount,updated_at\n") && content.contains("paid"),
        "{content}"
    );
    assert!(
        m.text.contains(&format!("Attached:\n  {name}")),
        "{}",
        m.text
    );
    // A notification that was sent leaves no audit record.
    assert!(!s.warehouse().audit().iter().any(|r| r.task == "notify"));
}

#[test]
fn a_failed_run_mails_the_error_with_its_position_and_the_log_tail() {
    let server = SmtpServer::start();
    let s = sandbox("notify_shop", server.port, "");
    s.exec("notify_shop")
        .args(&["--param", "fail=yes"])
        .status(1)
        .stderr_contains("Notification (failure) sent")
        .run();
    let mails = server.messages();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let m = &mails[0];
    assert!(
        m.subject.starts_with("[etl] notify_shop (dev): FAILED in "),
        "{}",
        m.subject
    );
    let at = "projects/notify_shop/project.rhai:19:12";
    assert!(
        m.text.contains(&format!(
            "Task 'check' failed:\n{at}: connection 'warehouse': no such table: missing_table"
        )),
        "{}",
        m.text
    );
    assert!(
        m.text
            .lines()
            .any(|l| l.starts_with("check ") && l.contains("failed")),
        "{}",
        m.text
    );
    let tail = m
        .text
        .split("lines of the log:\n")
        .nth(1)
        .expect("a log tail");
    assert!(
        tail.contains("checking orders") && tail.contains("Run failed: check did not succeed"),
        "{tail}"
    );
    assert!(tail.lines().count() <= 60, "about the last 50 lines");
    assert!(
        m.html.contains(at) && m.html.contains("no such table: missing_table"),
        "{}",
        m.html
    );
    assert_eq!(
        m.attachments.len(),
        1,
        "the export succeeded and is attached"
    );
    assert!(m.text.contains("Log file: "), "{}", m.text);
}

#[test]
fn no_mail_when_on_excludes_the_outcome() {
    let server = SmtpServer::start();
    let s = sandbox("notify_on_failure", server.port, "");
    s.exec("notify_on_failure")
        .stderr_lacks("Notification")
        .run();
    assert!(
        server.messages().is_empty(),
        "on: [\"failure\"] and the run succeeded"
    );

    s.exec("notify_on_failure")
        .args(&["--param", "fail=yes"])
        .status(1)
        .run();
    let mails = server.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["oncall@example.com"]);
    assert!(
        mails[0]
            .subject
            .starts_with("[etl] notify_on_failure (dev): FAILED"),
        "{}",
        mails[0].subject
    );
    assert!(
        mails[0]
            .text
            .contains("projects/notify_on_failure/project.rhai:9:9: the upstream file is missing"),
        "{}",
        mails[0].text
    );
    assert!(mails[0].attachments.is_empty(), "attach is off");
}

#[test]
fn the_environment_and_the_command_line_override_the_project() {
    let server = SmtpServer::start();
    // `notify = false` in the environment: nothing, unless --notify.
    let s = Sandbox::with_project("notify_shop");
    s.write(
        "etl.toml",
        config(server.port, "").replace(
            "[env.dev.connections]",
            "[env.dev]\nnotify = false\n\n[env.dev.connections]",
        ),
    );
    s.exec("notify_shop").stderr_lacks("Notification").run();
    assert!(server.messages().is_empty());
    s.exec("notify_shop").arg("--notify").run();
    assert_eq!(server.messages().len(), 1);

    // Other recipients and outcomes for the environment; --no-notify silences the run.
    let s = sandbox(
        "notify_shop",
        server.port,
        "\n[env.dev.notify]\nemail = [\"dev@example.com\"]\non = [\"failure\"]\nattach = false\n",
    );
    s.exec("notify_shop").run();
    assert_eq!(
        server.messages().len(),
        1,
        "on = failure: the success sent nothing"
    );
    s.exec("notify_shop")
        .args(&["--param", "fail=yes", "--no-notify"])
        .status(1)
        .run();
    assert_eq!(server.messages().len(), 1, "--no-notify");
    s.exec("notify_shop")
        .args(&["--param", "fail=yes"])
        .status(1)
        .run();
    let mails = server.messages();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].to, ["dev@example.com"]);
    assert!(
        mails[1].attachments.is_empty(),
        "attach = false in the environment"
    );

    // A dry run sends nothing.
    let s = sandbox("notify_shop", server.port, "");
    s.exec("notify_shop")
        .arg("--dry-run")
        .stderr_contains("Dry run: no notification sent")
        .run();
    assert_eq!(server.messages().len(), 2);
}

#[test]
fn files_over_the_size_limit_are_listed_not_attached() {
    let server = SmtpServer::start();
    let s = sandbox("notify_shop", server.port, "attach_max_bytes = 20\n");
    s.exec("notify_shop").run();
    let mails = server.messages();
    let m = &mails[0];
    assert!(m.attachments.is_empty(), "{:?}", m.attachments);
    let listed = m
        .text
        .split("Not attached (over the 20 B limit")
        .nth(1)
        .unwrap_or_else(|| panic!("{}", m.text));
    assert!(
        listed.contains("orders_export_") && listed.contains(".csv ("),
        "{listed}"
    );
}

#[test]
fn send_email_sends_text_html_and_a_project_relative_attachment() {
    let server = SmtpServer::start();
    let s = sandbox("notify_send_email", server.port, "");
    s.exec("notify_send_email")
        .args(&["--param", "month=2025-02"])
        .stderr_contains("Sent 'Monthly figures 2025-02' to finance@example.com")
        .stderr_contains("sent: true")
        .run();
    let mails = server.messages();
    assert_eq!(
        mails.len(),
        1,
        "send_email only: the project has no notify option"
    );
    let m = &mails[0];
    assert_eq!(m.subject, "Monthly figures 2025-02");
    assert_eq!(m.to, ["finance@example.com"]);
    assert_eq!(m.text.trim(), "The figures are attached.");
    assert!(
        m.html.contains("<p>The <b>figures</b> are attached.</p>"),
        "{}",
        m.html
    );
    assert_eq!(
        m.attachments,
        [(
            "figures.csv".to_string(),
            "month,revenue\n2025-01,1200.50\n2025-02,980.00\n".to_string()
        )]
    );

    s.exec("notify_send_email")
        .args(&["--param", "month=2025-03", "--no-notify"])
        .stderr_contains("sent: false")
        .run();
    assert_eq!(
        server.messages().len(),
        1,
        "--no-notify: send_email sends nothing"
    );
}

#[test]
fn send_email_to_a_server_that_is_down_fails_its_task_at_the_call() {
    let s = sandbox("notify_send_email", free_port(), "");
    let ran = s.exec("notify_send_email").status(1).run();
    assert!(
        ran.stderr.contains(
            "projects/notify_send_email/project.rhai:5:16: send_email(): 'Monthly figures "
        ) && ran.stderr.contains("was not sent"),
        "{}",
        ran.stderr
    );
}

fn assert_notify_failure_recorded(s: &Sandbox, project: &str, expect: &str) {
    let audit = s.warehouse().audit();
    let notify: Vec<_> = audit.iter().filter(|r| r.task == "notify").collect();
    assert_eq!(notify.len(), 1, "{audit:#?}");
    assert_eq!(notify[0].status, "failed");
    assert_eq!(notify[0].project, project);
    let error = notify[0].error_message.as_deref().unwrap_or_default();
    assert!(
        error.contains("notification to")
            && error.contains("was not sent")
            && error.contains(expect),
        "{error}"
    );
    // The run's own records are untouched: the loads succeeded.
    assert!(
        audit
            .iter()
            .filter(|r| r.task != "notify")
            .all(|r| r.status == "success"),
        "{audit:#?}"
    );
    let log = s.logs(project);
    assert!(log.contains("WARN Notification not sent"), "{log}");
}

#[test]
fn a_mail_server_that_is_down_does_not_fail_the_run() {
    // Nothing listens on the port: connections are refused at once, retried twice.
    let s = sandbox("notify_shop", free_port(), "");
    s.exec("notify_shop").stderr_contains("Run succeeded").run();
    assert_notify_failure_recorded(&s, "notify_shop", "after 3 attempts");
    let log = s.logs("notify_shop");
    assert!(
        log.contains("(attempt 1 of 3)") && log.contains("(attempt 2 of 3)"),
        "{log}"
    );
}

#[test]
fn a_mail_server_that_refuses_the_message_does_not_fail_the_run() {
    let server = SmtpServer::start_refusing();
    let s = sandbox("notify_shop", server.port, "");
    s.exec("notify_shop").stderr_contains("Run succeeded").run();
    // A permanent refusal is not retried.
    assert_notify_failure_recorded(&s, "notify_shop", "the server refused the message");
    assert!(!s.logs("notify_shop").contains("attempt 1 of 3"));
}

#[test]
fn a_mail_server_that_never_answers_does_not_hang_the_run() {
    // Accepts connections and says nothing: only the timeouts end the attempts.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 64];
            let _ = conn.set_read_timeout(Some(std::time::Duration::from_millis(10)));
            let _ = conn.read(&mut buf);
            held.push(conn);
            if held.len() > 10 {
                break;
            }
        }
    });
    let s = Sandbox::with_project("notify_shop");
    s.write(
        "etl.toml",
        config(port, "").replace("timeout = 15\nretries = 2", "timeout = 0.3\nretries = 1"),
    );
    s.exec("notify_shop").stderr_contains("Run succeeded").run();
    assert_notify_failure_recorded(&s, "notify_shop", "after 2 attempts");
}

#[test]
fn the_smtp_password_comes_from_the_environment_and_is_never_shown() {
    // aiosmtpd offers no AUTH over a plain connection, so the login fails: the password
    // must appear in no output, log or audit record.
    let server = SmtpServer::start();
    let s = sandbox(
        "notify_shop",
        server.port,
        "user = \"etl\"\npassword_env = \"SHOP_SMTP_PASSWORD\"\n",
    );
    let secret = "s3cret-Pa55word";
    let ran = s
        .exec("notify_shop")
        .env("SHOP_SMTP_PASSWORD", secret)
        .stderr_contains("Notification not sent")
        .run();
    assert!(!ran.stderr.contains(secret) && !ran.stdout.contains(secret));
    assert!(!s.logs("notify_shop").contains(secret));
    let audit = s.warehouse().audit();
    assert!(audit.iter().all(|r| !r
        .error_message
        .as_deref()
        .unwrap_or_default()
        .contains(secret)));

    // Without the variable: a clear message naming it, recorded like any other failure.
    let s = sandbox(
        "notify_shop",
        server.port,
        "user = \"etl\"\npassword_env = \"SHOP_SMTP_PASSWORD\"\n",
    );
    s.exec("notify_shop").run();
    assert_notify_failure_recorded(
        &s,
        "notify_shop",
        "the password variable SHOP_SMTP_PASSWORD is not",
    );
}

#[test]
fn bad_settings_are_reported_before_anything_runs() {
    let s = sandbox("notify_shop", 25, "");
    s.write(
        "etl.toml",
        config(25, "").replace("tls = \"none\"", "tls = \"ssl\""),
    );
    s.exec("notify_shop")
        .status(2)
        .stderr_contains("unknown variant `ssl`")
        .run();

    let s = sandbox("notify_shop", 25, "\n[env.dev.notify]\nmail = []\n");
    s.exec("notify_shop")
        .status(2)
        .stderr_contains("[env.dev] notify: unknown key 'mail'")
        .run();

    let s = sandbox("notify_shop", 25, "");
    s.write(
        "projects/bad_notify/project.rhai",
        "project(\"bad_notify\", #{ notify: #{ email: [\"a@example.com\"], on: [\"always\"] } });\ntask(\"t\", |run| 1);\n",
    );
    for cmd in ["check", "exec"] {
        s.etl(&[cmd, "projects/bad_notify/project.rhai"])
            .status(2)
            .stderr_contains("project() option 'notify': on: 'always' is not an outcome")
            .run();
    }
}

#[test]
fn starttls_with_the_servers_ca_delivers_and_an_unknown_ca_is_refused() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = crate::smtp::make_certificates(certs.path());
    let server = SmtpServer::start_starttls(&cert, &key);
    let tls = |extra: &str| {
        config(server.port, extra)
            .replace("host = \"127.0.0.1\"", "host = \"localhost\"")
            .replace("tls = \"none\"", "tls = \"starttls\"")
    };
    // The CA is not among the built-in roots: the certificate is refused, the run is not.
    let s = Sandbox::with_project("notify_shop");
    s.write("etl.toml", tls(""));
    s.exec("notify_shop").stderr_contains("Run succeeded").run();
    assert!(server.messages().is_empty());
    assert_notify_failure_recorded(&s, "notify_shop", "certificate");

    // With `ca_file` naming it, the message goes through the encrypted connection.
    let s = Sandbox::with_project("notify_shop");
    s.write(
        "etl.toml",
        tls(&format!("ca_file = \"{}\"\n", ca.display())),
    );
    s.exec("notify_shop")
        .stderr_contains("Notification (success) sent")
        .run();
    let mails = server.messages();
    assert_eq!(mails.len(), 1);
    assert!(mails[0]
        .subject
        .starts_with("[etl] notify_shop (dev): succeeded"));
}
