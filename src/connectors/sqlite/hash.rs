//! `etl_row_hash(a, b, ...)`: the MD5 of the values' types and bytes, in hex. SCD2 dimensions
//! store it per version and compare new rows with it; PostgreSQL has `md5(ROW(..)::text)`.

use md5::{Digest, Md5};
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;
use rusqlite::Connection;

pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "etl_row_hash",
        -1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        row_hash,
    )
}

fn row_hash(ctx: &Context<'_>) -> rusqlite::Result<String> {
    let mut h = Md5::new();
    for i in 0..ctx.len() {
        // A tag and a length before each value, so ("ab", "c") and ("a", "bc"), NULL and ''
        // and 1 and '1' all hash apart.
        let (tag, bytes): (u8, Vec<u8>) = match ctx.get_raw(i) {
            ValueRef::Null => (0, Vec::new()),
            ValueRef::Integer(n) => (1, n.to_le_bytes().to_vec()),
            ValueRef::Real(f) => (2, f.to_le_bytes().to_vec()),
            ValueRef::Text(t) => (3, t.to_vec()),
            ValueRef::Blob(b) => (4, b.to_vec()),
        };
        h.update([tag]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>())
}
