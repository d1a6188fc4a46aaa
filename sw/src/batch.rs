//! Replaying many entries in one request (the `batchUrl` option): which entries may go in a
//! batch, and the wire format. The server applies the items in order and stops after the first
//! answer that is not 2xx, so a batch keeps the queue's order exactly as one-by-one sends do.

use crate::entry::{header, Entry};
use serde::{Deserialize, Serialize};

/// Most body bytes one batch carries (the demo server reads at most 1 MiB per request).
pub const MAX_BYTES: usize = 512 * 1024;

#[derive(Serialize)]
struct Item<'a> {
    method: &'a str,
    url: &'a str,
    headers: &'a [(String, String)],
    body: Option<&'a str>,
}

#[derive(Serialize)]
struct Request<'a> {
    requests: Vec<Item<'a>>,
}

/// One item's answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Answer {
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: String,
}

impl Answer {
    pub fn retry_after(&self) -> Option<String> {
        header(&self.headers, "retry-after").map(str::to_owned)
    }
}

#[derive(Deserialize)]
struct Response {
    results: Vec<Answer>,
}

/// The body as text, when the entry can travel in a batch (same origin, no body or UTF-8 text).
pub fn text_body<'b>(entry: &Entry, origin: &str, body: &'b [u8]) -> Option<&'b str> {
    entry.url.strip_prefix(origin).filter(|path| path.starts_with('/'))?;
    std::str::from_utf8(body).ok()
}

/// The batch request body for `(entry, body text)` pairs, in queue order.
pub fn encode(items: &[(&Entry, &str)], origin: &str) -> String {
    let requests = items
        .iter()
        .map(|(entry, body)| Item {
            method: &entry.method,
            url: entry.url.strip_prefix(origin).unwrap_or(&entry.url),
            headers: &entry.headers,
            body: (!body.is_empty()).then_some(*body),
        })
        .collect();
    serde_json::to_string(&Request { requests }).unwrap_or_else(|_| unreachable!("a batch always serialises"))
}

/// The answers, one per item attempted (fewer than sent when one was refused).
pub fn decode(text: &str, sent: usize) -> Result<Vec<Answer>, String> {
    let response: Response = serde_json::from_str(text).map_err(|e| format!("unreadable batch answer: {e}"))?;
    if response.results.len() > sent {
        return Err(format!("the batch answer has {} results for {sent} requests", response.results.len()));
    }
    Ok(response.results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

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
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["requests"][0]["url"], "/api/tasks");
        assert_eq!(v["requests"][0]["body"], "{\"title\":\"t\"}");
        assert_eq!(v["requests"][0]["headers"][1], json!(["idempotency-key", "k"]));
        assert_eq!(v["requests"][1]["url"], "/api/tasks/7?x=1");
        assert_eq!(v["requests"][1]["body"], Value::Null);
    }

    #[test]
    fn decodes_answers_and_refuses_nonsense() {
        let answers = decode(r#"{"results":[{"status":201,"body":"{}"},{"status":503,"headers":[["Retry-After","2"]]}]}"#, 3).unwrap();
        assert_eq!(answers.len(), 2, "the third was not attempted");
        assert_eq!(answers[1].retry_after().as_deref(), Some("2"));
        assert!(decode("nope", 1).is_err());
        assert!(decode(r#"{"results":[{"status":201},{"status":201}]}"#, 1).is_err());
    }
}
