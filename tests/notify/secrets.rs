//! Passwords never shown: a PostgreSQL role and a MariaDB user get awkward passwords (every
//! character with a meaning in a URL, percent-encoded and not), and the real commands run with
//! them in working and failing connection URLs. Every output is searched for every password:
//! console (with -v), log files, the audit table, `etl report`, notification mails, `etl plan`
//! and `etl runs`.

use std::process::Command;

use crate::common::{MyTestDb, PgTestDb};
use crate::smtp::{free_port, SmtpServer};
use crate::support::Sandbox;

/// Each holds distinctive runs of letters and digits between the awkward characters, so a
/// leak of any piece is found. No `'` or `\`: they are written into SQL literals below.
const PASSWORDS: &[&str] = &[
    "Kx7Qa/Zp4Wr?Mn8Ts",
    "Hb3Jc@Vd6Lf#Ng2Pk",
    "Rq5Sw%Ty9Ue&Io1Op:Yh6Ez",
    "Ga4Hs:Jd7Kf%41Lg0Ba@Wc3/Xv",
];

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Whether `%XX` escapes in the raw password would change it (then only its encoded form is
/// the password).
fn decodes_to_itself(pw: &str) -> bool {
    !pw.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

/// What a leak could show: the password, its encoded form, and each run of 4+ letters/digits.
fn pieces(pw: &str) -> Vec<String> {
    let mut v: Vec<String> = pw
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| p.len() >= 4)
        .map(str::to_string)
        .collect();
    v.push(pw.to_string());
    v.push(encode(pw));
    v
}

/// `scheme://USERINFO@HOST:PORT/DB` from a harness URL (`scheme://admin@host:port/db`).
fn url_as(base: &str, userinfo: &str, port: Option<u16>, query: &str) -> String {
    let (scheme, rest) = base.split_once("://").expect("a URL");
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let (hostport, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = path.split('?').next().unwrap_or_default();
    let hostport = match port {
        Some(p) => format!(
            "{}:{p}",
            hostport.rsplit_once(':').map_or(hostport, |(h, _)| h)
        ),
        None => hostport.to_string(),
    };
    format!("{scheme}://{userinfo}@{hostport}/{path}{query}")
}

/// The role and user exist only for this test; dropped (with what they own) at the end.
struct Accounts<'a> {
    pg: &'a PgTestDb,
    my: &'a MyTestDb,
    name: String,
}

impl Accounts<'_> {
    fn set_password(&self, pw: &str) {
        self.pg
            .execute(&format!("ALTER ROLE \"{}\" PASSWORD '{pw}'", self.name));
        for host in ["%", "localhost"] {
            self.my.execute(&format!(
                "ALTER USER '{}'@'{host}' IDENTIFIED BY '{pw}'",
                self.name
            ));
        }
    }
}

impl Drop for Accounts<'_> {
    fn drop(&mut self) {
        let _ = self.pg.try_query(&format!(
            "DROP OWNED BY \"{0}\"; DROP ROLE IF EXISTS \"{0}\"",
            self.name
        ));
        for host in ["%", "localhost"] {
            let _ = self
                .my
                .try_query(&format!("DROP USER IF EXISTS '{}'@'{host}'", self.name));
        }
    }
}

