//! The JSON reader the validator walks: strict RFC 8259 over a borrowed body,
//! one token at a time, building nothing.
//!
//! serde_json stays the parser of record (it builds the typed [`Event`] and
//! gives a floating-point number its value); this reader exists for speed.
//! The validator runs on every webhook, and serde_json's `Deserializer` walks
//! a body through visitor calls and scans strings a `usize` at a time, four
//! bytes in WebAssembly, after a separate UTF-8 pass over the whole body. Its
//! `Read` trait is sealed, so the scan cannot be swapped, and the fast JSON
//! crates need std. Here a string is scanned sixteen bytes at a time with
//! WebAssembly SIMD (eight, as a `u64`, elsewhere) for the bytes that end a
//! plain run (a quote, a backslash, a control character, a non-ASCII byte),
//! and UTF-8 is checked only in strings that hold non-ASCII bytes: everywhere
//! else the grammar allows ASCII alone.
//!
//! It accepts exactly the bodies serde_json accepts (tests compare the two on
//! arbitrary input): UTF-8 text, escapes with paired surrogates, no control
//! characters in strings, at most [`MAX_DEPTH`] nested arrays and objects, and
//! no number that overflows to infinity.
//!
//! [`Event`]: crate::Event

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Map, Value};

/// The deepest nesting of arrays and objects, serde_json's recursion limit.
pub(crate) const MAX_DEPTH: usize = 127;

/// Where a body stops being JSON: the offset of the byte that breaks the
/// grammar, or the body's length when it ends too early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    offset: usize,
}

impl SyntaxError {
    /// The 1-based line and (byte) column of the error in `body`.
    pub(crate) fn line_and_column(self, body: &[u8]) -> (usize, usize) {
        let before = body.get(..self.offset).unwrap_or(body);
        let line_start = before.iter().rposition(|&byte| byte == b'\n').map_or(0, |at| at + 1);
        let line = 1 + before.iter().filter(|&&byte| byte == b'\n').count();
        (line, before.len() - line_start + 1)
    }
}

/// A JSON value as the reader meets it: a scalar whole, an array or an
/// object by its opening bracket (its contents come next).
#[derive(Clone, Copy)]
pub(crate) enum Token<'a> {
    Null,
    Bool(bool),
    Number(Number<'a>),
    String(Text<'a>),
    Array,
    Object,
}

/// A number, classified as serde_json classifies it.
#[derive(Clone, Copy)]
pub(crate) enum Number<'a> {
    /// An integer without a sign that fits a `u64`.
    Unsigned(u64),
    /// A negative integer that fits an `i64` (`-0` is a float).
    Negative(i64),
    /// Any other number: its literal, valued only where a check needs it.
    Float(&'a [u8]),
}

impl Number<'_> {
    /// Whether the number lies in [-1, 1], decided on its decimal value as
    /// written: exact, and the same in every build, however a parser would
    /// round the literal to a float.
    pub(crate) fn within_unit(self) -> bool {
        match self {
            Self::Unsigned(value) => value <= 1,
            Self::Negative(value) => value >= -1,
            Self::Float(literal) => literal_within_unit(literal),
        }
    }
}

/// Whether a JSON number literal (`-? int (. frac)? ([eE] [+-]? exp)?`, as
/// the reader checked it) has a magnitude of at most 1, by its digits.
fn literal_within_unit(literal: &[u8]) -> bool {
    let unsigned = literal.strip_prefix(b"-").unwrap_or(literal);
    let (mantissa, exponent) = match unsigned.iter().position(|&byte| matches!(byte, b'e' | b'E')) {
        Some(at) => (&unsigned[..at], &unsigned[at + 1..]),
        None => (unsigned, &b""[..]),
    };
    let (integer, fraction) = match mantissa.iter().position(|&byte| byte == b'.') {
        Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
        None => (mantissa, &b""[..]),
    };
    let digits = || integer.iter().chain(fraction);
    // The value is 0.d1 d2 ... x 10^magnitude, with d1 the first non-zero digit.
    let Some(leading_zeros) = digits().position(|&digit| digit != b'0') else {
        return true; // zero
    };
    let exponent = exponent_value(exponent);
    let magnitude = integer.len() as i128 - leading_zeros as i128 + exponent;
    match magnitude {
        ..=0 => true,
        1 => {
            let mut significant = digits().skip(leading_zeros);
            significant.next() == Some(&b'1') && significant.all(|&digit| digit == b'0')
        }
        _ => false,
    }
}

