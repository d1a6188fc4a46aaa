//! Replaying many entries in one request (the `batchUrl` option): which entries may go in a
//! batch, and the wire format. The server applies the items in order and stops after the first
//! answer that is not 2xx, so a batch keeps the queue's order exactly as one-by-one sends do.

use crate::entry::{header, Entry};
use serde::{Deserialize, Deserializer, Serialize};

/// Most body bytes one batch carries (the demo server reads at most 1 MiB per request).
pub const MAX_BYTES: usize = 512 * 1024;

/// One item's answer: `{status, headers?, body?}`; an item the server left without headers or
/// body (absent or null) has none.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Answer {
    pub status: u16,
    #[serde(default, deserialize_with = "none_if_null")]
    pub headers: Vec<(String, String)>,
    #[serde(default, deserialize_with = "none_if_null")]
    pub body: String,
}

/// `null` read as the empty value: the server says there is none.
fn none_if_null<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(deserializer: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl Answer {
    pub fn retry_after(&self) -> Option<String> {
        header(&self.headers, "retry-after").map(str::to_owned)
    }
}

/// Whether the entry goes to the worker's own origin: a batch names paths, not URLs.
pub fn same_origin(entry: &Entry, origin: &str) -> bool {
    entry.url.strip_prefix(origin).is_some_and(|path| path.starts_with('/'))
}

/// How many entries from the head of the queue go in one batch: the head, then the entries right
/// after it that can go now, while their bodies stay within [`MAX_BYTES`]. Each is given as the
/// length of its body text when it can travel in a batch now, `None` when not (a binary body,
/// another origin, a wait, its own request already out). 1: the head goes alone.
/// Read lazily: nothing past the first entry that cannot follow is asked about.
pub fn gather(head: impl IntoIterator<Item = Option<usize>>) -> usize {
    let mut head = head.into_iter();
    let Some(Some(mut bytes)) = head.next() else { return 1 };
    let mut taken = 1;
    for len in head {
        match len {
            Some(len) if bytes + len <= MAX_BYTES => bytes += len,
            _ => break,
        }
        taken += 1;
    }
    taken
}

/// A batch that got no answer may have been applied in part. Every item after the first counts as
/// sent (so nothing merges into it, and it goes again under its key); the first settles as a
/// network failure and waits its back-off, holding the rest behind it.
pub fn count_as_sent(entry: &mut Entry) {
    entry.attempts += 1;
}

/// One request in a batch: the path rather than the whole URL, and `null` for no body.
#[derive(Serialize)]
struct Item<'a> {
    method: &'a str,
    url: &'a str,
    headers: &'a [(String, String)],
    body: Option<&'a str>,
}

/// The batch request body for `(entry, body text)` pairs, in queue order.
pub fn encode(items: &[(&Entry, &str)], origin: &str) -> String {
    #[derive(Serialize)]
    struct Batch<'a> {
        requests: Vec<Item<'a>>,
    }
    let requests = items
        .iter()
        .map(|(entry, body)| Item {
            method: &entry.method,
            url: entry.url.strip_prefix(origin).unwrap_or(&entry.url),
            headers: &entry.headers,
            body: (!body.is_empty()).then_some(*body),
        })
        .collect();
    crate::protocol::to_json(&Batch { requests })
}

/// The answers, one per item attempted (fewer than sent when one was refused).
pub fn decode(text: &str, sent: usize) -> Result<Vec<Answer>, String> {
    #[derive(Deserialize)]
    struct Results {
        results: Vec<Answer>,
    }
    let answers = serde_json::from_str::<Results>(text).map_err(|e| format!("unreadable batch answer: {e}"))?.results;
    if answers.len() > sent {
        return Err(format!("the batch answer has {} results for {sent} requests", answers.len()));
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(url: &str) -> Entry {
        let mut e = Entry::from_json(r#"{"method":"POST","url":"u","headers":[["content-type","application/json"],["idempotency-key","k"]],"idempotencyKey":"k","queuedAt":1}"#).unwrap();
        e.url = url.into();
        e
    }

    #[test]
    fn only_entries_to_the_workers_own_origin_travel_in_a_batch() {
        let o = "https://app.example";
        assert!(same_origin(&entry("https://app.example/api/x"), o));
        assert!(!same_origin(&entry("https://other.example/api/x"), o));
        assert!(!same_origin(&entry("https://app.example.evil/api/x"), o), "a longer host is another origin");
        assert!(!same_origin(&entry("https://app.example:8443/api/x"), o));
    }

    #[test]
    fn a_batch_is_the_head_and_what_can_follow_it_within_the_byte_limit() {
        assert_eq!(gather([]), 1);
        assert_eq!(gather([None, Some(1), Some(1)]), 1, "a head that cannot travel goes alone");
        assert_eq!(gather([Some(1), Some(2), Some(3)]), 3);
        assert_eq!(gather([Some(1), Some(2), None, Some(3)]), 2, "the batch ends where one cannot follow");
        assert_eq!(gather([Some(0), Some(0)]), 2, "empty bodies travel too");
        assert_eq!(gather([Some(MAX_BYTES - 10), Some(10), Some(1)]), 2, "up to the limit exactly");
        assert_eq!(gather([Some(MAX_BYTES + 1), Some(1)]), 1, "an oversize head still goes, alone");
        let mut asked = 0;
        let taken = gather([Some(1), None, Some(1), Some(1)].into_iter().inspect(|_| asked += 1));
        assert_eq!((taken, asked), (1, 2), "nothing is asked past the first that cannot follow");
    }

    #[test]
    fn encodes_paths_headers_and_bodies_in_queue_order() {
        let (a, b) = (entry("https://app.example/api/tasks"), entry("https://app.example/api/tasks/7?x=1"));
        let text = encode(&[(&a, "{\"title\":\"t\"}"), (&b, "")], "https://app.example");
        let parse = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap();
        assert_eq!(
            parse(&text),
            parse(
                r#"{"requests":[
                    {"method":"POST","url":"/api/tasks","headers":[["content-type","application/json"],["idempotency-key","k"]],"body":"{\"title\":\"t\"}"},
                    {"method":"POST","url":"/api/tasks/7?x=1","headers":[["content-type","application/json"],["idempotency-key","k"]],"body":null}
                ]}"#
            )
        );
    }

    #[test]
    fn decodes_answers_and_refuses_nonsense() {
        let answers = decode(r#"{"results":[{"status":201,"body":"{}","headers":null},{"status":503,"headers":[["Retry-After","2"]],"body":null}]}"#, 3).unwrap();
        assert_eq!(answers.len(), 2, "the third was not attempted");
        assert_eq!(answers[1].retry_after().as_deref(), Some("2"));
        assert_eq!(answers[0], Answer { status: 201, headers: Vec::new(), body: "{}".into() });
        assert_eq!(decode("nope", 1), Err("unreadable batch answer: expected ident at line 1 column 2".into()));
        let wrong = decode(r#"{"results":[{"status":"201"}]}"#, 1).unwrap_err();
        assert!(wrong.starts_with("unreadable batch answer: invalid type: string \"201\", expected u16"), "{wrong}");
        assert!(decode(r#"{"results":[{"status":70000}]}"#, 1).is_err());
        assert!(decode(r#"{"answers":[]}"#, 1).is_err());
        assert!(decode(r#"{"results":[{"status":201},{"status":201}]}"#, 1).is_err());
    }
}
