//! The `Idempotency-Key` header and what a key must match on a retry.
//!
//! The IETF draft sends the key as a structured-field string (`"8e03…"`); many clients send it
//! bare. Both are accepted, and both name the same key.

use std::fmt;

use sha2::{Digest, Sha256};

/// Longest key accepted, in characters.
pub const MAX_KEY_LEN: usize = 255;

/// Why a key was refused (each a 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The route requires a key and the request had none.
    Missing,
    /// The header was sent more than once.
    Repeated,
    Empty,
    NotAscii,
    TooLong,
    /// A quoted key whose quoting is broken (no closing quote, a stray backslash).
    BadQuoting,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "this route requires an Idempotency-Key header",
            Self::Repeated => "send one Idempotency-Key header, not several",
            Self::Empty => "the Idempotency-Key is empty",
            Self::NotAscii => "the Idempotency-Key must be printable ASCII",
            Self::TooLong => "the Idempotency-Key is longer than 255 characters",
            Self::BadQuoting => "the Idempotency-Key is a quoted string with broken quoting",
        })
    }
}

impl std::error::Error for KeyError {}

/// Reads one header value: a bare key, or a structured-field string (RFC 8941 §3.3.3).
pub fn parse(value: &[u8]) -> Result<String, KeyError> {
    let text = std::str::from_utf8(value)
        .ok()
        .filter(|t| t.bytes().all(|b| (0x20..0x7f).contains(&b)))
        .ok_or(KeyError::NotAscii)?
        .trim_matches(' ');
    let key = match text.strip_prefix('"') {
        Some(quoted) => unquote(quoted)?,
        None => text.to_owned(),
    };
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(KeyError::TooLong);
    }
    Ok(key)
}

/// The rest of a structured-field string after its opening quote.
fn unquote(rest: &str) -> Result<String, KeyError> {
    let mut key = String::with_capacity(rest.len());
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('"' | '\\')) => key.push(escaped),
                _ => return Err(KeyError::BadQuoting),
            },
            '"' if chars.as_str().is_empty() => return Ok(key),
            '"' => return Err(KeyError::BadQuoting),
            c => key.push(c),
        }
    }
    Err(KeyError::BadQuoting)
}

/// A keyed request: the key may only come back with the same method, path and body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyed {
    pub key: String,
    pub method: String,
    pub path: String,
    /// Lower-case hex.
    pub body_sha256: String,
}

impl Keyed {
    pub fn new(key: String, method: &str, path: &str, body: &[u8]) -> Self {
        let body_sha256 = Sha256::digest(body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self {
            key,
            method: method.to_owned(),
            path: path.to_owned(),
            body_sha256,
        }
    }

    /// Whether a stored fingerprint is this request's.
    pub fn matches(&self, method: &str, path: &str, body_sha256: &str) -> bool {
        self.method == method && self.path == path && self.body_sha256 == body_sha256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_and_quoted_keys_name_the_same_key() {
        assert_eq!(parse(b"8e03978e-40d5").as_deref(), Ok("8e03978e-40d5"));
        assert_eq!(parse(b"\"8e03978e-40d5\"").as_deref(), Ok("8e03978e-40d5"));
        assert_eq!(
            parse(br#""a \"quoted\" \\ key""#).as_deref(),
            Ok(r#"a "quoted" \ key"#)
        );
        assert_eq!(parse(b"  spaced  ").as_deref(), Ok("spaced"));
    }

    #[test]
    fn bad_keys_say_why() {
        assert_eq!(parse(b""), Err(KeyError::Empty));
        assert_eq!(parse(b"\"\""), Err(KeyError::Empty));
        assert_eq!(parse("clé".as_bytes()), Err(KeyError::NotAscii));
        assert_eq!(parse(b"tab\there"), Err(KeyError::NotAscii));
        assert_eq!(parse(&[b'k'; 256]), Err(KeyError::TooLong));
        assert!(parse(&[b'k'; 255]).is_ok());
        assert_eq!(parse(b"\"open"), Err(KeyError::BadQuoting));
        assert_eq!(parse(br#""a"b""#), Err(KeyError::BadQuoting));
        assert_eq!(parse(br#""a\x""#), Err(KeyError::BadQuoting));
    }

    #[test]
    fn the_fingerprint_covers_method_path_and_body() {
        let keyed = Keyed::new("k".into(), "POST", "/api/tasks", b"{}");
        let sha = keyed.body_sha256.clone();
        assert_eq!(sha.len(), 64);
        assert!(keyed.matches("POST", "/api/tasks", &sha));
        assert!(!keyed.matches("PUT", "/api/tasks", &sha));
        assert!(!keyed.matches("POST", "/api/tasks/1", &sha));
        assert_ne!(
            Keyed::new("k".into(), "POST", "/api/tasks", b"{ }").body_sha256,
            sha
        );
    }
}
