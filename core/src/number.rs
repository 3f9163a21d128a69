//! DynamoDB numbers: decimals of up to 38 significant digits between 1E-130 and
//! 9.9999999999999999999999999999999999999E+125, compared and sorted numerically.
//!
//! A [`Number`] is kept normalized (no leading or trailing zero digits), so equal values have
//! equal representations and `Eq`/`Hash` agree with numeric equality.

use std::cmp::Ordering;
use std::fmt;

/// Most significant digits a number may carry (DynamoDB: 38).
pub const NUMBER_DIGITS_MAX: usize = 38;
/// Smallest decimal exponent of a nonzero number's leading digit (DynamoDB: 1E-130).
const ADJUSTED_EXPONENT_MIN: i32 = -130;
/// Largest decimal exponent of a number's leading digit (DynamoDB: 9.99..E+125).
const ADJUSTED_EXPONENT_MAX: i32 = 125;

/// Why a string or an arithmetic result is not a valid DynamoDB number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NumberError {
    /// The text is not a decimal number.
    #[error("The parameter cannot be converted to a numeric value: {0}")]
    NotANumber(String),
    /// More than [`NUMBER_DIGITS_MAX`] significant digits.
    #[error("Attempting to store more than 38 significant digits in a Number")]
    TooManyDigits,
    /// Magnitude above 9.99..E+125.
    #[error("Number overflow. Attempting to store a number with magnitude larger than supported range")]
    Overflow,
    /// Nonzero magnitude below 1E-130.
    #[error("Number underflow. Attempting to store a number with magnitude smaller than supported range")]
    Underflow,
}

/// A decimal number: `(-1)^negative × digits × 10^exponent`, with `digits` holding no leading
/// or trailing zeros (empty for zero, which is never negative).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    /// Decimal digits 0..=9, most significant first.
    digits: Vec<u8>,
    exponent: i32,
}

impl Number {
    /// Zero.
    pub fn zero() -> Self {
        Number { negative: false, digits: Vec::new(), exponent: 0 }
    }

    /// Parses DynamoDB's number syntax: optional sign, digits with an optional decimal point,
    /// optional exponent (`1`, `-0.5`, `.5`, `1e10`, `+3.0E-2`). Leading and trailing zeros
    /// do not count toward the 38 significant digits.
    pub fn parse(text: &str) -> Result<Self, NumberError> {
        let bad = || NumberError::NotANumber(text.to_string());
        let trimmed = text.trim();
        let bytes = trimmed.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if let Some(&c) = bytes.first()
            && (c == b'-' || c == b'+')
        {
            negative = c == b'-';
            i = 1;
        }
        let mut digits = Vec::new();
        let mut exponent: i64 = 0;
        let mut seen_digit = false;
        let mut seen_point = false;
        while i < bytes.len() {
            let c = bytes[i];
            if c.is_ascii_digit() {
                seen_digit = true;
                if digits.is_empty() && c == b'0' {
                    // Leading zero: only matters after the point, as a scale.
                    if seen_point {
                        exponent -= 1;
                    }
                } else {
                    digits.push(c - b'0');
                    if seen_point {
                        exponent -= 1;
                    }
                }
                if digits.len() > 4096 {
                    return Err(bad());
                }
            } else if c == b'.' && !seen_point {
                seen_point = true;
            } else {
                break;
            }
            i += 1;
        }
        if !seen_digit {
            return Err(bad());
        }
        if i < bytes.len() {
            if bytes[i] != b'e' && bytes[i] != b'E' {
                return Err(bad());
            }
            i += 1;
            let rest = &trimmed[i..];
            let unsigned = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let e: i64 = if unsigned.len() > 9 {
                // Far out of range either way; keep the sign to pick overflow or underflow.
                if rest.starts_with('-') { -1_000_000_000 } else { 1_000_000_000 }
            } else {
                rest.parse().map_err(|_| bad())?
            };
            exponent += e;
        }
        while digits.last() == Some(&0) {
            digits.pop();
            exponent += 1;
        }
        let exponent = exponent.clamp(i32::MIN as i64 / 2, i32::MAX as i64 / 2) as i32;
        Self::checked(negative, digits, exponent)
    }

