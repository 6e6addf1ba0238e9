//! NUMERIC's binary form, straight from and to decimal text: `ndigits, weight, sign, dscale`
//! (16 bits each) and base-10000 digit groups. Exact at any size, no float on the way
//! (DESIGN.md §6).

use bytes::{BufMut, BytesMut};

use crate::data::Decimal;

const POSITIVE: u16 = 0x0000;
const NEGATIVE: u16 = 0x4000;
const NAN: u16 = 0xC000;
const PLUS_INFINITY: u16 = 0xD000;
const MINUS_INFINITY: u16 = 0xF000;

/// Appends the binary NUMERIC payload of `d` (a normalised decimal).
pub fn encode(d: &Decimal, out: &mut BytesMut) {
    let text = d.as_str();
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = match memchr::memchr(b'.', body.as_bytes()) {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, ""),
    };
    let int = int.trim_start_matches('0').as_bytes();
    let frac = frac.as_bytes();
    // Groups of 4 digits aligned on the decimal point: the integer part padded on the left,
    // the fraction on the right.
    let int_groups = int.len().div_ceil(4);
    let frac_groups = frac.len().div_ceil(4);
    let lead = int_groups * 4 - int.len();
    let digit_at = |i: usize| -> u16 {
        // i indexes the padded digit string: `lead` zeros, int, frac, zeros.
        if i < lead {
            0
        } else if i < lead + int.len() {
            (int[i - lead] - b'0') as u16
        } else if i - lead - int.len() < frac.len() {
            (frac[i - lead - int.len()] - b'0') as u16
        } else {
            0
        }
    };
    let mut groups = [0u16; 64];
    let mut heap: Vec<u16>;
    let total = int_groups + frac_groups;
    let digits: &mut [u16] = if total <= groups.len() {
        &mut groups[..total]
    } else {
        heap = vec![0; total];
        &mut heap
    };
    for (g, slot) in digits.iter_mut().enumerate() {
        let i = g * 4;
        *slot = digit_at(i) * 1000 + digit_at(i + 1) * 100 + digit_at(i + 2) * 10 + digit_at(i + 3);
    }
    let first = digits.iter().position(|&g| g != 0);
    let (weight, used): (i16, &[u16]) = match first {
        None => (0, &[]),
        Some(f) => {
            let last = digits
                .iter()
                .rposition(|&g| g != 0)
                .expect("a non-zero group exists");
            (int_groups as i16 - 1 - f as i16, &digits[f..=last])
        }
    };
    out.reserve(8 + used.len() * 2);
    out.put_i16(used.len() as i16);
    out.put_i16(weight);
    out.put_u16(if negative && !used.is_empty() {
        NEGATIVE
    } else {
        POSITIVE
    });
    out.put_u16(frac.len() as u16);
    for g in used {
        out.put_u16(*g);
    }
}

/// Whether NUMERIC's binary form can carry the value (weight and scale are 16-bit).
pub fn representable(d: &Decimal) -> bool {
    // Any text shorter than the smaller limit fits; only huge values need counting.
    d.as_str().len() <= 16_383 || (d.integer_digits() <= 131_072 && d.scale() <= 16_383)
}

/// Reads a binary NUMERIC payload. NaN and infinities have no decimal value: they are errors.
pub fn decode(raw: &[u8]) -> Result<Decimal, String> {
    if raw.len() < 8 {
        return Err("truncated numeric value".into());
    }
    let be16 = |i: usize| u16::from_be_bytes([raw[i], raw[i + 1]]);
    let ndigits = be16(0) as usize;
    let weight = be16(2) as i16 as i32;
    let sign = be16(4);
    let dscale = be16(6) as usize;
    match sign {
        POSITIVE | NEGATIVE => {}
        NAN => {
            return Err(
                "NaN has no exact decimal value (filter it out or cast it in the query)".into(),
            )
        }
        PLUS_INFINITY | MINUS_INFINITY => {
            return Err(
                "Infinity has no exact decimal value (filter it out or cast it in the query)"
                    .into(),
            )
        }
        other => return Err(format!("unknown numeric sign {other:#x}")),
    }
    if raw.len() < 8 + ndigits * 2 {
        return Err("truncated numeric value".into());
    }
    let group = |k: i32| -> u16 {
        if k >= 0 && (k as usize) < ndigits {
            be16(8 + k as usize * 2)
        } else {
            0
        }
    };
    let mut text = String::with_capacity(2 + (weight.max(0) as usize + 1) * 4 + dscale);
    let any_nonzero = (0..ndigits as i32).any(|k| group(k) != 0);
    if sign == NEGATIVE && any_nonzero {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        for k in 0..=weight {
            let g = group(k);
            if g > 9999 {
                return Err(format!("numeric digit group {g} out of range"));
            }
            if k == 0 {
                push_u16(&mut text, g);
            } else {
                push_4(&mut text, g);
            }
        }
        // A first group of 0 (possible when unnormalised) printed as "0"; strip extra zeros.
        if text.trim_start_matches('-').len() > 1 && text.trim_start_matches('-').starts_with('0') {
            let neg = text.starts_with('-');
            let digits = text
                .trim_start_matches('-')
                .trim_start_matches('0')
                .to_string();
            text = format!(
                "{}{}",
                if neg { "-" } else { "" },
                if digits.is_empty() { "0" } else { &digits }
            );
        }
    }
    if dscale > 0 {
        text.push('.');
        let start = text.len();
        let mut k = weight + 1;
        while text.len() - start < dscale {
            push_4(&mut text, group(k));
            k += 1;
        }
        text.truncate(start + dscale);
    }
    if text.starts_with('-') && text[1..].bytes().all(|b| b == b'0' || b == b'.') {
        text.remove(0);
    }
    Ok(Decimal::from_normalized(text))
}

