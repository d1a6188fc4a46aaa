//! A queued mutation as plain data: what is stored beside its body bytes, and when it expires.

use crate::prelude::*;
use crate::json::{self, BadField, Ms, Obj, Value};

/// Everything needed to send the request again, except the body, which the shell keeps as bytes.
/// Stored as JSON with camelCase names; `None` fields are left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Queue position, assigned by the store (auto-increment): lower ids replay first.
    pub id: Option<u64>,
    pub method: String,
    pub url: String,
    /// In the order the page sent them, the Idempotency-Key included.
    pub headers: Vec<(String, String)>,
    /// Copied out of `headers` so that DevTools and the page can see it at a glance.
    pub idempotency_key: String,
    /// The record it changes (`collection/id`), when coalescing applies to it.
    pub record: Option<String>,
    /// The page's credentials mode, so a replay sends cookies exactly as the original would have.
    pub credentials: Option<String>,
    /// Milliseconds since the epoch.
    pub queued_at: f64,
    /// Every send, whatever came of it.
    pub attempts: u32,
    /// Retryable answers from the server (408, 429, 5xx…); `maxAttempts` of them make a dead letter.
    /// Network failures are not counted: they say nothing about the request itself.
    pub refusals: u32,
    /// Not to be sent before this time (back-off or `Retry-After`), in milliseconds since the epoch.
    pub next_attempt_at: Option<f64>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
}

/// Why a stored record cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordError(pub String);

impl Entry {
    /// Reads a stored record (as JSON), refusing one that could not be replayed faithfully.
    pub fn from_json(text: &str) -> Result<Entry, RecordError> {
        let unreadable = |e: &dyn core::fmt::Display| RecordError(format!("unreadable queue record: {e}"));
        let value = json::parse(text).map_err(|e| unreadable(&e))?;
        let entry = Entry::from_value(&value).map_err(|e| unreadable(&e))?;
        if entry.method.is_empty() || entry.url.is_empty() {
            return Err(RecordError("queue record has no method or URL".into()));
        }
        Ok(entry)
    }

    /// The fields of a stored record; unknown ones are ignored, missing counters are 0.
    pub fn from_value(v: &Value) -> Result<Entry, BadField> {
        Ok(Entry {
            id: v.opt_field("id", Value::as_u64)?,
            method: v.field("method", Value::as_string)?,
            url: v.field("url", Value::as_string)?,
            headers: v.field("headers", headers)?,
            idempotency_key: v.field("idempotencyKey", Value::as_string)?,
            record: v.opt_field("record", Value::as_string)?,
            credentials: v.opt_field("credentials", Value::as_string)?,
            queued_at: v.field("queuedAt", Value::as_ms)?,
            attempts: v.opt_field("attempts", Value::as_uint)?.unwrap_or(0),
            refusals: v.opt_field("refusals", Value::as_uint)?.unwrap_or(0),
            next_attempt_at: v.opt_field("nextAttemptAt", Value::as_ms)?,
            last_status: v.opt_field("lastStatus", Value::as_uint)?,
            last_error: v.opt_field("lastError", Value::as_string)?,
        })
    }

    pub fn to_json(&self) -> String {
        json::to_string(self)
    }

    /// An entry older than the retention time is never sent.
    pub fn is_expired(&self, now_ms: f64, max_retention_ms: f64) -> bool {
        now_ms - self.queued_at > max_retention_ms
    }
}

impl json::Write for Entry {
    fn write_json(&self, out: &mut String) {
        Obj::new(out)
            .some("id", &self.id)
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.headers)
            .field("idempotencyKey", &self.idempotency_key)
            .some("record", &self.record)
            .some("credentials", &self.credentials)
            .field("queuedAt", &Ms(self.queued_at))
            .field("attempts", &self.attempts)
            .field("refusals", &self.refusals)
            .some("nextAttemptAt", &self.next_attempt_at.map(Ms))
            .some("lastStatus", &self.last_status)
            .some("lastError", &self.last_error)
            .end();
    }
}

/// Headers as stored and batched: `[["name", "value"], …]`.
pub fn headers(v: &Value) -> Option<Vec<(String, String)>> {
    v.as_array()?
        .iter()
        .map(|pair| match pair.as_array()? {
            [name, value] => Some((name.as_str()?.to_owned(), value.as_str()?.to_owned())),
            _ => None,
        })
        .collect()
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
