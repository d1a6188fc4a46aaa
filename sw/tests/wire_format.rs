//! The exact JSON text the worker writes: records in IndexedDB, messages to pages, its own
//! answers and batch requests. Pages, stored queues and servers depend on it, so any change here
//! is a change of the wire format.

use offline_sync::batch;
use offline_sync::dead_letter::DeadLetter;
use offline_sync::entry::Entry;
use offline_sync::protocol::{coalesced_answer, error_answer, queued_answer, Event, PendingEntry, Status};

/// Quotes, backslashes, control characters, non-ASCII and an astral character.
const AWKWARD: &str = "a\"b\\c/\n\r\t\u{8}\u{c}\u{1}\u{1f} é ✓ 😀 </script>";

fn full_entry() -> Entry {
    Entry {
        id: Some(42),
        method: "PATCH".into(),
        url: "https://app.example/api/tasks/7?x=1&y=é".into(),
        headers: vec![("content-type".into(), "application/json".into()), ("Idempotency-Key".into(), "k-42".into())],
        idempotency_key: "k-42".into(),
        record: Some("tasks/7".into()),
        credentials: Some("include".into()),
        queued_at: 1_764_061_234_567.0,
        attempts: 3,
        refusals: 2,
        next_attempt_at: Some(1_764_061_240_000.0),
        last_status: Some(503),
        last_error: Some(AWKWARD.into()),
    }
}

fn bare_entry() -> Entry {
    Entry {
        id: None,
        method: "POST".into(),
        url: "https://app.example/api/tasks".into(),
        headers: Vec::new(),
        idempotency_key: "k-1".into(),
        record: None,
        credentials: None,
        queued_at: 1_764_061_234_567.891,
        attempts: 0,
        refusals: 0,
        next_attempt_at: None,
        last_status: None,
        last_error: None,
    }
}

fn letter() -> DeadLetter {
    DeadLetter {
        id: 42,
        reason: "HTTP 503 after 5 retryable answers".into(),
        status: Some(503),
        answer: Some("{\"error\":\"busy\"}".into()),
        dead_at: 1_764_061_299_999.0,
        entry: Some(full_entry()),
    }
}

fn unreadable_letter() -> DeadLetter {
    DeadLetter { id: 9, reason: "queue record has no method or URL".into(), status: None, answer: None, dead_at: 12.0, entry: None }
}

fn status() -> Status {
    Status {
        pending: 3,
        syncing: true,
        last_sync_at: Some(1_764_061_234_000.0),
        last_error: Some("network error: Failed to fetch".into()),
        dead_letters: 1,
        auth_required: false,
        coalesced: 7,
    }
}

/// Every serialised shape, named, with the text it produces.
fn written() -> Vec<(&'static str, String)> {
    let (full, bare) = (full_entry(), bare_entry());
    vec![
        ("entry, every field", full.to_json()),
        ("entry, no optional field", bare.to_json()),
        ("dead letter", letter().to_json()),
        ("dead letter, unreadable record", unreadable_letter().to_json()),
        ("event status", Event::Status(status()).to_json()),
        ("event status, defaults", Event::Status(Status::default()).to_json()),
        ("event queued", Event::Queued { id: 4, method: "POST".into(), url: "/api/tasks".into(), pending: 2 }.to_json()),
        ("event replayed", Event::replayed(&full, 201, AWKWARD.as_bytes()).to_json()),
        ("event expired", Event::Expired { id: 1, method: "POST".into(), url: "u".into(), queued_at: 3.0 }.to_json()),
        ("event failed", Event::failed(&full).to_json()),
        ("event failed, no id or status", Event::failed(&bare).to_json()),
        (
            "event dead-lettered",
            Event::DeadLettered { id: 2, method: Some("PUT".into()), url: Some("u".into()), status: Some(422), reason: "refused".into() }.to_json(),
        ),
        (
            "event dead-lettered, unreadable",
            Event::DeadLettered { id: 2, method: None, url: None, status: None, reason: "unreadable".into() }.to_json(),
        ),
        ("event coalesced", Event::Coalesced { into: 4, method: "PATCH".into(), url: "u".into(), cancelled: false, pending: 1 }.to_json()),
        ("event coalesced, cancelled", Event::Coalesced { into: 4, method: "DELETE".into(), url: "u".into(), cancelled: true, pending: 0 }.to_json()),
        ("event auth-required", Event::AuthRequired { id: 5, method: "POST".into(), url: "u".into(), status: 401 }.to_json()),
        ("event pending", Event::Pending { entries: vec![PendingEntry::from(&full), PendingEntry::from(&bare)] }.to_json()),
        ("event pending, empty", Event::Pending { entries: Vec::new() }.to_json()),
        ("event dead-letters", Event::DeadLetters { entries: vec![letter().view(), unreadable_letter().view(), DeadLetter::listed(5, Some("{}"))] }.to_json()),
        ("event error", Event::Error { message: AWKWARD.into() }.to_json()),
        ("answer queued", queued_answer(12, 3)),
        ("answer coalesced", coalesced_answer(4, false, 2)),
        ("answer coalesced, cancelled", coalesced_answer(4, true, 1)),
        ("answer error", error_answer(AWKWARD)),
        ("batch", batch::encode(&[(&full, "{\"title\":\"t\"}"), (&bare, "")], "https://app.example")),
    ]
}