fn push_u16(out: &mut String, v: u16) {
    use std::fmt::Write;
    write!(out, "{v}").expect("write to String");
}

fn push_4(out: &mut String, v: u16) {
    let d = [v / 1000, v / 100 % 10, v / 10 % 10, v % 10];
    for x in d {
        out.push((b'0' + x as u8) as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: &str) -> String {
        let d = Decimal::parse(s).unwrap();
        let mut buf = BytesMut::new();
        encode(&d, &mut buf);
        decode(&buf).unwrap().as_str().to_string()
    }

    fn header(s: &str) -> (i16, i16, u16, u16, Vec<u16>) {
        let mut buf = BytesMut::new();
        encode(&Decimal::parse(s).unwrap(), &mut buf);
        let be = |i: usize| u16::from_be_bytes([buf[i], buf[i + 1]]);
        let n = be(0) as usize;
        (
            be(0) as i16,
            be(2) as i16,
            be(4),
            be(6),
            (0..n).map(|k| be(8 + 2 * k)).collect(),
        )
    }

    #[test]
    fn encodes_like_postgres() {
        // Values checked against `SELECT numeric_send(...)` on PostgreSQL 15.
        assert_eq!(header("0"), (0, 0, 0, 0, vec![]));
        assert_eq!(header("0.00"), (0, 0, 0, 2, vec![]));
        assert_eq!(header("1"), (1, 0, 0, 0, vec![1]));
        assert_eq!(header("12345.678"), (3, 1, 0, 3, vec![1, 2345, 6780]));
        assert_eq!(header("-0.0001"), (1, -1, 0x4000, 4, vec![1]));
        assert_eq!(header("10000"), (1, 1, 0, 0, vec![1]));
        assert_eq!(header("0.00000001"), (1, -2, 0, 8, vec![1]));
        assert_eq!(
            header("9999999999.99"),
            (4, 2, 0, 2, vec![99, 9999, 9999, 9900])
        );
    }

    #[test]
    fn round_trips_exactly() {
        for s in [
            "0",
            "0.00",
            "1",
            "-1",
            "12.50",
            "-0.5",
            "0.0001",
            "100000000",
            "9999999999.99",
            "-9999999999.99",
            "123456789012345678901234567890.123456789012345678901234567890",
            "0.000000000000000000000000000000000001",
            "1e40",
            "-123.4500",
        ] {
            let expect = Decimal::parse(s).unwrap().as_str().to_string();
            assert_eq!(round_trip(s), expect, "{s}");
        }
    }

    #[test]
    fn refuses_nan_and_infinity() {
        let mut raw = vec![0u8, 0, 0, 0, 0xC0, 0, 0, 0];
        assert!(decode(&raw).unwrap_err().contains("NaN"));
        raw[4] = 0xD0;
        assert!(decode(&raw).unwrap_err().contains("Infinity"));
        assert!(decode(&raw[..4]).is_err());
    }

    #[test]
    fn decodes_unnormalised_input() {
        // Leading and trailing zero groups are legal on the wire.
        let mut buf = BytesMut::new();
        for v in [3i16, 1, 0, 2] {
            buf.put_i16(v);
        }
        for g in [0u16, 12, 3400] {
            buf.put_u16(g);
        }
        assert_eq!(decode(&buf).unwrap().as_str(), "12.34");
    }
}
