use super::{mask_url, percent_decode, percent_encode, Url};

/// Passwords with every character that has a meaning in a URL, written so that each piece
/// between two such characters is distinctive (a leak of any piece is found).
pub const AWKWARD: &[&str] = &[
    "SLa1/ASHb2",
    "QMc3?MARKd4",
    "ATe5@SIGNf6",
    "HSg7#TAGh8",
    "PCi9%zzPCj0",
    "PCk1%41PCl2",
    "AMm3&AMPn4",
    "COo5:LONp6",
    "ALLq7/?@#%&:=ALLr8",
    "EQs9=EQt0&password=EQu1",
];

/// The pieces of a password a leak would show: the whole and every run of letters and digits.
pub fn pieces(pw: &str) -> Vec<String> {
    let mut v: Vec<String> = pw
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| p.len() >= 4 && *p != "password")
        .map(str::to_string)
        .collect();
    v.push(pw.to_string());
    v.push(percent_encode(pw));
    v
}

fn assert_hidden(url: &str, pw: &str) {
    let masked = mask_url(url);
    for piece in pieces(pw) {
        assert!(
            !masked.contains(&piece),
            "{piece:?} of {pw:?} shows in {masked:?} (from {url:?})"
        );
    }
}

#[test]
fn masks_passwords_in_urls() {
    assert_eq!(
        mask_url("postgres://etl:s3cr%40t@db:5432/dw"),
        "postgres://etl:***@db:5432/dw"
    );
    assert_eq!(mask_url("mysql://root@db/shop"), "mysql://root@db/shop");
    assert_eq!(
        mask_url("postgres://db/dw?user=a&password=xyz&sslmode=require"),
        "postgres://db/dw?user=a&password=***&sslmode=require"
    );
    assert_eq!(mask_url("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
    assert_eq!(
        mask_url("host=h password=xyz user=u"),
        "host=h password=*** user=u"
    );
}

#[test]
fn an_unencoded_slash_or_question_mark_in_the_password_is_masked() {
    assert_eq!(
        mask_url("postgres://u:SL/ASH@127.0.0.1:5432/db?sslmode=bogus"),
        "postgres://u:***@127.0.0.1:5432/db?sslmode=bogus"
    );
    assert_eq!(
        mask_url("mysql://u:a?b/c@h/db?ssl-mode=required"),
        "mysql://u:***@h/db?ssl-mode=required"
    );
}

#[test]
fn every_password_parameter_is_masked_in_any_case_and_order() {
    assert_eq!(
        mask_url("postgres://h/db?sslpassword=x&password=SECRET&Password=S2&SSLPASSWORD=S3"),
        "postgres://h/db?sslpassword=***&password=***&Password=***&SSLPASSWORD=***"
    );
    // A value with an unencoded `&` leaves a segment that is no parameter: masked too.
    assert_eq!(
        mask_url("postgres://h/db?password=ab&cd&sslmode=disable"),
        "postgres://h/db?password=***&***&sslmode=disable"
    );
}

#[test]
fn awkward_passwords_are_read_back_exactly_and_never_shown() {
    for pw in AWKWARD {
        for url in [
            format!("postgres://etl:{pw}@127.0.0.1:5432/dw?sslmode=disable"),
            format!("mysql://etl:{pw}@127.0.0.1:3306/shop"),
            format!("postgres://etl:{}@127.0.0.1:5432/dw", percent_encode(pw)),
        ] {
            let u = Url::parse(&url).expect("a URL");
            // Unencoded, `%41` is an escape like any other; `%` alone or `%zz` stays as it is.
            let expected = if url.contains(&percent_encode(pw)) {
                pw.to_string()
            } else {
                percent_decode(pw)
            };
            assert_eq!(u.password_decoded(), Some(expected), "{url}");
            assert_eq!(u.user_decoded().as_deref(), Some("etl"), "{url}");
            assert!(u.host.starts_with("127.0.0.1:"), "{url}: host {}", u.host);
            assert!(matches!(u.path, Some("dw" | "shop")), "{url}: {:?}", u.path);
            assert_hidden(&url, pw);
        }
        let enc = percent_encode(pw);
        for url in [
            format!("postgres://etl@h/dw?password={enc}&sslmode=disable"),
            format!("postgres://etl@h/dw?sslpassword={enc}&password={enc}"),
            format!("postgres://etl:{pw}@h/dw?sslpassword={enc}&PASSWORD={enc}"),
        ] {
            assert_hidden(&url, pw);
        }
    }
}

#[test]
fn an_at_sign_in_the_query_without_a_password_is_not_a_user() {
    let u = Url::parse("postgres://h/db?application_name=a@b").unwrap();
    assert_eq!((u.user, u.host, u.path), (None, "h", Some("db")));
    assert_eq!(u.params[0].as_written(), "application_name=a@b");
    // With a port it cannot be told from `user:password@host`: read that way, and masked.
    assert_eq!(
        mask_url("postgres://h:5432/db?application_name=a@b"),
        "postgres://h:***@b"
    );
}

#[test]
fn decodes_escapes_and_keeps_stray_percent_signs() {
    assert_eq!(percent_decode("s3cr%40t%2Fx"), "s3cr@t/x");
    assert_eq!(percent_decode("100%"), "100%");
    assert_eq!(percent_decode("%zz"), "%zz");
    for pw in AWKWARD {
        assert_eq!(percent_decode(&percent_encode(pw)), *pw);
    }
}