/// A decimal exponent `[+-]? digits`, saturated far beyond where it decides
/// anything (a body has fewer digits than that).
fn exponent_value(exponent: &[u8]) -> i128 {
    const SATURATED: i128 = 1 << 80;
    let (negative, digits) = match exponent.split_first() {
        Some((b'-', digits)) => (true, digits),
        Some((b'+', digits)) => (false, digits),
        _ => (false, exponent),
    };
    let value = digits
        .iter()
        .fold(0_i128, |value, &digit| (value * 10 + i128::from(digit - b'0')).min(SATURATED));
    if negative { -value } else { value }
}

/// A string as it appears in the body, between its quotes.
#[derive(Clone, Copy)]
pub(crate) struct Text<'a> {
    raw: &'a [u8],
    escaped: bool,
}

impl<'a> Text<'a> {
    /// The string's value; borrowed from the body unless it holds escapes.
    pub(crate) fn decode(self) -> Cow<'a, str> {
        // The reader checked that the string is UTF-8 and its escapes valid:
        // the fallbacks (empty, U+FFFD) are never taken.
        if !self.escaped {
            return Cow::Borrowed(core::str::from_utf8(self.raw).unwrap_or_default());
        }
        let mut bytes = Vec::with_capacity(self.raw.len());
        let mut rest = self.raw;
        while let Some(backslash) = rest.iter().position(|&byte| byte == b'\\') {
            bytes.extend_from_slice(&rest[..backslash]);
            let (character, length) = escape(&rest[backslash + 1..]).unwrap_or(('\u{fffd}', 0));
            bytes.extend_from_slice(character.encode_utf8(&mut [0; 4]).as_bytes());
            rest = rest.get(backslash + 1 + length..).unwrap_or_default();
        }
        bytes.extend_from_slice(rest);
        Cow::Owned(String::from_utf8(bytes).unwrap_or_default())
    }

    /// Whether the string's value is `value`; decodes only a string with escapes.
    pub(crate) fn is(self, value: &str) -> bool {
        if self.escaped { self.decode() == value } else { self.raw == value.as_bytes() }
    }
}

/// The escape sequence after a backslash: the character it stands for and its
/// length (past the backslash), or `None` if it is not one JSON allows.
fn escape(sequence: &[u8]) -> Option<(char, usize)> {
    let simple = match sequence.first()? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => return unicode_escape(sequence),
        _ => return None,
    };
    Some((simple, 1))
}

/// `uXXXX`, or a surrogate pair `uXXXX\uXXXX`; a lone surrogate is refused,
/// as serde_json refuses it in a string.
fn unicode_escape(sequence: &[u8]) -> Option<(char, usize)> {
    let unit = |at: usize| {
        let digits = sequence.get(at..at + 4)?;
        digits
            .iter()
            .try_fold(0_u32, |unit, &digit| Some(unit << 4 | char::from(digit).to_digit(16)?))
    };
    let first = unit(1)?;
    if !(0xD800..=0xDBFF).contains(&first) {
        return Some((char::from_u32(first)?, 5));
    }
    if sequence.get(5..7)? != b"\\u" {
        return None;
    }
    let second = unit(7)?;
    if !(0xDC00..=0xDFFF).contains(&second) {
        return None;
    }
    Some((char::from_u32(0x10000 + ((first - 0xD800) << 10 | (second - 0xDC00)))?, 11))
}