#[test]
fn no_output_of_any_command_shows_a_password() {
    let pg = PgTestDb::new("secret_urls");
    let my = MyTestDb::new("secret_urls");
    let name = format!("etl_pw_{}", &pg.name()[pg.name().len() - 10..]);
    pg.execute(&format!(
        "CREATE ROLE \"{name}\" LOGIN PASSWORD 'unused';
         GRANT ALL ON DATABASE \"{db}\" TO \"{name}\";
         CREATE TABLE public.items (id int PRIMARY KEY, label text);
         INSERT INTO public.items VALUES (1, 'one'), (2, 'two');
         ALTER TABLE public.items OWNER TO \"{name}\";",
        db = pg.name()
    ));
    my.execute(
        "CREATE TABLE items (id int PRIMARY KEY, label text);
         INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three');",
    );
    for host in ["%", "localhost"] {
        my.execute(&format!(
            "CREATE USER '{name}'@'{host}' IDENTIFIED BY 'unused';
             GRANT ALL ON `{db}`.* TO '{name}'@'{host}';",
            db = my.name()
        ));
    }
    let accounts = Accounts {
        pg: &pg,
        my: &my,
        name: name.clone(),
    };
    let server = SmtpServer::start();
    let s = Sandbox::with_project("secret_urls");
    s.write(
        "etl.toml",
        format!(
            "[env.dev.connections]\n\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
             from = \"etl <etl@example.com>\"\ntimeout = 15\nretries = 2\nretry_delay = 0.1\n",
            server.port
        ),
    );
    let closed = free_port();
    let mut outputs: Vec<(String, String)> = Vec::new();
    let mut run = |label: &str, env: &[(&str, &str)], args: &[&str]| -> Option<i32> {
        let mut cmd: Command = s.etl(args).command();
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run etl");
        outputs.push((
            format!("{label}: etl {}", args.join(" ")),
            format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ));
        out.status.code()
    };

    let script = "projects/secret_urls/project.rhai";
    for (k, pw) in PASSWORDS.iter().enumerate() {
        accounts.set_password(pw);
        let userinfo = if decodes_to_itself(pw) {
            format!("{name}:{pw}")
        } else {
            format!("{name}:{}", encode(pw))
        };
        let encoded = format!("{name}:{}", encode(pw));
        let param = format!("?password={}", encode(pw));
        let cases = [
            (
                "working",
                url_as(pg.url(), &userinfo, None, ""),
                url_as(pg.url(), &name, None, &param),
                url_as(my.url(), &userinfo, None, ""),
                Some(0),
            ),
            (
                "bad sslmode",
                url_as(pg.url(), &encoded, None, ""),
                if k % 2 == 0 {
                    url_as(pg.url(), &userinfo, None, "?sslmode=bogus")
                } else {
                    let q = format!("?sslpassword={0}&password={0}&sslmode=require", encode(pw));
                    url_as(pg.url(), &name, None, &q)
                },
                url_as(my.url(), &userinfo, None, "?ssl-mode=bogus"),
                Some(1),
            ),
            (
                "wrong port",
                url_as(pg.url(), &userinfo, Some(closed), ""),
                url_as(pg.url(), &userinfo, Some(closed), ""),
                url_as(my.url(), &userinfo, Some(closed), ""),
                Some(1),
            ),
        ];
        for (case, dw, pgsrc, mysrc, status) in &cases {
            let env = [
                ("ETL_CONN_WAREHOUSE", dw.as_str()),
                ("ETL_CONN_PGSRC", pgsrc.as_str()),
                ("ETL_CONN_MYSRC", mysrc.as_str()),
            ];
            let label = format!("password {k}, {case}");
            assert_eq!(
                run(&label, &env, &["-v", "exec", script]),
                *status,
                "{label}:\n{}",
                outputs.last().unwrap().1
            );
            run(&label, &env, &["-v", "plan", script]);
            run(&label, &env, &["-v", "runs", "--limit", "100"]);
            run(
                &label,
                &env,
                &["-v", "report", "--out", &format!("report-{k}-{case}.html")],
            );
        }
    }

    // The runs did what they should, so the search below is not vacuous.
    let working = &outputs
        .iter()
        .find(|(l, _)| l.starts_with("password 0, working: etl -v exec"))
        .expect("a working run")
        .1;
    assert!(working.contains("Run succeeded"), "{working}");
    assert_eq!(
        pg.scalar("SELECT count(*) FROM app.my_items").as_deref(),
        Some("3")
    );
    let all: String = outputs.iter().map(|(_, o)| o.as_str()).collect();
    assert!(all.contains("sslmode 'bogus'"), "{all}");
    assert!(all.contains("ssl-mode 'bogus'"), "{all}");
    assert!(all.contains("client certificates (sslpassword)"), "{all}");
    assert!(all.contains(&format!("cannot connect to {name}@")), "{all}");

    for f in s.files_in("metadata/logs/secret_urls") {
        let text = s.read(&format!("metadata/logs/secret_urls/{f}"));
        outputs.push((format!("log file {f}"), text));
    }
    for f in s.files_in(".") {
        if f.starts_with("report-") {
            let text = s.read(&f);
            outputs.push((format!("report {f}"), text));
        }
    }
    let audit: Vec<String> = crate::common::text(&pg, "SELECT t::text FROM etl.etl_runs t");
    assert!(
        audit.iter().any(|r| r.contains("ssl-mode 'bogus'")),
        "failed records keep the error: {audit:#?}"
    );
    outputs.push(("etl.etl_runs".into(), audit.join("\n")));
    let mails = server.messages();
    assert_eq!(
        mails.len(),
        PASSWORDS.len() * 3,
        "one mail per run: {mails:#?}"
    );
    for (i, m) in mails.iter().enumerate() {
        let attached: String = m
            .attachments
            .iter()
            .map(|(n, c)| format!("{n}\n{c}\n"))
            .collect();
        outputs.push((
            format!("mail {i}"),
            format!("{}\n{}\n{}\n{attached}", m.subject, m.text, m.html),
        ));
    }

    for (label, text) in &outputs {
        for pw in PASSWORDS {
            for piece in pieces(pw) {
                assert!(
                    !text.contains(&piece),
                    "{label} shows {piece:?} of the password {pw:?}:\n{text}"
                );
            }
        }
    }
    drop(accounts);
}