    /// Builds a number from raw parts, normalizing and checking digits and range.
    fn checked(negative: bool, mut digits: Vec<u8>, mut exponent: i32) -> Result<Self, NumberError> {
        let leading = digits.iter().take_while(|&&d| d == 0).count();
        digits.drain(..leading);
        while digits.last() == Some(&0) {
            digits.pop();
            exponent += 1;
        }
        if digits.is_empty() {
            return Ok(Self::zero());
        }
        let adjusted = exponent + digits.len() as i32 - 1;
        if adjusted > ADJUSTED_EXPONENT_MAX {
            return Err(NumberError::Overflow);
        }
        if adjusted < ADJUSTED_EXPONENT_MIN {
            return Err(NumberError::Underflow);
        }
        if digits.len() > NUMBER_DIGITS_MAX {
            return Err(NumberError::TooManyDigits);
        }
        Ok(Number { negative, digits, exponent })
    }

    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// True for values below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// Number of significant digits (0 for zero).
    pub fn significant_digits(&self) -> usize {
        self.digits.len()
    }

    /// The exponent of the leading digit (`1234` → 3, `0.01` → -2); 0 for zero.
    fn adjusted_exponent(&self) -> i32 {
        if self.is_zero() { 0 } else { self.exponent + self.digits.len() as i32 - 1 }
    }

    /// The negated value.
    pub fn negated(&self) -> Self {
        let mut n = self.clone();
        if !n.is_zero() {
            n.negative = !n.negative;
        }
        n
    }

    /// `self + other`, exact; fails when the result needs more than 38 digits or leaves the range.
    pub fn add(&self, other: &Number) -> Result<Number, NumberError> {
        if self.is_zero() {
            return Ok(other.clone());
        }
        if other.is_zero() {
            return Ok(self.clone());
        }
        let exponent = self.exponent.min(other.exponent);
        let a = self.aligned(exponent);
        let b = other.aligned(exponent);
        if self.negative == other.negative {
            return Self::checked(self.negative, add_magnitudes(&a, &b), exponent);
        }
        match compare_magnitudes(&a, &b) {
            Ordering::Equal => Ok(Self::zero()),
            Ordering::Greater => Self::checked(self.negative, sub_magnitudes(&a, &b), exponent),
            Ordering::Less => Self::checked(other.negative, sub_magnitudes(&b, &a), exponent),
        }
    }

    /// `self - other`, exact, with the same limits as [`Number::add`].
    pub fn sub(&self, other: &Number) -> Result<Number, NumberError> {
        self.add(&other.negated())
    }

    /// Digits scaled to `exponent` (which must not exceed `self.exponent`).
    fn aligned(&self, exponent: i32) -> Vec<u8> {
        let mut digits = self.digits.clone();
        digits.resize(digits.len() + (self.exponent - exponent) as usize, 0);
        digits
    }

    /// An order-preserving, prefix-free byte encoding: comparing encodings bytewise compares
    /// the numbers. Used for keys so that a Query over a numeric sort key is a range read.
    pub fn sortable_bytes(&self, out: &mut Vec<u8>) {
        if self.is_zero() {
            out.push(0x80);
            return;
        }
        // Bias the exponent so it encodes as an unsigned big-endian u16.
        let biased = (self.adjusted_exponent() + 0x4000) as u16;
        if self.negative {
            out.push(0x40);
            out.extend_from_slice(&(!biased).to_be_bytes());
            out.extend(self.digits.iter().map(|d| 10 - d));
            out.push(0xff);
        } else {
            out.push(0xc0);
            out.extend_from_slice(&biased.to_be_bytes());
            out.extend(self.digits.iter().map(|d| d + 1));
            out.push(0x00);
        }
    }

