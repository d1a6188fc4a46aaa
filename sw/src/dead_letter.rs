//! Entries the worker gave up on, kept until the page decides: retry or discard.

use crate::entry::Entry;
use serde::{Deserialize, Serialize};

/// How much of the refusing answer is kept, enough to see why.
pub const ANSWER_LIMIT: usize = 4 * 1024;

/// Stored as JSON with camelCase names; `None` fields are written as null.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The entry's queue id, so a retry puts it back in its original place in line.
    pub id: u64,
    pub reason: String,
    pub status: Option<u16>,
    pub answer: Option<String>,
    #[serde(with = "crate::millis")]
    pub dead_at: f64,
    /// `None` when the queue record itself could not be read.
    pub entry: Option<Entry>,
}

/// A dead letter as a page sees it (no headers or body); `None` fields are written as null.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterView {
    pub id: u64,
    pub method: Option<String>,
    pub url: Option<String>,
    pub status: Option<u16>,
    pub reason: String,
    pub answer: Option<String>,
    #[serde(with = "crate::millis::option")]
    pub queued_at: Option<f64>,
    /// `None` only for a stored dead letter that does not parse.
    #[serde(with = "crate::millis::option")]
    pub dead_at: Option<f64>,
    pub attempts: u32,
}

impl DeadLetter {
    pub fn from_json(text: &str) -> Option<DeadLetter> {
        serde_json::from_str(text).ok()
    }

    /// A stored dead letter as the page lists it, given the key it is stored under and its JSON
    /// text (`None` when it has none). One that does not parse is listed all the same, with why,
    /// so that the page sees what the status counts and can discard it.
    pub fn listed(id: u64, text: Option<&str>) -> DeadLetterView {
        let Some(text) = text else { return Self::unreadable(id, "it is not JSON".into()) };
        match serde_json::from_str::<DeadLetter>(text) {
            Ok(letter) => letter.view(),
            Err(e) => Self::unreadable(id, e.to_string()),
        }
    }

    fn unreadable(id: u64, why: String) -> DeadLetterView {
        DeadLetterView {
            id,
            method: None,
            url: None,
            status: None,
            reason: format!("this dead letter could not be read ({why}); discard it"),
            answer: None,
            queued_at: None,
            dead_at: None,
            attempts: 0,
        }
    }

    pub fn to_json(&self) -> String {
        crate::protocol::to_json(self)
    }

    pub fn view(&self) -> DeadLetterView {
        let entry = self.entry.as_ref();
        DeadLetterView {
            id: self.id,
            method: entry.map(|e| e.method.clone()),
            url: entry.map(|e| e.url.clone()),
            status: self.status,
            reason: self.reason.clone(),
            answer: self.answer.clone(),
            queued_at: entry.map(|e| e.queued_at),
            dead_at: Some(self.dead_at),
            attempts: entry.map_or(0, |e| e.attempts),
        }
    }

    /// The entry to put back in the queue: same id and Idempotency-Key, a fresh allowance of
    /// retries. `attempts` is kept: it was sent before, so nothing may merge into it.
    pub fn revived(&self) -> Option<Entry> {
        let mut entry = self.entry.clone()?;
        entry.id = Some(self.id);
        entry.refusals = 0;
        entry.next_attempt_at = None;
        entry.last_status = None;
        entry.last_error = None;
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter() -> DeadLetter {
        let mut entry = Entry::from_json(
            r#"{"id":4,"method":"PUT","url":"u","headers":[],"idempotencyKey":"k","queuedAt":7,"attempts":5,"refusals":5}"#,
        )
        .unwrap();
        entry.last_status = Some(503);
        DeadLetter { id: 4, reason: "HTTP 503 after 5".into(), status: Some(503), answer: Some("busy".into()), dead_at: 9.0, entry: Some(entry) }
    }

    #[test]
    fn round_trips_and_shows_no_secrets() {
        let d = letter();
        assert_eq!(DeadLetter::from_json(&d.to_json()), Some(d.clone()));
        let v = serde_json::to_value(d.view()).unwrap();
        assert_eq!(v["method"], "PUT");
        assert_eq!(v["attempts"], 5);
        assert!(v.get("headers").is_none());
    }

    #[test]
    fn a_revived_entry_keeps_its_place_and_key_but_starts_afresh() {
        let e = letter().revived().unwrap();
        assert_eq!((e.id, e.idempotency_key.as_str(), e.attempts, e.refusals, e.last_status), (Some(4), "k", 5, 0, None));
    }

    #[test]
    fn an_unreadable_record_can_be_seen_but_not_revived() {
        let d = DeadLetter { id: 2, reason: "unreadable".into(), status: None, answer: None, dead_at: 1.0, entry: None };
        assert_eq!(d.revived(), None);
        assert_eq!(d.view().method, None);
        assert_eq!(DeadLetter::from_json(&d.to_json()), Some(d));
    }

    #[test]
    fn a_letter_is_listed_as_its_view() {
        let d = letter();
        assert_eq!(DeadLetter::listed(4, Some(&d.to_json())), d.view());
        assert_eq!(serde_json::to_value(d.view()).unwrap()["deadAt"], 9);
    }

    #[test]
    fn a_letter_that_does_not_parse_is_still_listed_under_its_key_with_why() {
        let v = DeadLetter::listed(6, Some(r#"{"id":6,"deadAt":12,"reason":7}"#));
        assert_eq!((v.id, v.dead_at, v.method, v.attempts), (6, None, None, 0));
        assert!(v.reason.starts_with("this dead letter could not be read (invalid type: integer `7`"), "{}", v.reason);
        let v = DeadLetter::listed(8, None);
        assert_eq!(v.reason, "this dead letter could not be read (it is not JSON); discard it");
        assert_eq!(serde_json::to_value(&v).unwrap()["deadAt"], serde_json::Value::Null);
    }
}
