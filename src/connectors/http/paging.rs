//! The next page: from a body field, the `Link` header, a cursor, an offset or a page number.
//! Offsets and page numbers advance by what actually came back and stop at an empty page; a
//! link or cursor seen before is a loop and an error, never an endless read.

use std::collections::HashSet;

use serde_json::value::RawValue;
use url::Url;

use super::body::{text_at, JsonPath};
use super::options::Paging;

/// The paging state of one read.
pub struct Pager {
    style: Paging,
    next_path: Option<JsonPath>,
    offset: u64,
    page: u64,
    seen: HashSet<String>,
}

/// What a page says about the next one.
pub struct PageInfo<'a> {
    pub url: &'a Url,
    pub root: &'a RawValue,
    pub link_header: Option<&'a str>,
    pub records: usize,
}

impl Pager {
    pub fn new(style: &Paging) -> Result<Pager, String> {
        let (next_path, page) = match style {
            Paging::NextField { path } | Paging::Cursor { path, .. } => {
                (Some(JsonPath::parse(path)?), 0)
            }
            Paging::Page { start, .. } => (None, *start),
            _ => (None, 0),
        };
        Ok(Pager {
            style: style.clone(),
            next_path,
            offset: 0,
            page,
            seen: HashSet::new(),
        })
    }

    /// The paging parameters of the first request.
    pub fn first_params(&self) -> Vec<(String, String)> {
        match &self.style {
            Paging::Offset {
                param,
                limit_param,
                size,
            } => vec![
                (param.clone(), "0".into()),
                (limit_param.clone(), size.to_string()),
            ],
            Paging::Page {
                param,
                start,
                size_param,
                size,
            } => {
                let mut p = vec![(param.clone(), start.to_string())];
                if let (Some(sp), Some(s)) = (size_param, size) {
                    p.push((sp.clone(), s.to_string()));
                }
                p
            }
            _ => Vec::new(),
        }
    }

    /// The next page's URL, or None after the last page.
    pub fn next(&mut self, page: &PageInfo) -> Result<Option<Url>, String> {
        let next = match &self.style {
            Paging::None => None,
            Paging::NextField { .. } => {
                let path = self.next_path.as_ref().expect("path");
                match text_at(page.root, path)? {
                    None => None,
                    Some(link) => Some(page.url.join(&link).map_err(|e| {
                        format!("the next link {path} = '{link}' is not a URL: {e}")
                    })?),
                }
            }
            Paging::LinkHeader => {
                match page.link_header.and_then(next_link) {
                    None => None,
                    Some(link) => Some(page.url.join(&link).map_err(|e| {
                        format!("the Link header's next '{link}' is not a URL: {e}")
                    })?),
                }
            }
            Paging::Cursor { param, .. } => {
                let path = self.next_path.as_ref().expect("path");
                match text_at(page.root, path)? {
                    None => None,
                    Some(cursor) => {
                        if !self.seen.insert(format!("cursor {cursor}")) {
                            return Err(format!(
                                "the cursor {path} = '{cursor}' came back a second time: the API is going round in a loop"
                            ));
                        }
                        Some(with_param(page.url, param, &cursor))
                    }
                }
            }
            Paging::Offset { param, .. } => {
                if page.records == 0 {
                    None
                } else {
                    self.offset += page.records as u64;
                    Some(with_param(page.url, param, &self.offset.to_string()))
                }
            }
            Paging::Page { param, .. } => {
                if page.records == 0 {
                    None
                } else {
                    self.page += 1;
                    Some(with_param(page.url, param, &self.page.to_string()))
                }
            }
        };
        if let (Some(url), Paging::NextField { .. } | Paging::LinkHeader) = (&next, &self.style) {
            self.seen.insert(page.url.to_string());
            if !self.seen.insert(url.to_string()) {
                return Err(format!(
                    "the next link {url} was already read: the API is going round in a loop"
                ));
            }
        }
        Ok(next)
    }
}