/// A cursor over a body; cloning it saves a place to come back to.
#[derive(Clone)]
pub(crate) struct Reader<'a> {
    body: &'a [u8],
    at: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(body: &'a [u8]) -> Self {
        Self { body, at: 0, depth: 0 }
    }

    fn error<T>(&self) -> Result<T, SyntaxError> {
        Err(SyntaxError { offset: self.at })
    }

    fn peek(&self) -> Option<u8> {
        self.body.get(self.at).copied()
    }

    /// Skips whitespace, then peeks.
    fn peek_token(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
        self.peek()
    }

    /// Reads the next value: a scalar whole, an array or object up to its
    /// opening bracket (then [`next_element`](Self::next_element) or
    /// [`next_key`](Self::next_key) read its contents).
    pub(crate) fn token(&mut self) -> Result<Token<'a>, SyntaxError> {
        match self.peek_token() {
            Some(b'"') => self.string().map(Token::String),
            Some(b'-' | b'0'..=b'9') => self.number().map(Token::Number),
            Some(b'{') => self.open().map(|()| Token::Object),
            Some(b'[') => self.open().map(|()| Token::Array),
            Some(b't') => self.word(b"true").map(|()| Token::Bool(true)),
            Some(b'f') => self.word(b"false").map(|()| Token::Bool(false)),
            Some(b'n') => self.word(b"null").map(|()| Token::Null),
            _ => self.error(),
        }
    }

    /// Before element `index` of an array: whether there is one (the array
    /// is closed when there is not).
    pub(crate) fn next_element(&mut self, index: usize) -> Result<bool, SyntaxError> {
        match self.peek_token() {
            Some(b']') => {
                self.close();
                Ok(false)
            }
            Some(b',') if index > 0 => {
                self.at += 1;
                Ok(true)
            }
            Some(_) if index == 0 => Ok(true),
            _ => self.error(),
        }
    }

    /// Before member `index` of an object: its key, with the colon after it
    /// read, or `None` at the end (the object is closed).
    pub(crate) fn next_key(&mut self, index: usize) -> Result<Option<Text<'a>>, SyntaxError> {
        match self.peek_token() {
            Some(b'}') => {
                self.close();
                return Ok(None);
            }
            Some(b',') if index > 0 => {
                self.at += 1;
                self.peek_token();
            }
            _ if index > 0 => return self.error(),
            _ => {}
        }
        if self.peek() != Some(b'"') {
            return self.error();
        }
        let key = self.string()?;
        if self.peek_token() != Some(b':') {
            return self.error();
        }
        self.at += 1;
        Ok(Some(key))
    }

    /// Reads the next value if it is `null`: whether it was.
    pub(crate) fn null(&mut self) -> Result<bool, SyntaxError> {
        if self.peek_token() != Some(b'n') {
            return Ok(false);
        }
        self.word(b"null").map(|()| true)
    }

    /// Reads the next value whole, as serde_json's `Value` (the unknown
    /// fields an [`Event`] keeps).
    pub(crate) fn value(&mut self) -> Result<Value, SyntaxError> {
        let token = self.token()?;
        self.value_of(token)
    }

    /// The whole value that `token` starts.
    pub(crate) fn value_of(&mut self, token: Token<'a>) -> Result<Value, SyntaxError> {
        Ok(match token {
            Token::Null => Value::Null,
            Token::Bool(value) => Value::Bool(value),
            Token::Number(number) => Value::Number(self.number_value(number)?),
            Token::String(text) => Value::String(text.decode().into_owned()),
            Token::Array => {
                let mut elements = Vec::new();
                while self.next_element(elements.len())? {
                    elements.push(self.value()?);
                }
                Value::Array(elements)
            }
            Token::Object => Value::Object(self.members()?),
        })
    }

    /// The members of the object whose `{` was read, as serde_json's `Map`.
    pub(crate) fn members(&mut self) -> Result<Map<String, Value>, SyntaxError> {
        let mut members = Map::new();
        let mut index = 0;
        while let Some(key) = self.next_key(index)? {
            let value = self.value()?;
            // A repeated key keeps its last value, as in serde_json.
            members.insert(key.decode().into_owned(), value);
            index += 1;
        }
        Ok(members)
    }

    /// A number's value, as serde_json gives it.
    pub(crate) fn number_value(
        &self,
        number: Number<'_>,
    ) -> Result<serde_json::Number, SyntaxError> {
        match number {
            Number::Unsigned(value) => Ok(value.into()),
            Number::Negative(value) => Ok(value.into()),
            // The reader let through only literals serde_json reads (none
            // that overflows), so this is serde_json's own value of it.
            Number::Float(literal) => core::str::from_utf8(literal)
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or(SyntaxError { offset: self.at }),
        }
    }

    /// Skips the next value.
    pub(crate) fn skip(&mut self) -> Result<(), SyntaxError> {
        let token = self.token()?;
        self.skip_rest(&token)
    }

    /// Skips the contents of the array or object `token` opened (nothing for
    /// a scalar). Recursion is bounded by [`MAX_DEPTH`].
    pub(crate) fn skip_rest(&mut self, token: &Token<'_>) -> Result<(), SyntaxError> {
        let mut index = 0;
        match token {
            Token::Array => {
                while self.next_element(index)? {
                    self.skip()?;
                    index += 1;
                }
            }
            Token::Object => {
                while self.next_key(index)?.is_some() {
                    self.skip()?;
                    index += 1;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks that nothing but whitespace follows.
    pub(crate) fn end(&mut self) -> Result<(), SyntaxError> {
        match self.peek_token() {
            None => Ok(()),
            Some(_) => self.error(),
        }
    }

    fn open(&mut self) -> Result<(), SyntaxError> {
        if self.depth == MAX_DEPTH {
            return self.error();
        }
        self.depth += 1;
        self.at += 1;
        Ok(())
    }

    fn close(&mut self) {
        self.depth -= 1;
        self.at += 1;
    }

    /// Reads `true`, `false` or `null`; an error points at the first byte that differs.
    fn word(&mut self, word: &[u8]) -> Result<(), SyntaxError> {
        let rest = self.body.get(self.at..).unwrap_or_default();
        let matching =
            rest.iter().zip(word).take_while(|(byte, expected)| byte == expected).count();
        self.at += matching;
        if matching == word.len() { Ok(()) } else { self.error() }
    }

    /// Reads a string, from its opening quote.
    fn string(&mut self) -> Result<Text<'a>, SyntaxError> {
        self.at += 1;
        let start = self.at;
        let mut escaped = false;
        let mut ascii = true;
        loop {
            self.at += plain_run(self.body.get(self.at..).unwrap_or_default(), ascii);
            match self.peek() {
                Some(b'"') => break,
                Some(b'\\') => {
                    let sequence = self.body.get(self.at + 1..).unwrap_or_default();
                    let Some((_, length)) = escape(sequence) else {
                        self.at += 1;
                        return self.error();
                    };
                    escaped = true;
                    self.at += 1 + length;
                }
                Some(0x80..) => ascii = false,
                // A control character, or the end of the body.
                _ => return self.error(),
            }
        }
        let raw = &self.body[start..self.at];
        if !ascii && let Err(error) = core::str::from_utf8(raw) {
            return Err(SyntaxError { offset: start + error.valid_up_to() });
        }
        self.at += 1;
        Ok(Text { raw, escaped })
    }

    /// Reads a number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<Number<'a>, SyntaxError> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        self.at += usize::from(negative);
        let integer_start = self.at;
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return self.error(),
        }
        let integer = &self.body[integer_start..self.at];
        let mut float = false;
        let mut exponent = false;
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.required_digits()?;
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.required_digits()?;
            float = true;
            exponent = true;
        }
        let literal = &self.body[start..self.at];
        if !float && let Some(magnitude) = unsigned(integer) {
            if !negative {
                return Ok(Number::Unsigned(magnitude));
            }
            // serde_json reads `-0` as a float.
            if magnitude != 0
                && let Ok(value) = i64::try_from(-i128::from(magnitude))
            {
                return Ok(Number::Negative(value));
            }
        }
        // serde_json refuses a number that rounds to infinity, which takes an
        // exponent or some 300 digits (f64::MAX is about 1.8e308).
        if (exponent || integer.len() > 300) && float_value(literal).is_none() {
            self.at = start;
            return self.error();
        }
        Ok(Number::Float(literal))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    fn required_digits(&mut self) -> Result<(), SyntaxError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return self.error();
        }
        self.digits();
        Ok(())
    }
}

