//! Secrets never reach a message: every text shown to a user goes through `Secrets::mask`,
//! which hides each secret in the forms it can take on the wire (raw, percent-encoded in a
//! URL, form-encoded in a body, base64 in a basic-auth header).

use std::sync::{Arc, RwLock};

use base64::Engine as _;

/// What a masked secret is replaced with.
pub const MASK: &str = "***";

/// The secrets of one source, shared by its requests; tokens obtained at run time (OAuth2)
/// are added as they arrive.
#[derive(Clone, Default)]
pub struct Secrets(Arc<RwLock<Vec<String>>>);

impl Secrets {
    pub fn add(&self, secret: &str) {
        // Very short values would mask ordinary text ("a"), and cannot be meaningful secrets.
        if secret.len() < 3 {
            return;
        }
        let forms: [String; 4] = [
            secret.to_string(),
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>(),
            percent_encoded(secret, b"-._~"),
            percent_encoded(secret, b""),
        ];
        let mut list = self.0.write().expect("secrets lock");
        for f in forms {
            if !list.contains(&f) {
                list.push(f);
            }
        }
        // Longest first, so a secret containing another is hidden whole.
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// A basic-auth pair: the user and password alone, and their base64 header form.
    pub fn add_basic(&self, user: &str, password: &str) {
        self.add(password);
        self.add(&base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")));
    }

    pub fn mask(&self, text: &str) -> String {
        let list = self.0.read().expect("secrets lock");
        let mut out = text.to_string();
        for s in list.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        out
    }
}

/// Every byte but letters, digits and `keep` as `%XX` (the forms URL encoders produce).
fn percent_encoded(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_hidden_raw_percent_and_form_encoded() {
        let s = Secrets::default();
        s.add("p@ss w/rd+1");
        let text = "raw p@ss w/rd+1, url p%40ss%20w%2Frd%2B1, form p%40ss+w%2Frd%2B1";
        assert_eq!(s.mask(text), "raw ***, url ***, form ***");
    }

    #[test]
    fn basic_auth_is_hidden_in_its_header_form() {
        let s = Secrets::default();
        s.add_basic("ann", "hunter22");
        // "ann:hunter22" in base64.
        assert_eq!(
            s.mask("Authorization: Basic YW5uOmh1bnRlcjIy and hunter22"),
            "Authorization: Basic *** and ***"
        );
    }

    #[test]
    fn the_longest_secret_is_hidden_whole() {
        let s = Secrets::default();
        s.add("abc");
        s.add("abcdef");
        assert_eq!(s.mask("x abcdef y abc"), "x *** y ***");
    }
}
