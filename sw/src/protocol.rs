//! What the worker and its pages say to each other: status, per-entry events, requests, answers.

use crate::dead_letter::DeadLetterView;
use crate::entry::Entry;
use crate::error::Error;
use serde::Serialize;
use serde_json::Value;

/// How much of a replayed answer's body a page is shown (enough to adopt a server-assigned id).
pub const REPLAY_BODY_LIMIT: usize = 16 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub pending: u32,
    pub syncing: bool,
    /// When the last replay finished, in milliseconds since the epoch.
    #[serde(with = "crate::millis::option")]
    pub last_sync_at: Option<f64>,
    pub last_error: Option<String>,
    pub dead_letters: u32,
    /// The server refused the credentials: replay waits for `setReplayHeaders`.
    pub auth_required: bool,
    /// Sends saved by coalescing since the worker started.
    pub coalesced: u32,
}

/// A queue entry as a page sees it (no headers or body: those may hold secrets).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingEntry {
    pub id: Option<u64>,
    pub method: String,
    pub url: String,
    #[serde(with = "crate::millis")]
    pub queued_at: f64,
    pub attempts: u32,
    #[serde(with = "crate::millis::option")]
    pub next_attempt_at: Option<f64>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
}

impl From<&Entry> for PendingEntry {
    fn from(e: &Entry) -> Self {
        PendingEntry {
            id: e.id,
            method: e.method.clone(),
            url: e.url.clone(),
            queued_at: e.queued_at,
            attempts: e.attempts,
            next_attempt_at: e.next_attempt_at,
            last_status: e.last_status,
            last_error: e.last_error.clone(),
        }
    }
}

/// Messages posted to pages. Each is written as `{"type": "offline-sync:…", …}`, fields in
/// camelCase and `None` as null.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum Event {
    #[serde(rename = "offline-sync:status")]
    Status(Status),
    #[serde(rename = "offline-sync:queued")]
    Queued { id: u64, method: String, url: String, pending: u32 },
    #[serde(rename = "offline-sync:replayed")]
    Replayed { id: u64, method: String, url: String, status: u16, body: String, body_truncated: bool },
    #[serde(rename = "offline-sync:expired")]
    Expired {
        id: u64,
        method: String,
        url: String,
        #[serde(with = "crate::millis")]
        queued_at: f64,
    },
    #[serde(rename = "offline-sync:failed")]
    Failed { id: Option<u64>, method: String, url: String, status: Option<u16>, error: String, attempts: u32 },
    #[serde(rename = "offline-sync:dead-lettered")]
    DeadLettered { id: u64, method: Option<String>, url: Option<String>, status: Option<u16>, reason: String },
    /// A new operation merged into a waiting one (`cancelled`: a create and its delete, both gone).
    #[serde(rename = "offline-sync:coalesced")]
    Coalesced { into: u64, method: String, url: String, cancelled: bool, pending: u32 },
    #[serde(rename = "offline-sync:auth-required")]
    AuthRequired { id: u64, method: String, url: String, status: u16 },
    #[serde(rename = "offline-sync:pending")]
    Pending { entries: Vec<PendingEntry> },
    #[serde(rename = "offline-sync:dead-letters")]
    DeadLetters { entries: Vec<DeadLetterView> },
    /// The answer to a request that could not be done.
    #[serde(rename = "offline-sync:error")]
    Error { message: String },
}

