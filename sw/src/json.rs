//! JSON without serde: a strict RFC 8259 parser, a compact writer and the few accessors the
//! worker needs. serde_json, the derived code and the float parsing and formatting they pull in
//! were a quarter of the wasm; here numbers keep their source text, so they round-trip exactly,
//! and are only ever read as integers.

use crate::prelude::*;
use core::fmt;

/// Deeper documents are refused rather than risk the worker's stack.
pub const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    /// The number as written: a valid RFC 8259 number, e.g. `-1.5e3` or `18446744073709551616`.
    Number(String),
    String(String),
    Array(Vec<Value>),
    /// Members in their written order, each key once (of duplicates, the parser keeps the last).
    Object(Vec<(String, Value)>),
}

/// Where and why a text is not JSON.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JsonError {
    pub reason: &'static str,
    /// Byte offset in the text.
    pub at: usize,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.at)
    }
}

/// A member that is absent or of the wrong kind, named for the message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BadField(pub &'static str);

impl fmt::Display for BadField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' is missing or invalid", self.0)
    }
}

/// The one JSON value in `text`, with nothing but whitespace around it.
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let mut parser = Parser { text, at: 0 };
    parser.skip_whitespace();
    let value = parser.value(0)?;
    parser.skip_whitespace();
    if parser.at < text.len() {
        return Err(parser.error("trailing characters"));
    }
    Ok(value)
}