/// A number literal's value as serde_json reads it (correctly rounded with its
/// `float_roundtrip` feature); `None` past `f64::MAX`, which serde_json refuses.
///
/// Through `Number`'s `FromStr`: `from_slice::<f64>` would link serde's
/// `Unexpected`, whose `Display` brings in float formatting, and core's own
/// parser tables do not compress (BENCHMARKS.md, "Levers, one by one": "no
/// float formatting in messages", "a float's value by core's `str::parse`").
fn float_value(literal: &[u8]) -> Option<f64> {
    let text = core::str::from_utf8(literal).ok()?;
    text.parse::<serde_json::Number>().ok()?.as_f64()
}

/// The value of decimal `digits`, or `None` past `u64::MAX`.
fn unsigned(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0_u64, |value, &digit| {
        value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    })
}

/// How many bytes at the start of `bytes` a string holds as they are: the
/// bytes before the first quote, backslash or control character, and, while
/// `stop_at_non_ascii`, non-ASCII byte.
fn plain_run(bytes: &[u8], stop_at_non_ascii: bool) -> usize {
    let (blocks, _) = bytes.as_chunks::<BLOCK>();
    for (index, block) in blocks.iter().enumerate() {
        if let Some(offset) = first_special(block, stop_at_non_ascii) {
            return index * BLOCK + offset;
        }
    }
    let scanned = blocks.len() * BLOCK;
    let tail = &bytes[scanned..];
    let is_special =
        |byte: u8| matches!(byte, b'"' | b'\\' | 0..0x20) || (stop_at_non_ascii && byte >= 0x80);
    scanned + tail.iter().position(|&byte| is_special(byte)).unwrap_or(tail.len())
}

