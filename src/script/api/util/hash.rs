//! `md5(x)` and `sha256(x)` as lowercase hex: row keys and change detection. `x` is a string,
//! a blob, or an array of values (a composite key), hashed as their text forms separated by
//! the unit separator U+001F, with `()` (NULL) as U+0000, so NULL and "" differ and
//! `["a", "bc"]` and `["ab", "c"]` do not collide.

use rhai::{Array, Blob, Engine};

use super::super::values::from_dynamic;
use super::super::{fail, Res};

pub fn register(engine: &mut Engine) {
    engine.register_fn("md5", |s: &str| md5_hex(s.as_bytes()));
    engine.register_fn("md5", |b: Blob| md5_hex(&b));
    engine.register_fn("md5", |a: Array| -> Res<String> {
        Ok(md5_hex(&joined("md5", a)?))
    });
    engine.register_fn("sha256", |s: &str| sha256_hex(s.as_bytes()));
    engine.register_fn("sha256", |b: Blob| sha256_hex(&b));
    engine.register_fn("sha256", |a: Array| -> Res<String> {
        Ok(sha256_hex(&joined("sha256", a)?))
    });
}

fn joined(what: &str, values: Array) -> Res<Vec<u8>> {
    let mut out = Vec::new();
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(0x1f);
        }
        let value = from_dynamic(v, None).map_err(|e| fail(format!("{what}(): item {i}: {e}")))?;
        match value {
            crate::data::Value::Null => out.push(0),
            crate::data::Value::Bytes(b) => out.extend_from_slice(&b),
            v => out.extend_from_slice(v.to_text().unwrap_or_default().as_bytes()),
        }
    }
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// The two crates implement different versions of `digest`: each is called through its own.
fn md5_hex(data: &[u8]) -> String {
    hex(&<md5::Md5 as md5::Digest>::digest(data)[..])
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&<sha2::Sha256 as sha2::Digest>::digest(data)[..])
}