struct Parser<'t> {
    text: &'t str,
    at: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &'static str) -> JsonError {
        JsonError { reason, at: self.at }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.at += usize::from(found);
        found
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// `depth`: how many arrays and objects enclose this value.
    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        match self.peek() {
            Some(b'{' | b'[') if depth == MAX_DEPTH => Err(self.error("nested too deeply")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => {
                let end = number_end(self.text.as_bytes(), self.at).ok_or_else(|| self.error("invalid number"))?;
                let lexeme = self.text[self.at..end].to_owned();
                self.at = end;
                Ok(Value::Number(lexeme))
            }
            Some(_) => Err(self.error("unexpected character")),
            None => Err(self.error("unexpected end")),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, JsonError> {
        if !self.text[self.at..].starts_with(word) {
            return Err(self.error("unexpected character"));
        }
        self.at += word.len();
        Ok(value)
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.eat(b']') {
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth)?);
            self.skip_whitespace();
            if self.eat(b']') {
                return Ok(Value::Array(items));
            }
            if !self.eat(b',') {
                return Err(self.error("expected ',' or ']'"));
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.at += 1;
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.eat(b'}') {
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a key"));
            }
            let key = self.string()?;
            self.skip_whitespace();
            if !self.eat(b':') {
                return Err(self.error("expected ':'"));
            }
            self.skip_whitespace();
            members.push((key, self.value(depth)?));
            self.skip_whitespace();
            if self.eat(b'}') {
                return Ok(Value::Object(without_duplicates(members)));
            }
            if !self.eat(b',') {
                return Err(self.error("expected ',' or '}'"));
            }
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.at += 1;
        let mut out = String::new();
        loop {
            // Runs between ASCII stops are copied whole; they end on character boundaries.
            let start = self.at;
            while matches!(self.peek(), Some(b) if b != b'"' && b != b'\\' && b >= 0x20) {
                self.at += 1;
            }
            out.push_str(&self.text[start..self.at]);
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => out.push(self.escape()?),
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    fn escape(&mut self) -> Result<char, JsonError> {
        let start = self.at;
        self.at += 2;
        let c = match self.text.as_bytes().get(start + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.unicode(start),
            _ => return Err(JsonError { reason: "invalid escape", at: start }),
        };
        Ok(c)
    }

    /// `\uXXXX`, where a UTF-16 surrogate is only valid as the first of a pair.
    fn unicode(&mut self, start: usize) -> Result<char, JsonError> {
        let lone = JsonError { reason: "lone surrogate", at: start };
        let code = match self.hex4()? {
            high @ 0xD800..=0xDBFF => {
                if !self.text[self.at..].starts_with("\\u") {
                    return Err(lone);
                }
                self.at += 2;
                match self.hex4()? {
                    low @ 0xDC00..=0xDFFF => 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00),
                    _ => return Err(lone),
                }
            }
            0xDC00..=0xDFFF => return Err(lone),
            code => code,
        };
        char::from_u32(code).ok_or(lone)
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self.text.as_bytes().get(self.at..self.at + 4).ok_or_else(|| self.error("invalid \\u escape"))?;
        let code = digits.iter().try_fold(0, |code, &d| (d as char).to_digit(16).map(|d| code << 4 | d));
        let code = code.ok_or_else(|| self.error("invalid \\u escape"))?;
        self.at += 4;
        Ok(code)
    }
}

/// One member per key: the last value, in the first one's place (as `JSON.parse` does).
/// A small hash table of positions finds duplicates in linear time, even in large objects,
/// without the code size of a sort or a `HashMap`.
fn without_duplicates(mut members: Vec<(String, Value)>) -> Vec<(String, Value)> {
    if members.len() < 2 {
        return members;
    }
    let mut first_of = vec![usize::MAX; (members.len() * 2).next_power_of_two()];
    let mask = first_of.len() - 1;
    let mut dropped = vec![false; members.len()];
    for i in 0..members.len() {
        // FNV-1a, then linear probing.
        let hash = members[i].0.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        let mut slot = hash as usize & mask;
        loop {
            match first_of[slot] {
                usize::MAX => {
                    first_of[slot] = i;
                    break;
                }
                first if members[first].0 == members[i].0 => {
                    // The later value moves to the first one's place; what it replaces goes.
                    members.swap(first, i);
                    dropped[i] = true;
                    break;
                }
                _ => slot = (slot + 1) & mask,
            }
        }
    }
    let mut position = 0;
    members.retain(|_| {
        position += 1;
        !dropped[position - 1]
    });
    members
}

/// Where the number starting at `start` ends, or `None` if it breaks RFC 8259's grammar:
/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, and no digit straight after a lone `0`.
fn number_end(bytes: &[u8], start: usize) -> Option<usize> {
    let digits = |from: usize| bytes[from.min(bytes.len())..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut at = start + usize::from(bytes.get(start) == Some(&b'-'));
    match bytes.get(at) {
        Some(b'0') if digits(at + 1) == 0 => at += 1,
        Some(b'1'..=b'9') => at += digits(at),
        _ => return None,
    }
    if bytes.get(at) == Some(&b'.') {
        let n = digits(at + 1);
        if n == 0 {
            return None;
        }
        at += 1 + n;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1 + usize::from(matches!(bytes.get(at + 1), Some(b'+' | b'-')));
        let n = digits(at);
        if n == 0 {
            return None;
        }
        at += n;
    }
    Some(at)
}

/// `text`, a JSON number, times `scale` (at most 10^8), rounded to the nearest integer (halves away
/// from zero), and whether that was exact. `None` if `text` is no JSON number or the result does
/// not fit an i64. Integer arithmetic only: the worker needs whole milliseconds, not float parsing.
pub fn scaled(text: &str, scale: u64) -> Option<(i64, bool)> {
    if number_end(text.as_bytes(), 0) != Some(text.len()) {
        return None;
    }
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = unsigned.split_once(['e', 'E']).unwrap_or((unsigned, "0"));
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // digits × 10^power, keeping 30 significant digits: more cannot matter below i64::MAX, and
    // dropping fraction digits never moves a value across a rounding half.
    let (mut digits, mut power, mut exact) = (0u128, 0i64, true);
    for (i, d) in whole.bytes().chain(fraction.bytes()).enumerate() {
        let in_fraction = i >= whole.len();
        if digits < 10u128.pow(29) {
            digits = digits * 10 + u128::from(d - b'0');
            power -= i64::from(in_fraction);
        } else {
            power += i64::from(!in_fraction);
            exact &= d == b'0';
        }
    }
    let (sign, magnitude) = match exponent.strip_prefix('-') {
        Some(m) => (-1, m),
        None => (1, exponent.trim_start_matches('+')),
    };
    let exponent = magnitude.bytes().fold(0i64, |e, d| e.saturating_mul(10).saturating_add(i64::from(d - b'0')));
    let power = power.saturating_add(sign * exponent);
    let value = digits.checked_mul(u128::from(scale))?;
    let rounded = if value == 0 {
        0
    } else if power >= 0 {
        value.checked_mul(10u128.checked_pow(u32::try_from(power).ok()?)?)?
    } else if power < -38 {
        // The value is below 10^38, less than half of the divisor.
        exact = false;
        0
    } else {
        let divisor = 10u128.pow(power.unsigned_abs() as u32);
        let remainder = value % divisor;
        exact &= remainder == 0;
        value / divisor + u128::from(remainder >= divisor - remainder)
    };
    let rounded = i64::try_from(rounded).ok()?;
    Some((if negative { -rounded } else { rounded }, exact))
}

impl Value {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// [`as_str`](Value::as_str), copied for a struct field.
    pub fn as_string(&self) -> Option<String> {
        self.as_str().map(str::to_owned)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A number written as a non-negative integer (`7`; not `7.0`, `7e0` or `-0`), as serde read
    /// integer fields.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) if n.bytes().all(|b| b.is_ascii_digit()) => n.parse().ok(),
            _ => None,
        }
    }

    /// [`as_u64`](Value::as_u64), when it fits `T`.
    pub fn as_uint<T: TryFrom<u64>>(&self) -> Option<T> {
        self.as_u64()?.try_into().ok()
    }

    /// A time in milliseconds since the epoch: any number, rounded to a whole millisecond.
    /// Earlier versions wrote fractions (`1764061234567.891`); they still read.
    pub fn as_ms(&self) -> Option<f64> {
        match self {
            Value::Number(n) => scaled(n, 1).map(|(ms, _)| ms as f64),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Object(members) => Some(members),
            _ => None,
        }
    }

    /// A member that must be there and readable by `read`.
    pub fn field<'v, T>(&'v self, key: &'static str, read: impl FnOnce(&'v Value) -> Option<T>) -> Result<T, BadField> {
        self.get(key).and_then(read).ok_or(BadField(key))
    }

    /// A member that may be absent or null, but if present must be readable by `read`.
    pub fn opt_field<'v, T>(&'v self, key: &'static str, read: impl FnOnce(&'v Value) -> Option<T>) -> Result<Option<T>, BadField> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => read(value).map(Some).ok_or(BadField(key)),
        }
    }
}