    /// Decodes [`Number::sortable_bytes`] from the front of `bytes`, returning the number and the
    /// bytes consumed, or `None` if the bytes are not such an encoding.
    pub fn from_sortable_bytes(bytes: &[u8]) -> Option<(Number, usize)> {
        match *bytes.first()? {
            0x80 => Some((Self::zero(), 1)),
            tag @ (0x40 | 0xc0) => {
                let negative = tag == 0x40;
                let raw = u16::from_be_bytes([*bytes.get(1)?, *bytes.get(2)?]);
                let biased = if negative { !raw } else { raw };
                let adjusted = biased as i32 - 0x4000;
                let terminator = if negative { 0xff } else { 0x00 };
                let end = bytes[3..].iter().position(|&b| b == terminator)? + 3;
                let digits: Vec<u8> = bytes[3..end]
                    .iter()
                    .map(|&b| if negative { 10u8.checked_sub(b) } else { b.checked_sub(1) })
                    .collect::<Option<_>>()?;
                if digits.is_empty() || digits.iter().any(|&d| d > 9) {
                    return None;
                }
                let exponent = adjusted - digits.len() as i32 + 1;
                Some((Number { negative, digits, exponent }, end + 1))
            }
            _ => None,
        }
    }

    /// Approximate stored size in bytes, as DynamoDB counts it: one byte per two significant
    /// digits plus one.
    pub fn size_bytes(&self) -> usize {
        self.digits.len().div_ceil(2) + 1
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |n: &Number| {
            if n.is_zero() {
                0
            } else if n.negative {
                -1
            } else {
                1
            }
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        if self.is_zero() {
            return Ordering::Equal;
        }
        let magnitude = self
            .adjusted_exponent()
            .cmp(&other.adjusted_exponent())
            .then_with(|| self.digits.cmp(&other.digits));
        if self.negative { magnitude.reverse() } else { magnitude }
    }
}

/// Canonical text, as DynamoDB returns numbers: no exponent, no superfluous zeros
/// (`1.50` → `1.5`, `1e3` → `1000`, `-0` → `0`).
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut s = String::with_capacity(self.digits.len() + 8);
        if self.negative {
            s.push('-');
        }
        let digits: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        if self.exponent >= 0 {
            s.push_str(&digits);
            s.extend(std::iter::repeat_n('0', self.exponent as usize));
        } else {
            let fraction = (-self.exponent) as usize;
            if fraction >= digits.len() {
                s.push_str("0.");
                s.extend(std::iter::repeat_n('0', fraction - digits.len()));
                s.push_str(&digits);
            } else {
                let split = digits.len() - fraction;
                s.push_str(&digits[..split]);
                s.push('.');
                s.push_str(&digits[split..]);
            }
        }
        f.write_str(&s)
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

fn compare_magnitudes(a: &[u8], b: &[u8]) -> Ordering {
    let a = strip_leading_zeros(a);
    let b = strip_leading_zeros(b);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn strip_leading_zeros(d: &[u8]) -> &[u8] {
    let lead = d.iter().take_while(|&&x| x == 0).count();
    &d[lead..]
}

/// Sum of two digit strings with the same scale.
fn add_magnitudes(a: &[u8], b: &[u8]) -> Vec<u8> {
    let len = a.len().max(b.len()) + 1;
    let mut out = vec![0u8; len];
    let mut carry = 0;
    for i in 0..len {
        let da = if i < a.len() { a[a.len() - 1 - i] } else { 0 };
        let db = if i < b.len() { b[b.len() - 1 - i] } else { 0 };
        let s = da + db + carry;
        out[len - 1 - i] = s % 10;
        carry = s / 10;
    }
    out
}

/// `a - b` for digit strings with the same scale where `a >= b`.
fn sub_magnitudes(a: &[u8], b: &[u8]) -> Vec<u8> {
    let len = a.len().max(b.len());
    let mut out = vec![0u8; len];
    let mut borrow = 0i8;
    for i in 0..len {
        let da = if i < a.len() { a[a.len() - 1 - i] as i8 } else { 0 };
        let db = if i < b.len() { b[b.len() - 1 - i] as i8 } else { 0 };
        let mut d = da - db - borrow;
        borrow = 0;
        if d < 0 {
            d += 10;
            borrow = 1;
        }
        out[len - 1 - i] = d as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parse_normalizes_to_canonical_text() {
        for (input, canonical) in [
            ("0", "0"),
            ("-0", "0"),
            ("0.000", "0"),
            ("1.50", "1.5"),
            ("+001", "1"),
            (".5", "0.5"),
            ("1e3", "1000"),
            ("1.25E-2", "0.0125"),
            ("-12.340", "-12.34"),
            ("100", "100"),
        ] {
            assert_eq!(n(input).to_string(), canonical, "{input}");
        }
    }

    #[test]
    fn parse_rejects_garbage_and_out_of_range() {
        for bad in ["", "abc", "1.2.3", "--1", "1e", "e5", "1x", "."] {
            assert!(matches!(Number::parse(bad), Err(NumberError::NotANumber(_))), "{bad}");
        }
        assert_eq!(Number::parse("1E126"), Err(NumberError::Overflow));
        assert_eq!(Number::parse("1E-131"), Err(NumberError::Underflow));
        assert!(Number::parse("9.9999999999999999999999999999999999999E+125").is_ok());
        assert!(Number::parse("1E-130").is_ok());
        assert_eq!(Number::parse("123456789012345678901234567890123456789"), Err(NumberError::TooManyDigits));
        assert!(Number::parse("12345678901234567890123456789012345678").is_ok());
        // Trailing zeros are not significant.
        assert!(Number::parse("1234567890123456789012345678901234567800000").is_ok());
    }

    #[test]
    fn ordering_is_numeric() {
        let sorted = [
            "-1E+10", "-100", "-99.5", "-1", "-0.001", "0", "1E-130", "0.5", "1", "2", "10", "10.01", "1e100",
        ];
        for w in sorted.windows(2) {
            assert!(n(w[0]) < n(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(n("1.0"), n("1"));
    }

    #[test]
    fn sortable_bytes_preserve_order_and_round_trip() {
        let values = [
            "-1E+10", "-100", "-99.5", "-9.95", "-1", "-0.001", "0", "1E-130", "0.5", "1", "1.2", "1.23",
            "2", "10", "10.01", "1e100",
        ];
        let mut prev: Option<Vec<u8>> = None;
        for v in values {
            let mut enc = Vec::new();
            n(v).sortable_bytes(&mut enc);
            let (back, used) = Number::from_sortable_bytes(&enc).unwrap_or_else(|| panic!("{v}"));
            assert_eq!(back, n(v));
            assert_eq!(used, enc.len());
            if let Some(p) = prev {
                assert!(p < enc, "encoding order at {v}");
            }
            prev = Some(enc);
        }
    }

    #[test]
    fn arithmetic_is_exact() {
        assert_eq!(n("0.1").add(&n("0.2")).unwrap(), n("0.3"));
        assert_eq!(n("5").sub(&n("7.5")).unwrap(), n("-2.5"));
        assert_eq!(n("-5").add(&n("5")).unwrap(), Number::zero());
        assert_eq!(n("99").add(&n("1")).unwrap(), n("100"));
        assert_eq!(n("1e20").add(&n("1")).unwrap().to_string(), "100000000000000000001");
        assert_eq!(
            n("9.9999999999999999999999999999999999999E+125").add(&n("1E+125")),
            Err(NumberError::Overflow)
        );
        assert_eq!(n("1E+40").add(&n("1E-10")), Err(NumberError::TooManyDigits));
    }
}