/// Taken from the serde_json-based worker. Since then, times (`queuedAt`, `nextAttemptAt`, `deadAt`,
/// `lastSyncAt`) are written in whole milliseconds: `1764061234567` where serde wrote
/// `1764061234567.0`, and `1764061234568` for `1764061234567.891`. Pages and IndexedDB get them
/// through `JSON.parse`, so only the fraction of a millisecond is gone.
const EXPECTED: [(&str, &str); 25] = [
    ("entry, every field", r#"{"id":42,"method":"PATCH","url":"https://app.example/api/tasks/7?x=1&y=é","headers":[["content-type","application/json"],["Idempotency-Key","k-42"]],"idempotencyKey":"k-42","record":"tasks/7","credentials":"include","queuedAt":1764061234567,"attempts":3,"refusals":2,"nextAttemptAt":1764061240000,"lastStatus":503,"lastError":"a\"b\\c/\n\r\t\b\f\u0001\u001f é ✓ 😀 </script>"}"#),
    ("entry, no optional field", r#"{"method":"POST","url":"https://app.example/api/tasks","headers":[],"idempotencyKey":"k-1","queuedAt":1764061234568,"attempts":0,"refusals":0}"#),
    ("dead letter", r#"{"id":42,"reason":"HTTP 503 after 5 retryable answers","status":503,"answer":"{\"error\":\"busy\"}","deadAt":1764061299999,"entry":{"id":42,"method":"PATCH","url":"https://app.example/api/tasks/7?x=1&y=é","headers":[["content-type","application/json"],["Idempotency-Key","k-42"]],"idempotencyKey":"k-42","record":"tasks/7","credentials":"include","queuedAt":1764061234567,"attempts":3,"refusals":2,"nextAttemptAt":1764061240000,"lastStatus":503,"lastError":"a\"b\\c/\n\r\t\b\f\u0001\u001f é ✓ 😀 </script>"}}"#),
    ("dead letter, unreadable record", r#"{"id":9,"reason":"queue record has no method or URL","status":null,"answer":null,"deadAt":12,"entry":null}"#),
    ("event status", r#"{"type":"offline-sync:status","pending":3,"syncing":true,"lastSyncAt":1764061234000,"lastError":"network error: Failed to fetch","deadLetters":1,"authRequired":false,"coalesced":7}"#),
    ("event status, defaults", r#"{"type":"offline-sync:status","pending":0,"syncing":false,"lastSyncAt":null,"lastError":null,"deadLetters":0,"authRequired":false,"coalesced":0}"#),
    ("event queued", r#"{"type":"offline-sync:queued","id":4,"method":"POST","url":"/api/tasks","pending":2}"#),
    ("event replayed", r#"{"type":"offline-sync:replayed","id":42,"method":"PATCH","url":"https://app.example/api/tasks/7?x=1&y=é","status":201,"body":"a\"b\\c/\n\r\t\b\f\u0001\u001f é ✓ 😀 </script>","bodyTruncated":false}"#),
    ("event expired", r#"{"type":"offline-sync:expired","id":1,"method":"POST","url":"u","queuedAt":3}"#),
    ("event failed", r#"{"type":"offline-sync:failed","id":42,"method":"PATCH","url":"https://app.example/api/tasks/7?x=1&y=é","status":503,"error":"a\"b\\c/\n\r\t\b\f\u0001\u001f é ✓ 😀 </script>","attempts":3}"#),
    ("event failed, no id or status", r#"{"type":"offline-sync:failed","id":null,"method":"POST","url":"https://app.example/api/tasks","status":null,"error":"","attempts":0}"#),
    ("event dead-lettered", r#"{"type":"offline-sync:dead-lettered","id":2,"method":"PUT","url":"u","status":422,"reason":"refused"}"#),
    ("event dead-lettered, unreadable", r#"{"type":"offline-sync:dead-lettered","id":2,"method":null,"url":null,"status":null,"reason":"unreadable"}"#),
    ("event coalesced", r#"{"type":"offline-sync:coalesced","into":4,"method":"PATCH","url":"u","cancelled":false,"pending":1}"#),
    ("event coalesced, cancelled", r#"{"type":"offline-sync:coalesced","into":4,"method":"DELETE","url":"u","cancelled":true,"pending":0}"#),
    ("event auth-required", r#"{"type":"offline-sync:auth-required","id":5,"method":"POST","url":"u","status":401}"#),
    ("event pending", r#"{"type":"offline-sync:pending","entries":[{"id":42,"method":"PATCH","url":"https://app.example/api/tasks/7?x=1&y=é","queuedAt":1764061234567,"attempts":3,"nextAttemptAt":1764061240000,"lastStatus":503,"lastError":"a\"b\\c/\n\r\t\b\f\u0001\u001f é ✓ 😀 </script>"},{"id":null,"method":"POST","url":"https://app.example/api/tasks","queuedAt":1764061234568,"attempts":0,"nextAttemptAt":null,"lastStatus":null,"lastError":null}]}"#),
    ("event pending, empty", r#"{"type":"offline-sync:pending","entries":[]}"#),
    ("event dead-letters", r#"{"type":"offline-sync:dead-letters","entries":[{"id":42,"method":"PATCH","url":"https://app.example/api/tasks/7?x=1&y=é","status":503,"reason":"HTTP 503 after 5 retryable answers","answer":"{\"error\":\"busy\"}","queuedAt":1764061234567,"deadAt":1764061299999,"attempts":3},{"id":9,"method":null,"url":null,"status":null,"reason":"queue record has no method or URL","answer":null,"queuedAt":null,"deadAt":12,"attempts":0},{"id":5,"method":null,"url":null,"status":null,"reason":"this dead letter could not be read (missing field `id` at line 1 column 2); discard it","answer":null,"queuedAt":null,"deadAt":null,"attempts":0}]}"#),
    ("event error", r#"{"type":"offline-sync:error","message":"a\"b\\c/\n\r\t\b\f\u0001\u001f é ✓ 😀 </script>"}"#),
    ("answer queued", r#"{"id":12,"pending":3,"queued":true}"#),
    ("answer coalesced", r#"{"coalesced":true,"id":4,"pending":2,"queued":true}"#),
    ("answer coalesced, cancelled", r#"{"cancelled":4,"coalesced":true,"pending":1,"queued":false}"#),
    ("answer error", r#"{"error":"a\"b\\c/\n\r\t\b\f\u0001\u001f é ✓ 😀 </script>","queued":false}"#),
    ("batch", r#"{"requests":[{"method":"PATCH","url":"/api/tasks/7?x=1&y=é","headers":[["content-type","application/json"],["Idempotency-Key","k-42"]],"body":"{\"title\":\"t\"}"},{"method":"POST","url":"/api/tasks","headers":[],"body":null}]}"#),
];

#[test]
fn the_worker_writes_exactly_the_documented_json() {
    let written = written();
    assert_eq!(written.len(), EXPECTED.len());
    for ((name, text), (expected_name, expected)) in written.iter().zip(EXPECTED) {
        assert_eq!(*name, expected_name);
        assert_eq!(text, expected, "{name}");
    }
}


/// Records written by the serde-based worker (fractional times, `.0` on whole ones, fields in any
/// order, plus the `body` the shell stores beside them) must still be read.
#[test]
fn records_written_by_earlier_versions_still_read() {
    let old_entry = r#"{"body":"{\"title\":\"t\"}","queuedAt":1764061234567.891,"url":"https://app.example/api/tasks","method":"POST",
        "headers":[["content-type","application/json"]],"idempotencyKey":"k","attempts":2,"refusals":1,
        "nextAttemptAt":1764061240000.5,"lastStatus":503,"lastError":"HTTP 503","id":7}"#;
    let entry = Entry::from_json(old_entry).expect("an old entry reads");
    assert_eq!((entry.id, entry.attempts, entry.refusals, entry.last_status), (Some(7), 2, 1, Some(503)));
    assert!((entry.queued_at - 1_764_061_234_567.891).abs() < 1.0, "{}", entry.queued_at);
    assert!((entry.next_attempt_at.unwrap_or_default() - 1_764_061_240_000.5).abs() < 1.0);

    let old_letter = r#"{"id":7,"reason":"r","status":null,"answer":null,"deadAt":1764061299999.25,"entry":{"id":7,"method":"POST",
        "url":"u","headers":[],"idempotencyKey":"k","queuedAt":1.5e3}}"#;
    let letter = DeadLetter::from_json(old_letter).expect("an old dead letter reads");
    assert!((letter.dead_at - 1_764_061_299_999.25).abs() < 1.0);
    assert_eq!(letter.entry.map(|e| e.queued_at), Some(1_500.0));
}

#[test]
fn what_is_written_reads_back() {
    for entry in [full_entry(), bare_entry()] {
        let read = Entry::from_json(&entry.to_json()).expect("reads");
        assert_eq!(Entry::from_json(&read.to_json()), Ok(read));
    }
    for letter in [letter(), unreadable_letter()] {
        let read = DeadLetter::from_json(&letter.to_json()).expect("reads");
        assert_eq!(DeadLetter::from_json(&read.to_json()), Some(read));
    }
}