/// `url` with query parameter `name` set to `value` (replaced where it was, added at the end
/// otherwise), through the URL query serializer.
pub fn with_param(url: &Url, name: &str, value: &str) -> Url {
    let mut out = url.clone();
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    match pairs.iter_mut().find(|(k, _)| k == name) {
        Some(p) => p.1 = value.to_string(),
        None => pairs.push((name.to_string(), value.to_string())),
    }
    out.query_pairs_mut().clear().extend_pairs(&pairs);
    out
}

/// The `rel="next"` target of a `Link` header (RFC 8288): `<url>; rel="next", <url>; rel=last`.
pub fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    loop {
        let start = rest.find('<')?;
        let end = start + rest[start..].find('>')?;
        let target = &rest[start + 1..end];
        let after = &rest[end + 1..];
        // The parameters run up to the comma before the next link.
        let (params, next) = match after
            .match_indices(',')
            .find(|(c, _)| after[c + 1..].trim_start().starts_with('<'))
        {
            Some((c, _)) => (&after[..c], &after[c + 1..]),
            None => (after, ""),
        };
        for p in params.split(';') {
            if let Some((k, v)) = p.split_once('=') {
                if k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
                {
                    return Some(target.to_string());
                }
            }
        }
        if next.is_empty() {
            return None;
        }
        rest = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_give_their_next_target() {
        assert_eq!(
            next_link(
                r#"<https://api.x/items?page=2>; rel="next", <https://api.x/items?page=9>; rel="last""#
            ),
            Some("https://api.x/items?page=2".into())
        );
        assert_eq!(
            next_link(r#"<https://a/1>; rel="prev", <https://a/3>; rel=next"#),
            Some("https://a/3".into())
        );
        assert_eq!(
            next_link(r#"</items?after=a,b>; title="x, y"; rel="last next""#),
            Some("/items?after=a,b".into())
        );
        assert_eq!(next_link(r#"<https://a/1>; rel="prev""#), None);
        assert_eq!(next_link(""), None);
    }

    #[test]
    fn offsets_advance_by_what_came_back_and_stop_at_an_empty_page() {
        let mut p = Pager::new(&Paging::Offset {
            param: "offset".into(),
            limit_param: "limit".into(),
            size: 100,
        })
        .unwrap();
        let url = Url::parse("http://h/x?limit=100&offset=0").unwrap();
        let root: &RawValue = serde_json::from_str("{}").unwrap();
        let info = |url, records| PageInfo {
            url,
            root,
            link_header: None,
            records,
        };
        let next = p.next(&info(&url, 40)).unwrap().unwrap();
        assert_eq!(next.as_str(), "http://h/x?limit=100&offset=40");
        let next = p.next(&info(&next, 100)).unwrap().unwrap();
        assert_eq!(next.as_str(), "http://h/x?limit=100&offset=140");
        assert!(p.next(&info(&next, 0)).unwrap().is_none());
    }

    #[test]
    fn a_link_or_cursor_seen_before_is_a_loop() {
        let root: &RawValue = serde_json::from_str(r#"{"next": "/x?p=1", "c": "abc"}"#).unwrap();
        let url = Url::parse("http://h/x?p=1").unwrap();
        let mut p = Pager::new(&Paging::NextField {
            path: "$.next".into(),
        })
        .unwrap();
        let info = PageInfo {
            url: &url,
            root,
            link_header: None,
            records: 1,
        };
        assert!(p.next(&info).unwrap_err().contains("loop"));
        let mut p = Pager::new(&Paging::Cursor {
            path: "$.c".into(),
            param: "cursor".into(),
        })
        .unwrap();
        assert_eq!(
            p.next(&info).unwrap().unwrap().as_str(),
            "http://h/x?p=1&cursor=abc"
        );
        assert!(p.next(&info).unwrap_err().contains("loop"));
    }
}