impl Event {
    /// One readable line for the console (the `debug` option).
    pub fn describe(&self) -> String {
        match self {
            Event::Status(s) => format!("status: {} pending, {} dead letters{}", s.pending, s.dead_letters, if s.syncing { ", syncing" } else { "" }),
            Event::Queued { id, method, url, pending } => format!("queued {method} {url} as entry {id} ({pending} pending)"),
            Event::Replayed { id, method, url, status, .. } => format!("replayed entry {id}, {method} {url} → {status}"),
            Event::Expired { id, method, url, .. } => format!("expired entry {id}, {method} {url}: never sent"),
            Event::Failed { id, method, url, error, attempts, .. } => {
                format!("entry {} ({method} {url}) failed: {error}, attempt {attempts}; it will be retried", id.unwrap_or_default())
            }
            Event::DeadLettered { id, method, url, reason, .. } => format!(
                "entry {id} ({} {}) moved to dead letters: {reason}",
                method.as_deref().unwrap_or("?"),
                url.as_deref().unwrap_or("?")
            ),
            Event::Coalesced { into, method, url, cancelled: true, .. } => format!("{method} {url} cancelled entry {into}: nothing will be sent"),
            Event::Coalesced { into, method, url, .. } => format!("{method} {url} merged into entry {into}"),
            Event::AuthRequired { id, method, url, status } => format!("entry {id} ({method} {url}) got {status}: replay waits for setReplayHeaders"),
            Event::Pending { entries } => format!("{} entries pending", entries.len()),
            Event::DeadLetters { entries } => format!("{} dead letters", entries.len()),
            Event::Error { message } => format!("error: {message}"),
        }
    }

    pub fn to_json(&self) -> String {
        to_json(self)
    }

    pub fn replayed(entry: &Entry, status: u16, body: &[u8]) -> Event {
        let (body, body_truncated) = bounded_text(body, REPLAY_BODY_LIMIT);
        Event::Replayed {
            id: entry.id.unwrap_or_default(),
            method: entry.method.clone(),
            url: entry.url.clone(),
            status,
            body,
            body_truncated,
        }
    }

    pub fn failed(entry: &Entry) -> Event {
        Event::Failed {
            id: entry.id,
            method: entry.method.clone(),
            url: entry.url.clone(),
            status: entry.last_status,
            error: entry.last_error.clone().unwrap_or_default(),
            attempts: entry.attempts,
        }
    }
}

/// What a page asked of the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    GetStatus,
    GetPending,
    GetDeadLetters,
    Replay,
    /// The page saw the network come back: replay where Background Sync will not.
    Online,
    RetryDeadLetter(u64),
    DiscardDeadLetter(u64),
    /// Headers (e.g. a fresh `Authorization`) added to every later replay; kept in memory only.
    SetReplayHeaders(Vec<(String, String)>),
}

/// `Ok(None)`: not addressed to offline-sync (another part of the app's worker may want it);
/// `Err`: addressed to it, but malformed, and why.
pub fn parse_request(message: &Value) -> Result<Option<Request>, String> {
    let Some(kind) = message.get("type").and_then(Value::as_str) else {
        return Ok(None);
    };
    let Some(name) = kind.strip_prefix("offline-sync:") else {
        return Ok(None);
    };
    let id = || {
        message.get("id").and_then(Value::as_u64).ok_or_else(|| format!("ignored '{kind}' without a numeric id"))
    };
    match name {
        "get-status" => Ok(Some(Request::GetStatus)),
        "get-pending" => Ok(Some(Request::GetPending)),
        "get-dead-letters" => Ok(Some(Request::GetDeadLetters)),
        "replay" => Ok(Some(Request::Replay)),
        "online" => Ok(Some(Request::Online)),
        "retry-dead-letter" => id().map(|id| Some(Request::RetryDeadLetter(id))),
        "discard-dead-letter" => id().map(|id| Some(Request::DiscardDeadLetter(id))),
        "set-replay-headers" => replay_headers(message.get("headers")).map(|h| Some(Request::SetReplayHeaders(h))),
        _ => Err(format!("ignored unknown message type '{kind}'")),
    }
}

fn replay_headers(headers: Option<&Value>) -> Result<Vec<(String, String)>, String> {
    let bad = || "ignored 'set-replay-headers': headers must be an object of strings".to_owned();
    let members = headers.and_then(Value::as_object).ok_or_else(bad)?;
    members
        .iter()
        .map(|(name, value)| {
            let value = value.as_str().ok_or_else(bad)?;
            let valid_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            // What `Headers` takes (a byte string with no NUL or line break): any other value
            // would make every replay fail as it builds its request.
            let valid_value = value.chars().all(|c| c <= '\u{ff}' && !matches!(c, '\0' | '\r' | '\n'));
            if !valid_name {
                return Err(format!("ignored 'set-replay-headers': '{name}' is not a valid header name"));
            }
            if !valid_value {
                return Err(format!("ignored 'set-replay-headers': the value of '{name}' must be Latin-1 text with no NUL or line break"));
            }
            Ok((name.clone(), value.to_owned()))
        })
        .collect()
}

