//! Pieces of connection URLs shared by the connectors.

/// A URL safe to print: the password (and `password=` parameters) replaced by `***`.
pub fn mask_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map(|i| rest_start + i)
            .unwrap_or(out.len());
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest_start + colon + 1..rest_start + at, "***");
            }
        }
    }
    let lower = out.to_ascii_lowercase();
    if let Some(i) = lower.find("password=") {
        let start = i + "password=".len();
        let end = out[start..]
            .find(['&', ' ', ';'])
            .map(|j| start + j)
            .unwrap_or(out.len());
        out.replace_range(start..end, "***");
    }
    out
}

/// Decodes `%XX` escapes (user names, passwords, paths and parameters in URLs); a `%` not
/// followed by two hex digits stays as it is.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::{mask_url, percent_decode};

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
    }

    #[test]
    fn decodes_escapes_and_keeps_stray_percent_signs() {
        assert_eq!(percent_decode("s3cr%40t%2Fx"), "s3cr@t/x");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
