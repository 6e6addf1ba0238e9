//! A small well-formedness check for the report page: every element is closed in order,
//! attributes are quoted, `&` starts an entity, and nothing points outside the file.

const VOID: &[&str] = &["meta", "br", "hr", "img", "input", "link", "wbr"];

/// Panics with the position of the first problem.
pub fn check(html: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut i = 0;
    let bytes = html.as_bytes();
    let at = |i: usize| {
        let line = html[..i].matches('\n').count() + 1;
        format!("line {line}: {}", &html[i..(i + 80).min(html.len())])
    };
    while i < bytes.len() {
        match bytes[i] {
            b'<' => {
                if html[i..].starts_with("<!--") {
                    i += html[i..]
                        .find("-->")
                        .unwrap_or_else(|| panic!("unclosed comment at {}", at(i)))
                        + 3;
                    continue;
                }
                let end = i + html[i..]
                    .find('>')
                    .unwrap_or_else(|| panic!("unclosed tag at {}", at(i)));
                let tag = &html[i + 1..end];
                assert!(!tag.contains('<'), "'<' inside a tag at {}", at(i));
                if tag.starts_with('!') {
                    assert!(
                        tag.eq_ignore_ascii_case("!DOCTYPE html"),
                        "unexpected declaration at {}",
                        at(i)
                    );
                } else if let Some(name) = tag.strip_prefix('/') {
                    let open = stack
                        .pop()
                        .unwrap_or_else(|| panic!("</{name}> closes nothing at {}", at(i)));
                    assert_eq!(open, name.trim(), "</{name}> closes <{open}> at {}", at(i));
                } else {
                    let self_closing = tag.ends_with('/');
                    let body = tag.trim_end_matches('/');
                    let name: String = body
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric())
                        .collect();
                    assert!(!name.is_empty(), "bad tag at {}", at(i));
                    check_attributes(&body[name.len()..], &at(i));
                    if !self_closing && !VOID.contains(&name.as_str()) {
                        if name == "style" || name == "script" {
                            let close = format!("</{name}>");
                            let inner_end = end
                                + html[end..]
                                    .find(&close)
                                    .unwrap_or_else(|| panic!("unclosed <{name}> at {}", at(i)));
                            i = inner_end + close.len();
                            continue;
                        }
                        stack.push(name);
                    }
                }
                i = end + 1;
            }
            b'&' => {
                let rest = &html[i + 1..(i + 12).min(html.len())];
                let entity = rest.split(';').next().unwrap_or_default();
                let named = !entity.is_empty() && entity.chars().all(|c| c.is_ascii_alphanumeric());
                let numeric = entity
                    .strip_prefix('#')
                    .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
                assert!(
                    rest.contains(';') && (named || numeric),
                    "a bare '&' at {}",
                    at(i)
                );
                i += 1;
            }
            b'>' => panic!("a bare '>' in text at {}", at(i)),
            _ => i += 1,
        }
    }
    assert!(stack.is_empty(), "elements never closed: {stack:?}");
}

/// `name="value"` pairs (or bare names), values without `"` or `<`.
fn check_attributes(mut s: &str, at: &str) {
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return;
        }
        let name_len = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == ':' || c == '_'))
            .unwrap_or(s.len());
        assert!(name_len > 0, "bad attribute {s:?} at {at}");
        s = &s[name_len..];
        if let Some(rest) = s.strip_prefix("=\"") {
            let close = rest
                .find('"')
                .unwrap_or_else(|| panic!("unquoted attribute at {at}"));
            assert!(!rest[..close].contains('<'), "'<' in an attribute at {at}");
            s = &rest[close + 1..];
        } else {
            assert!(!s.starts_with('='), "unquoted attribute value at {at}");
        }
    }
}

/// No network: no script, no external stylesheet, image, font or link.
pub fn check_self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    for bad in [
        "http://", "https://", "<script", "<link", "<img", "<iframe", "@import", "url(", "src=",
    ] {
        assert!(
            !lower.contains(bad),
            "the page refers to something outside it: {bad:?}"
        );
    }
    // Links only to anchors within the page.
    for (i, _) in lower.match_indices("href=\"") {
        assert!(
            lower[i + 6..].starts_with('#'),
            "a link out of the page: {}",
            &html[i..i + 60]
        );
    }
}

#[test]
fn the_checker_finds_problems() {
    check("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/><style>a > b {}</style></head><body><p class=\"x\">a &amp; b &#10004;</p></body></html>");
    for bad in [
        "<p><b></p></b>",
        "<p>",
        "<p>a & b</p>",
        "<p class=x>a</p>",
        "<p>a > b</p>",
    ] {
        assert!(std::panic::catch_unwind(|| check(bad)).is_err(), "{bad}");
    }
}