/// Our own plain data as JSON text: it has no map with non-string keys and no failing
/// `Serialize`, the only ways serde_json can refuse.
pub fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| unreachable!("plain data always serialises"))
}

// The answers' members are in alphabetical order: the text pages have always had (serde_json's maps sorted them).

/// The body of the 202 a page gets once its request is safely queued.
pub fn queued_answer(id: u64, pending: u32) -> String {
    #[derive(Serialize)]
    struct Queued {
        id: u64,
        pending: u32,
        queued: bool,
    }
    to_json(&Queued { id, pending, queued: true })
}

/// The 202 body when the request merged into waiting entry `into` (or cancelled it with a delete).
pub fn coalesced_answer(into: u64, cancelled: bool, pending: u32) -> String {
    #[derive(Serialize)]
    struct Merged {
        coalesced: bool,
        id: u64,
        pending: u32,
        queued: bool,
    }
    #[derive(Serialize)]
    struct Cancelled {
        cancelled: u64,
        coalesced: bool,
        pending: u32,
        queued: bool,
    }
    if cancelled {
        to_json(&Cancelled { cancelled: into, coalesced: true, pending, queued: false })
    } else {
        to_json(&Merged { coalesced: true, id: into, pending, queued: true })
    }
}

/// The body of an error answer the worker makes itself (the server never saw the request).
pub fn error_answer(message: &str) -> String {
    #[derive(Serialize)]
    struct Refused<'m> {
        error: &'m str,
        queued: bool,
    }
    to_json(&Refused { error: message, queued: false })
}

/// An answer the worker gives a page in the server's place.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// 202: kept as entry `id`, with `pending` entries waiting.
    Queued { id: u64, pending: u32 },
    /// 202: merged into waiting entry `into`, or, `cancelled`, deleted what it creates.
    Coalesced { into: u64, cancelled: bool, pending: u32 },
    /// 413: not delivered, and its body is more than the queue may hold (`maxBodyBytes`).
    TooLarge(String),
    /// 507: not delivered, and it could not be stored.
    NotStored(String),
}

impl Answer {
    /// Says what was not queued and why, for the page and the console.
    pub fn too_large(method: &str, url: &str, size: u64, max_body_bytes: u64) -> Answer {
        Answer::TooLarge(format!("offline-sync did not queue {method} {url}: its body is {size} bytes, over maxBodyBytes ({max_body_bytes})"))
    }

    pub fn not_stored(e: &Error) -> Answer {
        Answer::NotStored(format!("offline-sync could not queue the request: {e}"))
    }

    /// Why it was not queued, for the console too.
    pub fn refusal(&self) -> Option<&str> {
        match self {
            Answer::TooLarge(message) | Answer::NotStored(message) => Some(message),
            Answer::Queued { .. } | Answer::Coalesced { .. } => None,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Answer::Queued { .. } | Answer::Coalesced { .. } => 202,
            Answer::TooLarge(_) => 413,
            Answer::NotStored(_) => 507,
        }
    }

    pub fn body(&self) -> String {
        match self {
            Answer::Queued { id, pending } => queued_answer(*id, *pending),
            Answer::Coalesced { into, cancelled, pending } => coalesced_answer(*into, *cancelled, *pending),
            Answer::TooLarge(message) | Answer::NotStored(message) => error_answer(message),
        }
    }
}

