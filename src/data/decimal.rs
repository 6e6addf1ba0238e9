use std::cmp::Ordering;
use std::fmt;

/// An exact decimal number kept as its digits, so values beyond f64 and beyond 28 digits
/// survive every hop. The text is normalised: optional `-`, at least one integer digit, and
/// `.` plus the fraction digits when the scale is not zero (`"-0.50"`, `"12"`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Decimal {
    text: String,
}

impl Decimal {
    /// Parses `[+-]digits[.digits]` (also `.5`, `5.`, and an exponent such as `1.5e3`).
    /// Leading zeros of the integer part are dropped; trailing fraction zeros are kept because
    /// they carry the scale.
    pub fn parse(input: &str) -> Result<Decimal, String> {
        let s = input.trim();
        let (neg, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (mantissa, exp) = match body.find(['e', 'E']) {
            Some(i) => {
                let e: i32 = body[i + 1..]
                    .parse()
                    .map_err(|_| format!("'{input}' is not a decimal number"))?;
                (&body[..i], e)
            }
            None => (body, 0),
        };
        let (int, frac) = match mantissa.find('.') {
            Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
            None => (mantissa, ""),
        };
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
            return Err(format!("'{input}' is not a decimal number"));
        }
        let mut digits = format!("{int}{frac}");
        let mut scale = frac.len() as i64 - exp as i64;
        if scale < 0 {
            digits.extend(std::iter::repeat_n('0', (-scale) as usize));
            scale = 0;
        }
        Ok(Decimal::from_digits(neg, &digits, scale as usize))
    }

    /// Builds from an unsigned digit string and a scale (`("1234", 2)` is 12.34).
    pub fn from_digits(negative: bool, digits: &str, scale: usize) -> Decimal {
        let digits = if digits.len() <= scale {
            format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
        } else {
            digits.to_string()
        };
        let split = digits.len() - scale;
        let int = digits[..split].trim_start_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        let frac = &digits[split..];
        let zero = int == "0" && frac.bytes().all(|b| b == b'0');
        let mut text = String::with_capacity(digits.len() + 2);
        if negative && !zero {
            text.push('-');
        }
        text.push_str(int);
        if scale > 0 {
            text.push('.');
            text.push_str(frac);
        }
        Decimal { text }
    }

    /// Wraps text already in the normal form described on the type (what a codec that builds
    /// the digits itself produces), skipping the parse.
    pub fn from_normalized(text: String) -> Decimal {
        debug_assert_eq!(
            Decimal::parse(&text).map(|d| d.text),
            Ok(text.clone()),
            "not normalised"
        );
        Decimal { text }
    }

    pub fn from_i128(v: i128) -> Decimal {
        Decimal {
            text: v.to_string(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_negative(&self) -> bool {
        self.text.starts_with('-')
    }

    fn parts(&self) -> (&str, &str) {
        let t = self.text.strip_prefix('-').unwrap_or(&self.text);
        // A byte search: `str::find(char)` costs a memcmp per hit, and this runs for every
        // decimal of every loaded row.
        match memchr::memchr(b'.', t.as_bytes()) {
            Some(i) => (&t[..i], &t[i + 1..]),
            None => (t, ""),
        }
    }

    /// Digits after the decimal point.
    pub fn scale(&self) -> usize {
        self.parts().1.len()
    }

    /// Significant digits left of the point (0 for `0.5`).
    pub fn integer_digits(&self) -> usize {
        let (int, _) = self.parts();
        if int == "0" {
            0
        } else {
            int.len()
        }
    }

    /// Re-expresses the value with exactly `scale` fraction digits. Refuses to drop a non-zero
    /// digit: rounding is a lossy cast and must be asked for by the script, not done silently.
    pub fn with_scale(&self, scale: usize) -> Option<Decimal> {
        let (int, frac) = self.parts();
        if frac.len() == scale {
            return Some(self.clone());
        }
        if frac.len() > scale && frac[scale..].bytes().any(|b| b != b'0') {
            return None;
        }
        let mut digits = String::with_capacity(int.len() + scale);
        digits.push_str(int);
        if frac.len() >= scale {
            digits.push_str(&frac[..scale]);
        } else {
            digits.push_str(frac);
            digits.extend(std::iter::repeat_n('0', scale - frac.len()));
        }
        Some(Decimal::from_digits(self.is_negative(), &digits, scale))
    }

    /// True when the value fits `numeric(precision, scale)` without losing a digit.
    pub fn fits(&self, precision: u32, scale: u32) -> bool {
        // Same answer as `with_scale` + `integer_digits`, without building the rescaled text
        // (this runs for every decimal of every loaded row).
        let (int, frac) = self.parts();
        let s = scale as usize;
        if frac.len() > s && frac[s..].bytes().any(|b| b != b'0') {
            return false;
        }
        let integer_digits = if int == "0" { 0 } else { int.len() };
        integer_digits <= (precision - scale.min(precision)) as usize
    }

    /// The integer value when the scale is zero (or the fraction is all zeros) and it fits i128.
    pub fn to_i128(&self) -> Option<i128> {
        self.with_scale(0)?.text.parse().ok()
    }

    pub fn to_f64(&self) -> f64 {
        self.text.parse().unwrap_or(f64::NAN)
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    /// Numeric order (`1.50` == `1.5` compares Equal even though the texts differ).
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.is_negative(), other.is_negative()) {
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let (ai, af) = self.parts();
        let (bi, bf) = other.parts();
        let magnitude = ai
            .len()
            .cmp(&bi.len())
            .then_with(|| ai.cmp(bi))
            .then_with(|| {
                let n = af.len().max(bf.len());
                let pad = |f: &str| format!("{f:0<n$}");
                pad(af).cmp(&pad(bf))
            });
        if self.is_negative() {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        assert_eq!(Decimal::parse("0012.50").unwrap().as_str(), "12.50");
        assert_eq!(Decimal::parse("-.5").unwrap().as_str(), "-0.5");
        assert_eq!(Decimal::parse("-0.00").unwrap().as_str(), "0.00");
        assert_eq!(Decimal::parse("1.5e3").unwrap().as_str(), "1500");
        assert_eq!(Decimal::parse("15e-3").unwrap().as_str(), "0.015");
        assert!(Decimal::parse("1.2.3").is_err());
        assert!(Decimal::parse("").is_err());
        assert!(Decimal::parse("abc").is_err());
    }

    #[test]
    fn keeps_digits_beyond_f64_and_28_places() {
        let big = "123456789012345678901234567890.123456789012345678901234567890";
        assert_eq!(Decimal::parse(big).unwrap().as_str(), big);
    }

    #[test]
    fn rescaling_never_rounds() {
        let d = Decimal::parse("9999999999.99").unwrap();
        assert!(d.fits(12, 2));
        assert!(!d.fits(11, 2));
        assert_eq!(d.with_scale(4).unwrap().as_str(), "9999999999.9900");
        assert!(d.with_scale(1).is_none());
        assert_eq!(
            Decimal::parse("1.50")
                .unwrap()
                .with_scale(1)
                .unwrap()
                .as_str(),
            "1.5"
        );
    }

    #[test]
    fn orders_numerically() {
        let p = |s| Decimal::parse(s).unwrap();
        assert!(p("1.5") == p("1.5"));
        assert_eq!(p("1.50").cmp(&p("1.5")), Ordering::Equal);
        assert!(p("-2") < p("-1.5"));
        assert!(p("10") > p("9.99"));
    }
}
