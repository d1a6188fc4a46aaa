//! A queued mutation as plain data: what is stored beside its body bytes, and when it expires.

use serde::{Deserialize, Serialize};

/// Everything needed to send the request again, except the body, which the shell keeps as bytes.
/// Stored as JSON with camelCase names; `None` fields are left out. Unknown fields are ignored and
/// missing counters are 0, so records of earlier versions still read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Queue position, assigned by the store (auto-increment): lower ids replay first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub method: String,
    pub url: String,
    /// In the order the page sent them, the Idempotency-Key included: `[["name", "value"], …]`.
    pub headers: Vec<(String, String)>,
    /// Copied out of `headers` so that DevTools and the page can see it at a glance.
    pub idempotency_key: String,
    /// The record it changes (`collection/id`), when coalescing applies to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// The page's credentials mode, so a replay sends cookies exactly as the original would have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
    #[serde(with = "crate::millis")]
    pub queued_at: f64,
    /// Every send, whatever came of it (a queue-first entry counts its own from its commit).
    #[serde(default)]
    pub attempts: u32,
    /// Retryable answers from the server (408, 429, 5xx…); `maxAttempts` of them make a dead letter.
    /// Network failures are not counted: they say nothing about the request itself.
    #[serde(default)]
    pub refusals: u32,
    /// Not to be sent before this time (back-off or `Retry-After`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::millis::option")]
    pub next_attempt_at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Why a stored record cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordError(pub String);

impl Entry {
    /// Reads a stored record (as JSON), refusing one that could not be replayed faithfully.
    pub fn from_json(text: &str) -> Result<Entry, RecordError> {
        let entry: Entry = serde_json::from_str(text).map_err(|e| RecordError(format!("unreadable queue record: {e}")))?;
        if entry.method.is_empty() || entry.url.is_empty() {
            return Err(RecordError("queue record has no method or URL".into()));
        }
        Ok(entry)
    }

    pub fn to_json(&self) -> String {
        crate::protocol::to_json(self)
    }

    /// An entry older than the retention time is never sent.
    pub fn is_expired(&self, now_ms: f64, max_retention_ms: f64) -> bool {
        now_ms - self.queued_at > max_retention_ms
    }
}

/// The entry id a queue record's key stands for. The store only generates whole numbers from 1 up
/// to 2^53; any other key (a string, a fraction, a negative number) was written by other code.
pub fn queue_id(key: Option<f64>) -> Option<u64> {
    const MAX_GENERATED: f64 = 9_007_199_254_740_992.0;
    key.filter(|k| k.fract() == 0.0 && (1.0..=MAX_GENERATED).contains(k)).map(|k| k as u64)
}

/// Headers that carry credentials; kept out of IndexedDB unless `persistAuthorization` is set.
const CREDENTIAL_HEADERS: [&str; 2] = ["authorization", "cookie"];

/// The headers to write to storage.
pub fn headers_to_store(headers: Vec<(String, String)>, persist_authorization: bool) -> Vec<(String, String)> {
    if persist_authorization {
        return headers;
    }
    headers.into_iter().filter(|(name, _)| !CREDENTIAL_HEADERS.iter().any(|c| name.eq_ignore_ascii_case(c))).collect()
}

/// Whether a body of this content type is text, kept as text so DevTools shows it readably.
pub fn is_text(content_type: Option<&str>) -> bool {
    let Some(essence) = content_type.and_then(|c| c.split(';').next()) else { return false };
    let essence = essence.trim().to_ascii_lowercase();
    essence.starts_with("text/")
        || essence == "application/json"
        || essence.ends_with("+json")
        || essence == "application/x-www-form-urlencoded"
        || essence == "application/xml"
        || essence.ends_with("+xml")
}

/// The value of a header, matched without regard to case as HTTP requires.
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            id: Some(7),
            method: "POST".into(),
            url: "https://app.example/api/tasks".into(),
            headers: vec![("content-type".into(), "application/json".into()), ("Idempotency-Key".into(), "k1".into())],
            idempotency_key: "k1".into(),
            record: None,
            credentials: Some("same-origin".into()),
            queued_at: 1_000.0,
            attempts: 0,
            refusals: 0,
            next_attempt_at: None,
            last_status: None,
            last_error: None,
        }
    }

    #[test]
    fn only_keys_the_store_generates_are_entry_ids() {
        assert_eq!(queue_id(Some(1.0)), Some(1));
        assert_eq!(queue_id(Some(9_007_199_254_740_992.0)), Some(9_007_199_254_740_992));
        for foreign in [None, Some(0.0), Some(-3.0), Some(2.5), Some(f64::NAN), Some(f64::INFINITY), Some(1e300)] {
            assert_eq!(queue_id(foreign), None, "{foreign:?}");
        }
    }

    #[test]
    fn round_trips_through_json() {
        let e = entry();
        assert_eq!(Entry::from_json(&e.to_json()), Ok(e));
    }

    #[test]
    fn reads_records_with_extra_fields_and_defaults() {
        let text = r#"{"id":3,"method":"PUT","url":"https://a/api/x","headers":[["a","b"]],
            "idempotencyKey":"k","queuedAt":5,"body":{},"somethingNew":true}"#;
        let e = Entry::from_json(text).unwrap();
        assert_eq!((e.id, e.attempts, e.last_status), (Some(3), 0, None));
        assert_eq!(e.headers, vec![("a".to_owned(), "b".to_owned())]);
    }

    #[test]
    fn refuses_records_it_could_not_replay() {
        for bad in [
            "not json",
            r#"{"method":"POST"}"#,
            r#"{"method":"","url":"u","headers":[],"idempotencyKey":"k","queuedAt":1}"#,
            r#"{"method":"POST","url":"u","headers":"x","idempotencyKey":"k","queuedAt":1}"#,
            r#"{"method":"POST","url":"u","headers":[],"idempotencyKey":"k","queuedAt":"yesterday"}"#,
        ] {
            assert!(Entry::from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expires_only_after_the_retention_time() {
        let e = entry();
        assert!(!e.is_expired(1_000.0 + 60_000.0, 60_000.0));
        assert!(e.is_expired(1_000.0 + 60_001.0, 60_000.0));
        assert!(!e.is_expired(0.0, 60_000.0), "a clock set back does not expire entries");
    }

    #[test]
    fn credentials_are_stored_only_when_asked() {
        let headers = vec![
            ("Authorization".to_owned(), "Bearer t".to_owned()),
            ("cookie".to_owned(), "a=b".to_owned()),
            ("content-type".to_owned(), "text/plain".to_owned()),
        ];
        let kept = headers_to_store(headers.clone(), false);
        assert_eq!(kept, vec![("content-type".to_owned(), "text/plain".to_owned())]);
        assert_eq!(headers_to_store(headers.clone(), true), headers);
    }

    #[test]
    fn text_bodies_are_told_by_their_content_type() {
        for text in ["application/json", "text/plain;charset=UTF-8", "Application/JSON; charset=utf-8", "application/merge-patch+json", "application/x-www-form-urlencoded", "image/svg+xml"] {
            assert!(is_text(Some(text)), "{text}");
        }
        for bytes in ["application/octet-stream", "multipart/form-data; boundary=x", "image/png", ""] {
            assert!(!is_text(Some(bytes)), "{bytes}");
        }
        assert!(!is_text(None));
    }

    #[test]
    fn finds_headers_case_insensitively() {
        let e = entry();
        assert_eq!(header(&e.headers, "idempotency-key"), Some("k1"));
        assert_eq!(header(&e.headers, "Content-Type"), Some("application/json"));
        assert_eq!(header(&e.headers, "authorization"), None);
    }
}