/// Objects are equal whatever their member order, as JSON objects are. Numbers compare by their
/// text: `1.0` is not `1`.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) | (Value::String(a), Value::String(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => a.len() == b.len() && a.iter().all(|(k, v)| other.get(k) == Some(v)),
            _ => false,
        }
    }
}

/// Compact JSON text.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_string(self))
    }
}

/// Anything that writes itself as JSON text.
pub trait Write {
    fn write_json(&self, out: &mut String);
}

pub fn to_string(value: &(impl Write + ?Sized)) -> String {
    let mut out = String::new();
    value.write_json(&mut out);
    out
}

/// An object's text, its members written by `build` in order.
pub fn object(build: impl FnOnce(Obj<'_>) -> Obj<'_>) -> String {
    let mut out = String::new();
    build(Obj::new(&mut out)).end();
    out
}

/// Writes an object member by member, straight into the text.
pub struct Obj<'o> {
    out: &'o mut String,
    empty: bool,
}

impl<'o> Obj<'o> {
    pub fn new(out: &'o mut String) -> Obj<'o> {
        out.push('{');
        Obj { out, empty: true }
    }

    pub fn field(mut self, key: &str, value: &(impl Write + ?Sized)) -> Obj<'o> {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        key.write_json(self.out);
        self.out.push(':');
        value.write_json(self.out);
        self
    }

    /// The member only when there is a value (where [`field`](Obj::field) writes `null`).
    pub fn some<T: Write>(self, key: &str, value: &Option<T>) -> Obj<'o> {
        match value {
            Some(value) => self.field(key, value),
            None => self,
        }
    }

    pub fn end(self) {
        self.out.push('}');
    }
}

/// A time in milliseconds, written whole: no float formatting in the wasm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ms(pub f64);

impl Write for Ms {
    fn write_json(&self, out: &mut String) {
        // Rounded half away from zero, as `f64::round` would (it needs `std`).
        let whole = (self.0.abs() + 0.5) as u64;
        if self.0 < 0.0 && whole > 0 {
            out.push('-');
        }
        out.push_str(&whole.to_string());
    }
}

impl Write for str {
    /// `"`, `\` and control characters escaped; everything else as it is.
    fn write_json(&self, out: &mut String) {
        out.push('"');
        let mut start = 0;
        for (i, b) in self.bytes().enumerate() {
            if !matches!(b, b'"' | b'\\' | 0..=0x1f) {
                continue;
            }
            out.push_str(&self[start..i]);
            start = i + 1;
            match b {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                0x08 => out.push_str("\\b"),
                0x0c => out.push_str("\\f"),
                _ => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.push_str("\\u00");
                    out.push(char::from(HEX[usize::from(b >> 4)]));
                    out.push(char::from(HEX[usize::from(b & 0xf)]));
                }
            }
        }
        out.push_str(&self[start..]);
        out.push('"');
    }
}

