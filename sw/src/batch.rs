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

/// The body as text, when the entry can travel in a batch (same origin, no body or UTF-8 text).
pub fn text_body<'b>(entry: &Entry, origin: &str, body: &'b [u8]) -> Option<&'b str> {
    entry.url.strip_prefix(origin).filter(|path| path.starts_with('/'))?;
    std::str::from_utf8(body).ok()
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
    fn only_same_origin_text_bodies_travel_in_a_batch() {
        let o = "https://app.example";
        assert_eq!(text_body(&entry("https://app.example/api/x"), o, b"{\"a\":1}"), Some("{\"a\":1}"));
        assert_eq!(text_body(&entry("https://app.example/api/x"), o, b""), Some(""));
        assert_eq!(text_body(&entry("https://app.example/api/x"), o, &[0xff, 0x00]), None, "binary goes alone");
        assert_eq!(text_body(&entry("https://other.example/api/x"), o, b"{}"), None);
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