/// Up to `limit` bytes of `bytes` as text, cut at a character boundary; `true` if cut.
pub fn bounded_text(bytes: &[u8], limit: usize) -> (String, bool) {
    if bytes.len() <= limit {
        return (String::from_utf8_lossy(bytes).into_owned(), false);
    }
    let mut end = limit;
    // Step back over UTF-8 continuation bytes so no character is split in two.
    while end > 0 && (bytes[end] & 0b1100_0000) == 0b1000_0000 {
        end -= 1;
    }
    (String::from_utf8_lossy(&bytes[..end]).into_owned(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn status_has_the_documented_shape() {
        let s = Event::Status(Status {
            pending: 2,
            syncing: true,
            last_sync_at: Some(5.0),
            last_error: None,
            dead_letters: 1,
            auth_required: false,
            coalesced: 0,
        });
        assert_eq!(
            parse(&s.to_json()),
            parse(r#"{"type": "offline-sync:status", "pending": 2, "syncing": true, "lastSyncAt": 5, "lastError": null,
                   "deadLetters": 1, "authRequired": false, "coalesced": 0}"#)
        );
    }

    #[test]
    fn events_carry_their_type_and_camel_case_fields() {
        let e = Event::Expired { id: 1, method: "POST".into(), url: "u".into(), queued_at: 3.0 };
        assert_eq!(
            parse(&e.to_json()),
            parse(r#"{"type": "offline-sync:expired", "id": 1, "method": "POST", "url": "u", "queuedAt": 3}"#)
        );
        let q = Event::Queued { id: 4, method: "PUT".into(), url: "u".into(), pending: 9 };
        assert_eq!(parse(&q.to_json()).get("type").and_then(Value::as_str), Some("offline-sync:queued"));
    }

    #[test]
    fn events_read_as_one_line_each() {
        let q = Event::Queued { id: 4, method: "POST".into(), url: "/api/tasks".into(), pending: 2 };
        assert_eq!(q.describe(), "queued POST /api/tasks as entry 4 (2 pending)");
        let c = Event::Coalesced { into: 4, method: "DELETE".into(), url: "/api/tasks/1".into(), cancelled: true, pending: 0 };
        assert_eq!(c.describe(), "DELETE /api/tasks/1 cancelled entry 4: nothing will be sent");
        let d = Event::DeadLettered { id: 2, method: None, url: None, status: None, reason: "unreadable".into() };
        assert_eq!(d.describe(), "entry 2 (? ?) moved to dead letters: unreadable");
    }

    #[test]
    fn replayed_event_bounds_the_answer_body() {
        let entry = crate::entry::Entry::from_json(
            r#"{"id":1,"method":"POST","url":"u","headers":[],"idempotencyKey":"k","queuedAt":1}"#,
        )
        .unwrap();
        let big = vec![b'a'; REPLAY_BODY_LIMIT + 10];
        let v = parse(&Event::replayed(&entry, 201, &big).to_json());
        assert_eq!(v.get("status").and_then(Value::as_u64), Some(201));
        assert_eq!(v.get("bodyTruncated").and_then(Value::as_bool), Some(true));
        assert_eq!(v.get("body").and_then(Value::as_str).map(str::len), Some(REPLAY_BODY_LIMIT));
        let v = parse(&Event::replayed(&entry, 201, br#"{"id":"s-1"}"#).to_json());
        assert_eq!((v.get("body").and_then(Value::as_str), v.get("bodyTruncated").and_then(Value::as_bool)), (Some(r#"{"id":"s-1"}"#), Some(false)));
    }

    #[test]
    fn bounded_text_never_splits_a_character() {
        let text = "aé€";
        let bytes = text.as_bytes();
        assert_eq!(bounded_text(bytes, 2), ("a".to_owned(), true));
        assert_eq!(bounded_text(bytes, 3), ("aé".to_owned(), true));
        assert_eq!(bounded_text(bytes, 6), ("aé€".to_owned(), false));
        assert_eq!(bounded_text(b"", 0), (String::new(), false));
    }

    #[test]
    fn requests_are_recognised_and_foreign_messages_left_alone() {
        assert_eq!(parse_request(&parse(r#"{"type": "offline-sync:replay"}"#)), Ok(Some(Request::Replay)));
        assert_eq!(parse_request(&parse(r#"{"type": "offline-sync:get-status"}"#)), Ok(Some(Request::GetStatus)));
        assert_eq!(parse_request(&parse(r#"{"type": "offline-sync:get-pending"}"#)), Ok(Some(Request::GetPending)));
        assert_eq!(parse_request(&parse(r#"{"type": "offline-sync:online"}"#)), Ok(Some(Request::Online)));
        assert_eq!(parse_request(&parse(r#"{"type": "SKIP_WAITING"}"#)), Ok(None));
        assert_eq!(parse_request(&parse(r#""hello""#)), Ok(None));
        assert_eq!(parse_request(&parse(r#"{"type": 5}"#)), Ok(None));
        assert!(parse_request(&parse(r#"{"type": "offline-sync:explode"}"#)).unwrap_err().contains("offline-sync:explode"));
    }

    #[test]
    fn dead_letter_and_header_requests_are_checked() {
        assert_eq!(parse_request(&parse(r#"{"type": "offline-sync:retry-dead-letter", "id": 3}"#)), Ok(Some(Request::RetryDeadLetter(3))));
        assert_eq!(parse_request(&parse(r#"{"type": "offline-sync:discard-dead-letter", "id": 4}"#)), Ok(Some(Request::DiscardDeadLetter(4))));
        assert_eq!(parse_request(&parse(r#"{"type": "offline-sync:get-dead-letters"}"#)), Ok(Some(Request::GetDeadLetters)));
        assert!(parse_request(&parse(r#"{"type": "offline-sync:retry-dead-letter", "id": "3"}"#)).is_err());
        assert!(parse_request(&parse(r#"{"type": "offline-sync:discard-dead-letter"}"#)).is_err());
        assert_eq!(
            parse_request(&parse(r#"{"type": "offline-sync:set-replay-headers", "headers": {"Authorization": "Bearer new"}}"#)),
            Ok(Some(Request::SetReplayHeaders(vec![("Authorization".into(), "Bearer new".into())])))
        );
        assert_eq!(
            parse_request(&parse(r#"{"type": "offline-sync:set-replay-headers", "headers": {"X-Name": "José"}}"#)),
            Ok(Some(Request::SetReplayHeaders(vec![("X-Name".into(), "José".into())]))),
            "Latin-1 is a byte string"
        );
        for bad in ["null", r#"{"a": 1}"#, r#"{"bad name": "x"}"#, r#"{"x": "a\r\nInjected: 1"}"#, r#"{"x": "a\u0000b"}"#, r#"{"x": "名前"}"#, r#"["a"]"#] {
            let message = parse(&format!(r#"{{"type": "offline-sync:set-replay-headers", "headers": {bad}}}"#));
            assert!(parse_request(&message).is_err(), "{message}");
        }
    }

    #[test]
    fn answers_are_json_the_page_can_read() {
        assert_eq!(parse(&queued_answer(12, 3)), parse(r#"{"queued": true, "id": 12, "pending": 3}"#));
        assert_eq!(parse(&error_answer("quota")), parse(r#"{"queued": false, "error": "quota"}"#));
        assert_eq!(parse(&coalesced_answer(4, false, 2)), parse(r#"{"queued": true, "coalesced": true, "id": 4, "pending": 2}"#));
        assert_eq!(
            parse(&coalesced_answer(4, true, 1)),
            parse(r#"{"queued": false, "coalesced": true, "cancelled": 4, "pending": 1}"#)
        );
    }

    #[test]
    fn the_worker_answers_202_when_it_kept_a_mutation_413_when_it_may_not_and_507_when_storage_failed() {
        let answers = [
            (Answer::Queued { id: 12, pending: 3 }, 202, queued_answer(12, 3)),
            (Answer::Coalesced { into: 4, cancelled: true, pending: 1 }, 202, coalesced_answer(4, true, 1)),
            (Answer::too_large("PUT", "/api/x", 11, 10), 413, error_answer("offline-sync did not queue PUT /api/x: its body is 11 bytes, over maxBodyBytes (10)")),
            (Answer::not_stored(&Error::Storage("QuotaExceededError: full".into())), 507, error_answer("offline-sync could not queue the request: storage error: QuotaExceededError: full")),
        ];
        for (answer, status, body) in answers {
            assert_eq!((answer.status(), answer.body()), (status, body), "{answer:?}");
            assert_eq!(answer.refusal().is_some(), status != 202, "{answer:?}");
        }
    }
}