/// Bytes scanned at a time: a SIMD vector in WebAssembly with SIMD.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
const BLOCK: usize = 16;

/// The offset of the first special byte of `block` (see [`plain_run`]).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn first_special(block: &[u8; BLOCK], stop_at_non_ascii: bool) -> Option<usize> {
    use core::arch::wasm32::{
        i8x16_lt, u8x16_bitmask, u8x16_eq, u8x16_lt, u8x16_splat, v128, v128_or,
    };
    let bytes: v128 = bytemuck::cast(*block);
    let quote_or_backslash =
        v128_or(u8x16_eq(bytes, u8x16_splat(b'"')), u8x16_eq(bytes, u8x16_splat(b'\\')));
    // As signed bytes, non-ASCII ones are negative: below 0x20 too.
    let low = if stop_at_non_ascii {
        i8x16_lt(bytes, u8x16_splat(0x20))
    } else {
        u8x16_lt(bytes, u8x16_splat(0x20))
    };
    let mask = u8x16_bitmask(v128_or(quote_or_backslash, low));
    (mask != 0).then(|| mask.trailing_zeros() as usize)
}

/// Bytes scanned at a time: a `u64` elsewhere.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
const BLOCK: usize = 8;

/// The offset of the first special byte of `block` (see [`plain_run`]).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn first_special(block: &[u8; BLOCK], stop_at_non_ascii: bool) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    // Byte-parallel tests (SWAR): `x - ONES & !x` sets a byte's high bit
    // where the byte is zero, `x - n * ONES & !x` where it is below n.
    // Borrows only disturb the bytes above a real match, so the lowest
    // flagged byte is the first special one.
    let word = u64::from_le_bytes(*block);
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let mut special = (quote.wrapping_sub(ONES) & !quote)
        | (backslash.wrapping_sub(ONES) & !backslash)
        | (word.wrapping_sub(ONES * 0x20) & !word);
    if stop_at_non_ascii {
        special |= word;
    }
    let special = special & (ONES << 7);
    (special != 0).then(|| special.trailing_zeros() as usize / 8)
}