impl Write for String {
    fn write_json(&self, out: &mut String) {
        self.as_str().write_json(out);
    }
}

impl Write for bool {
    fn write_json(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

macro_rules! write_integers {
    ($($t:ty),*) => {$(
        impl Write for $t {
            fn write_json(&self, out: &mut String) {
                out.push_str(&self.to_string());
            }
        }
    )*};
}
write_integers!(u16, u32, u64);

impl<T: Write> Write for Option<T> {
    fn write_json(&self, out: &mut String) {
        match self {
            Some(value) => value.write_json(out),
            None => out.push_str("null"),
        }
    }
}

impl<T: Write> Write for [T] {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            item.write_json(out);
        }
        out.push(']');
    }
}

impl<T: Write> Write for Vec<T> {
    fn write_json(&self, out: &mut String) {
        self.as_slice().write_json(out);
    }
}

/// A pair is a two-item array (how headers are stored: `[["name", "value"], …]`).
impl<A: Write, B: Write> Write for (A, B) {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        self.0.write_json(out);
        out.push(',');
        self.1.write_json(out);
        out.push(']');
    }
}

impl<T: Write + ?Sized> Write for &T {
    fn write_json(&self, out: &mut String) {
        (**self).write_json(out);
    }
}

impl Write for Value {
    fn write_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => b.write_json(out),
            Value::Number(n) => out.push_str(n),
            Value::String(s) => s.write_json(out),
            Value::Array(items) => items.write_json(out),
            Value::Object(members) => {
                members.iter().fold(Obj::new(out), |o, (key, value)| o.field(key, value)).end();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> JsonError {
        match parse(text) {
            Ok(v) => panic!("{text:?} parsed as {v}"),
            Err(e) => e,
        }
    }

    #[test]
    fn round_trips_to_compact_text() {
        for (text, compact) in [
            (" \t\n\r{ \"a\" : [ 1 , -2.5e-3 , true, false, null, \"x\" ] , \"b\" : { } , \"c\" : [ ] } \n", r#"{"a":[1,-2.5e-3,true,false,null,"x"],"b":{},"c":[]}"#),
            ("0", "0"),
            ("-0.0", "-0.0"),
            ("1E+2", "1E+2"),
            (r#""""#, r#""""#),
            (r#"{"z":1,"a":2,"m":3}"#, r#"{"z":1,"a":2,"m":3}"#),
        ] {
            let value = parse(text).unwrap();
            assert_eq!(value.to_string(), compact, "{text:?}");
            assert_eq!(parse(compact), Ok(value));
        }
    }

    #[test]
    fn big_and_precise_numbers_are_kept_exactly() {
        for text in ["18446744073709551616123", "0.1000000000000000055511151231257827", "-1e400", "123456789012345678901234567890.5"] {
            assert_eq!(parse(text).unwrap().to_string(), text);
        }
        assert_eq!(parse("18446744073709551615").unwrap().as_u64(), Some(u64::MAX));
        assert_eq!(parse("18446744073709551616").unwrap().as_u64(), None);
    }

    #[test]
    fn escapes_are_read_and_written() {
        let value = parse(r#""\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC""#).unwrap();
        assert_eq!(value.as_str(), Some("\"\\/\u{8}\u{c}\n\r\tAé€"));
        assert_eq!(value.to_string(), r#""\"\\/\b\f\n\r\tAé€""#);
        let written = to_string("\u{0}\u{1}\u{1f} \u{7f} </script> 😀");
        assert_eq!(written, "\"\\u0000\\u0001\\u001f \u{7f} </script> 😀\"", "only control characters below 0x20 are escaped");
        assert_eq!(parse(&written).unwrap().as_str(), Some("\u{0}\u{1}\u{1f} \u{7f} </script> 😀"));
    }

    #[test]
    fn surrogate_pairs_make_one_character_and_lone_ones_are_refused() {
        assert_eq!(parse(r#""\ud83d\ude00 \uD83D\uDE00""#).unwrap().as_str(), Some("😀 😀"));
        for lone in [r#""\ud83d""#, r#""\ude00""#, r#""\ud83dx""#, r#""\ud83d\u0041""#, r#""\ud83d\ud83d""#, r#""a\udfff""#] {
            assert_eq!(error(lone).reason, "lone surrogate", "{lone}");
        }
        assert_eq!(error(r#""a\udfff""#).at, 2);
    }

    #[test]
    fn bad_strings_are_refused() {
        for (text, reason) in [
            (r#""\x""#, "invalid escape"),
            (r#""\u12""#, "invalid \\u escape"),
            (r#""\u12G4""#, "invalid \\u escape"),
            (r#""\"#, "invalid escape"),
            ("\"a\nb\"", "control character in a string"),
            ("\"abc", "unterminated string"),
            ("{\"a\" 1}", "expected ':'"),
            ("{1:2}", "expected a key"),
            ("{'a':1}", "expected a key"),
        ] {
            assert_eq!(error(text).reason, reason, "{text:?}");
        }
    }

    #[test]
    fn numbers_follow_the_grammar() {
        for bad in ["01", "-01", "1.", "-", "1e", "1e+", "+1", ".5", "1.e5", "0x1", "NaN", "Infinity", "-Infinity", "1_000"] {
            assert!(parse(bad).is_err(), "{bad}");
            assert_eq!(scaled(bad, 1), None, "{bad}");
        }
        assert_eq!(error("01"), JsonError { reason: "invalid number", at: 0 });
        assert_eq!(error("[1, -]"), JsonError { reason: "invalid number", at: 4 });
        for good in ["0", "-0", "7", "1.5", "1e5", "1E-5", "-12.50e+06"] {
            assert_eq!(parse(good), Ok(Value::Number(good.to_owned())), "{good}");
        }
    }

    #[test]
    fn nothing_may_follow_the_value() {
        for text in ["{} x", "1 2", "[1]]", "nullx", "truefalse", "\"a\"\"b\""] {
            assert_eq!(error(text).reason, "trailing characters", "{text}");
        }
        for (text, at) in [("", 0), ("   ", 3), ("[1,", 3), ("{\"a\":", 5)] {
            assert_eq!(error(text), JsonError { reason: "unexpected end", at }, "{text:?}");
        }
        assert_eq!(error("[1,]"), JsonError { reason: "unexpected character", at: 3 });
        assert_eq!(error("[1 2]").reason, "expected ',' or ']'");
        assert_eq!(error("tru").reason, "unexpected character");
        assert_eq!(error("[1,]").to_string(), "unexpected character at byte 3");
    }

    #[test]
    fn nesting_is_limited() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(&nested(MAX_DEPTH)).is_ok());
        assert_eq!(error(&nested(MAX_DEPTH + 1)), JsonError { reason: "nested too deeply", at: MAX_DEPTH });
        let objects = format!("{}1{}", "{\"a\":".repeat(MAX_DEPTH + 1), "}".repeat(MAX_DEPTH + 1));
        assert_eq!(error(&objects).reason, "nested too deeply");
        assert_eq!(error(&nested(100_000)).reason, "nested too deeply", "no stack overflow");
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_in_the_first_place() {
        let value = parse(r#"{"a":1,"b":2,"a":3,"c":4,"a":5,"b":6}"#).unwrap();
        assert_eq!(value.to_string(), r#"{"a":5,"b":6,"c":4}"#);
        assert_eq!(value.get("a"), Some(&Value::Number("5".into())));
        let many: Vec<String> = (0..50_000).map(|i| format!("\"k{}\":{i}", i % 40_000)).collect();
        let value = parse(&format!("{{{}}}", many.join(","))).unwrap();
        let members = value.as_object().unwrap();
        assert_eq!(members.len(), 40_000);
        assert_eq!((members[3].0.as_str(), members[3].1.as_u64()), ("k3", Some(40_003)));
        assert_eq!((members[39_999].0.as_str(), members[39_999].1.as_u64()), ("k39999", Some(39_999)));
    }

    #[test]
    fn objects_compare_without_regard_to_order() {
        assert_eq!(parse(r#"{"a":1,"b":[{"x":1,"y":2}]}"#), parse(r#"{"b":[{"y":2,"x":1}],"a":1}"#));
        assert_ne!(parse(r#"{"a":1}"#), parse(r#"{"a":1,"b":2}"#));
        assert_ne!(parse(r#"{"a":1,"b":2}"#), parse(r#"{"a":1}"#));
        assert_ne!(parse("[1,2]"), parse("[2,1]"));
        assert_ne!(parse("1.0"), parse("1"));
    }

    #[test]
    fn integers_are_read_strictly() {
        let number = |n: &str| Value::Number(n.into());
        assert_eq!(number("7").as_u64(), Some(7));
        for not in ["7.0", "7e0", "-0", "-1"] {
            assert_eq!(number(not).as_u64(), None, "{not}");
        }
        assert_eq!(Value::String("7".into()).as_u64(), None);
        assert_eq!(number("65535").as_uint::<u16>(), Some(65_535));
        assert_eq!(number("65536").as_uint::<u16>(), None);
    }

    #[test]
    fn times_read_from_any_number_as_whole_milliseconds() {
        let ms = |n: &str| Value::Number(n.into()).as_ms();
        assert_eq!(ms("1764061234567.891"), Some(1_764_061_234_568.0));
        assert_eq!(ms("1764061234567.4"), Some(1_764_061_234_567.0));
        assert_eq!(ms("1764061234567"), Some(1_764_061_234_567.0));
        assert_eq!(ms("1.764061234567891e12"), Some(1_764_061_234_568.0));
        assert_eq!(ms("1.5e3"), Some(1_500.0));
        assert_eq!(ms("-2.5"), Some(-3.0));
        assert_eq!(ms("1e-400"), Some(0.0));
        assert_eq!(ms("0e999999999999999999999"), Some(0.0));
        assert_eq!(ms("1e400"), None);
        assert_eq!(Value::String("1".into()).as_ms(), None);
        let mut written = String::new();
        Ms(1_764_061_234_567.891).write_json(&mut written);
        Ms(-2.5).write_json(&mut written);
        assert_eq!(written, "1764061234568-3");
        assert_eq!(to_string(&Ms(-0.4)), "0", "no negative zero");
        assert_eq!(to_string(&Ms(0.5)), "1");
    }

    #[test]
    fn scaled_numbers_are_rounded_exactly() {
        assert_eq!(scaled("0.5", 60_000), Some((30_000, true)));
        assert_eq!(scaled("90", 60_000), Some((5_400_000, true)));
        assert_eq!(scaled("0.30000000000000004", 60_000), Some((18_000, false)));
        assert_eq!(scaled("7.0", 1), Some((7, true)));
        assert_eq!(scaled("70e-1", 1), Some((7, true)));
        assert_eq!(scaled("2.5", 1), Some((3, false)));
        assert_eq!(scaled("2.4999999999999999999999999999999999999999", 1), Some((2, false)));
        assert_eq!(scaled("1.0000000000000000000000000000000000000001", 1), Some((1, false)));
        assert_eq!(scaled("9223372036854775807", 1), Some((i64::MAX, true)));
        assert_eq!(scaled("9223372036854775808", 1), None);
        assert_eq!(scaled("-9223372036854775807", 1), Some((-i64::MAX, true)));
        for not in [" 5", "5 ", "", "five"] {
            assert_eq!(scaled(not, 1), None, "{not:?}");
        }
    }

    #[test]
    fn fields_are_required_or_optional() {
        let v = parse(r#"{"n":1,"s":"x","null":null}"#).unwrap();
        assert_eq!(v.field("n", Value::as_u64), Ok(1));
        assert_eq!(v.field("s", Value::as_u64), Err(BadField("s")));
        assert_eq!(v.field("gone", Value::as_u64), Err(BadField("gone")));
        assert_eq!(v.opt_field("gone", Value::as_u64), Ok(None));
        assert_eq!(v.opt_field("null", Value::as_u64), Ok(None));
        assert_eq!(v.opt_field("s", Value::as_u64), Err(BadField("s")));
        assert_eq!(BadField("s").to_string(), "'s' is missing or invalid");
    }

    #[test]
    fn objects_are_written_member_by_member() {
        let text = object(|o| {
            o.field("s", "a\"b")
                .field("n", &7u64)
                .field("none", &None::<u32>)
                .some("skipped", &None::<u32>)
                .some("kept", &Some(true))
                .field("pairs", &vec![("a".to_owned(), "b".to_owned())])
        });
        assert_eq!(text, r#"{"s":"a\"b","n":7,"none":null,"kept":true,"pairs":[["a","b"]]}"#);
        assert_eq!(object(|o| o), "{}");
    }
}
