//! What the replay suites share: an entry waiting to go to `url`, and appending one.

use offline_sync::entry::Entry;
use offline_sync::shell::queue::Queue;

/// A POST to `url` queued now, never tried, its key also sent as a header beside `headers`.
pub fn waiting(url: &str, key: &str, headers: Vec<(String, String)>) -> Entry {
    let mut all = vec![("idempotency-key".to_owned(), key.to_owned())];
    all.extend(headers);
    Entry {
        id: None,
        method: "POST".into(),
        url: url.into(),
        headers: all,
        idempotency_key: key.into(),
        record: None,
        credentials: None,
        queued_at: js_sys::Date::now(),
        attempts: 0,
        refusals: 0,
        next_attempt_at: None,
        last_status: None,
        last_error: None,
    }
}

/// One entry appended on its own (the worker's group commit, with nobody else waiting).
pub async fn push(queue: &Queue, entry: &Entry) -> u64 {
    queue.push_all(&[(entry.clone(), None)]).await.unwrap().0[0]
}
