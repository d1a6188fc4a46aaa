//! Merging queued operations on one record while they wait (the seed's `mergeOperations`):
//! create + update → one create with the latest body; update + update → the latest (PATCH bodies
//! composed as JSON Merge Patch, RFC 7396); create + delete → nothing is sent; update + delete →
//! the delete. Anything else is left alone. Merged bodies keep the waiting body's member order,
//! new members after it.

use crate::entry::Entry;
use serde_json::{Map, Value};

/// The record an operation is about: `/api/{collection}/{id}`, or a POST to `/api/{collection}`
/// whose JSON body carries an `id`. Written as `collection/id`.
pub fn record_key(prefixes: &[String], method: &str, path: &str, body: &[u8]) -> Option<String> {
    let rest = prefixes.iter().find_map(|p| path.strip_prefix(p.as_str()))?;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let mut segments = rest.split('/');
    let collection = segments.next().filter(|c| !c.is_empty())?;
    match (segments.next(), segments.next()) {
        (Some(id), None) if !id.is_empty() && !method.eq_ignore_ascii_case("POST") => Some(format!("{collection}/{id}")),
        (None, None) if method.eq_ignore_ascii_case("POST") => {
            let body = parse(body)?;
            let id = body.get("id")?.as_str().filter(|id| !id.is_empty() && !id.contains('/'))?;
            Some(format!("{collection}/{id}"))
        }
        _ => None,
    }
}

/// An operation as the merge sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub method: String,
    /// Never sent yet: only such an entry may change, since a sent one may already have arrived.
    pub unsent: bool,
    pub body: Vec<u8>,
}

/// What became of an operation offered to the queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pushed {
    /// Queued as its own entry.
    Added(u64),
    /// Merged into this waiting entry.
    Merged(u64),
    /// It deleted what this waiting entry creates: both are gone.
    Cancelled(u64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Merge {
    /// Keep both, in order.
    Separate,
    /// The waiting entry becomes this operation (in its place in line); the new one is not queued.
    Into { method: String, body: Vec<u8>, take_new_headers: bool },
    /// Create then delete: neither is sent.
    Cancel,
}

/// What happens when `new` arrives while `waiting` (the latest queued op on the same record) waits.
pub fn merge(waiting: &Op, new: &Op) -> Merge {
    if !waiting.unsent {
        return Merge::Separate;
    }
    let (w, n) = (waiting.method.to_ascii_uppercase(), new.method.to_ascii_uppercase());
    let into = |method: &str, body: Value, take_new_headers| Merge::Into {
        method: method.to_owned(),
        body: crate::protocol::to_json(&body).into_bytes(),
        take_new_headers,
    };
    match (w.as_str(), n.as_str()) {
        ("POST", "DELETE") => Merge::Cancel,
        ("PUT" | "PATCH", "DELETE") => Merge::Into { method: n, body: new.body.clone(), take_new_headers: true },
        ("POST", "PUT") => match (parse(&waiting.body), parse(&new.body)) {
            (Some(Value::Object(mut created)), Some(Value::Object(mut body))) => {
                if let Some(id) = created.shift_remove("id").filter(|_| !body.contains_key("id")) {
                    body.insert("id".to_owned(), id);
                }
                into("POST", Value::Object(body), false)
            }
            _ => Merge::Separate,
        },
        ("POST" | "PUT", "PATCH") => match (parse(&waiting.body), parse(&new.body)) {
            (Some(base @ Value::Object(_)), Some(patch @ Value::Object(_))) => into(&w, apply_patch(base, patch), false),
            _ => Merge::Separate,
        },
        ("PUT" | "PATCH", "PUT") => Merge::Into { method: n, body: new.body.clone(), take_new_headers: true },
        ("PATCH", "PATCH") => match (parse(&waiting.body), parse(&new.body)) {
            (Some(first @ Value::Object(_)), Some(second @ Value::Object(_))) => into("PATCH", compose_patches(first, second), false),
            _ => Merge::Separate,
        },
        _ => Merge::Separate,
    }
}

/// What a new operation does to the waiting entry it was offered to.
#[derive(Debug, Clone, PartialEq)]
pub enum Fold {
    /// Queued as its own entry, after the waiting one.
    Separate,
    /// The waiting entry becomes this (same id, same place in line); the new one is not queued.
    Into { entry: Entry, body: Vec<u8> },
    /// A create and its delete: the waiting entry goes, and nothing is sent.
    Cancel,
}

/// Offers `new` to `waiting`, the latest entry queued on its record as read now (in the same
/// transaction as the write that follows): gone, or no longer on that record, it is left alone.
pub fn fold(waiting: Option<(&Entry, Vec<u8>)>, new: &Entry, new_body: &[u8]) -> Fold {
    let Some((waiting, waiting_body)) = waiting.filter(|(w, _)| w.record.is_some() && w.record == new.record) else {
        return Fold::Separate;
    };
    let old = Op { method: waiting.method.clone(), unsent: waiting.attempts == 0, body: waiting_body };
    match merge(&old, &Op { method: new.method.clone(), unsent: true, body: new_body.to_vec() }) {
        Merge::Separate => Fold::Separate,
        Merge::Cancel => Fold::Cancel,
        Merge::Into { method, body, take_new_headers } => {
            let mut entry = waiting.clone();
            entry.method = method;
            if take_new_headers {
                entry.headers = new.headers.clone();
                entry.idempotency_key = new.idempotency_key.clone();
            }
            Fold::Into { entry, body }
        }
    }
}

/// A body as JSON, when it is.
fn parse(body: &[u8]) -> Option<Value> {
    // From text, as every other JSON the worker reads: one reader's code in the wasm, not two.
    serde_json::from_str(std::str::from_utf8(body).ok()?).ok()
}

/// RFC 7396: applies a merge patch to a document. Removed members keep the order of the rest.
/// Both are taken whole: their members move into the result, never copied.
pub fn apply_patch(target: Value, patch: Value) -> Value {
    let Value::Object(patch) = patch else { return patch };
    let mut target = match target {
        Value::Object(members) => members,
        _ => Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            target.shift_remove(&key);
        } else {
            let slot = member(&mut target, &key);
            *slot = apply_patch(slot.take(), value);
        }
    }
    Value::Object(target)
}

/// One merge patch with the effect of `first` then `second` (nulls kept: they still delete).
pub fn compose_patches(first: Value, second: Value) -> Value {
    match (first, second) {
        (Value::Object(mut first), Value::Object(second)) => {
            for (key, value) in second {
                let slot = member(&mut first, &key);
                *slot = match (slot.take(), value) {
                    (inner @ Value::Object(_), value @ Value::Object(_)) => compose_patches(inner, value),
                    (_, value) => value,
                };
            }
            Value::Object(first)
        }
        (_, second) => second,
    }
}

/// The value of `key`, added as null at the end when missing.
fn member<'m>(members: &'m mut Map<String, Value>, key: &str) -> &'m mut Value {
    members.entry(key).or_insert(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    fn num(n: u64) -> Value {
        Value::from(n)
    }

    fn op(method: &str, body: Value) -> Op {
        let body = if body == Value::Null { Vec::new() } else { serde_json::to_vec(&body).unwrap() };
        Op { method: method.into(), unsent: true, body }
    }

    fn body(m: &Merge) -> Value {
        match m {
            Merge::Into { body, .. } => parse(body).unwrap(),
            other => panic!("expected a merge, got {other:?}"),
        }
    }

    #[test]
    fn record_keys_come_from_the_path_or_the_created_id() {
        let p = vec!["/api/".to_owned()];
        assert_eq!(record_key(&p, "PUT", "/api/tasks/7", b""), Some("tasks/7".into()));
        assert_eq!(record_key(&p, "delete", "/api/tasks/7?x=1", b""), Some("tasks/7".into()));
        assert_eq!(record_key(&p, "POST", "/api/tasks", br#"{"id":"7","title":"t"}"#), Some("tasks/7".into()));
        assert_eq!(record_key(&p, "POST", "/api/tasks", br#"{"title":"no id"}"#), None);
        assert_eq!(record_key(&p, "POST", "/api/tasks", b"not json"), None);
        assert_eq!(record_key(&p, "POST", "/api/tasks/7", b"{}"), None, "a POST to a record is an action, not a create");
        assert_eq!(record_key(&p, "PUT", "/api/tasks/7/comments", b""), None);
        assert_eq!(record_key(&p, "PUT", "/api/tasks", b""), None);
        assert_eq!(record_key(&p, "PUT", "/other/tasks/7", b""), None);
    }

    #[test]
    fn create_then_update_is_one_create_with_the_latest_body() {
        let create = op("POST", json(r#"{"id": "7", "title": "a", "tags": ["x"]}"#));
        let m = merge(&create, &op("PUT", json(r#"{"title": "b"}"#)));
        assert_eq!(body(&m), json(r#"{"id": "7", "title": "b"}"#));
        assert!(matches!(m, Merge::Into { ref method, take_new_headers: false, .. } if method == "POST"));
        let m = merge(&create, &op("PATCH", json(r#"{"title": "c", "tags": null}"#)));
        assert_eq!(body(&m), json(r#"{"id": "7", "title": "c"}"#));
    }

    #[test]
    fn update_then_update_is_the_latest_and_patches_compose() {
        let m = merge(&op("PUT", json(r#"{"title": "a"}"#)), &op("PUT", json(r#"{"title": "b"}"#)));
        assert_eq!(body(&m), json(r#"{"title": "b"}"#));
        assert!(matches!(m, Merge::Into { take_new_headers: true, .. }));
        let m = merge(&op("PATCH", json(r#"{"a": 1, "o": {"x": 1, "y": 2}}"#)), &op("PATCH", json(r#"{"b": 2, "a": null, "o": {"y": null}}"#)));
        assert_eq!(body(&m), json(r#"{"a": null, "b": 2, "o": {"x": 1, "y": null}}"#));
        let m = merge(&op("PUT", json(r#"{"a": 1, "b": 1}"#)), &op("PATCH", json(r#"{"b": null, "c": 3}"#)));
        assert_eq!(body(&m), json(r#"{"a": 1, "c": 3}"#));
        assert!(matches!(m, Merge::Into { ref method, .. } if method == "PUT"));
    }

    #[test]
    fn merged_bodies_keep_the_waiting_order_with_new_members_last() {
        let text = |m: &Merge| match m {
            Merge::Into { body, .. } => String::from_utf8_lossy(body).into_owned(),
            other => panic!("expected a merge, got {other:?}"),
        };
        let m = merge(&op("PATCH", json(r#"{"z": 1, "a": {"y": 1}}"#)), &op("PATCH", json(r#"{"b": 2, "a": {"x": 3}, "z": null}"#)));
        assert_eq!(text(&m), r#"{"z":null,"a":{"y":1,"x":3},"b":2}"#);
        let m = merge(&op("POST", json(r#"{"title": "a", "id": "7"}"#)), &op("PUT", json(r#"{"title": "b", "done": true}"#)));
        assert_eq!(text(&m), r#"{"title":"b","done":true,"id":"7"}"#);
        let m = merge(&op("POST", json(r#"{"title": "a", "id": "7", "n": 1.50}"#)), &op("PATCH", json(r#"{"title": null, "n": 2}"#)));
        assert_eq!(text(&m), r#"{"id":"7","n":2}"#);
    }

    #[test]
    fn an_operation_folds_into_the_waiting_entry_only_on_the_same_record() {
        let entry = |method: &str, record: Option<&str>, key: &str, attempts: u32| {
            let mut e = Entry::from_json(r#"{"method":"POST","url":"u","headers":[],"idempotencyKey":"k","queuedAt":1}"#).unwrap();
            (e.method, e.record, e.idempotency_key, e.attempts, e.id) = (method.into(), record.map(Into::into), key.into(), attempts, Some(4));
            e.headers = vec![("idempotency-key".into(), key.into())];
            e
        };
        let create = entry("POST", Some("tasks/7"), "k1", 0);
        let body = br#"{"id":"7","title":"a"}"#.to_vec();
        let patch = entry("PATCH", Some("tasks/7"), "k2", 0);
        match fold(Some((&create, body.clone())), &patch, br#"{"done":true}"#) {
            Fold::Into { entry, body } => {
                assert_eq!((entry.id, entry.method.as_str(), entry.idempotency_key.as_str()), (Some(4), "POST", "k1"), "the create keeps its key");
                assert_eq!(body, br#"{"id":"7","title":"a","done":true}"#);
            }
            other => panic!("expected a fold, got {other:?}"),
        }
        let put = entry("PUT", Some("tasks/7"), "k3", 0);
        match fold(Some((&entry("PATCH", Some("tasks/7"), "k2", 0), b"{}".to_vec())), &put, b"{}") {
            Fold::Into { entry, .. } => assert_eq!((entry.method.as_str(), entry.idempotency_key.as_str(), entry.headers[0].1.as_str()), ("PUT", "k3", "k3"), "a replacement takes the new key and headers"),
            other => panic!("expected a fold, got {other:?}"),
        }
        assert_eq!(fold(Some((&create, body.clone())), &entry("DELETE", Some("tasks/7"), "k4", 0), b""), Fold::Cancel);
        assert_eq!(fold(Some((&create, body.clone())), &entry("DELETE", Some("tasks/8"), "k4", 0), b""), Fold::Separate, "another record");
        assert_eq!(fold(Some((&entry("POST", Some("tasks/7"), "k1", 1), body.clone())), &patch, b"{}"), Fold::Separate, "it was sent");
        assert_eq!(fold(None, &patch, b"{}"), Fold::Separate, "it is gone");
        assert_eq!(fold(Some((&entry("POST", None, "k1", 0), body)), &entry("PATCH", None, "k2", 0), b"{}"), Fold::Separate, "no record at all");
    }

    #[test]
    fn deletes_cancel_creates_and_replace_updates() {
        assert_eq!(merge(&op("POST", json(r#"{"id": "1"}"#)), &op("DELETE", Value::Null)), Merge::Cancel);
        let m = merge(&op("PATCH", json(r#"{"a": 1}"#)), &op("DELETE", Value::Null));
        assert!(matches!(m, Merge::Into { ref method, take_new_headers: true, .. } if method == "DELETE"));
    }

    #[test]
    fn sent_entries_non_json_bodies_and_other_shapes_are_left_alone() {
        let mut sent = op("POST", json(r#"{"id": "1"}"#));
        sent.unsent = false;
        assert_eq!(merge(&sent, &op("DELETE", Value::Null)), Merge::Separate, "it may already have arrived");
        assert_eq!(merge(&op("PATCH", json(r#"{"a": 1}"#)), &Op { method: "PATCH".into(), unsent: true, body: b"a=1".to_vec() }), Merge::Separate);
        assert_eq!(merge(&op("DELETE", Value::Null), &op("POST", json(r#"{"id": "1"}"#))), Merge::Separate);
        assert_eq!(merge(&op("POST", json(r#"{"id": "1"}"#)), &op("POST", json(r#"{"id": "1"}"#))), Merge::Separate);
        assert_eq!(merge(&op("PATCH", json(r#"[1]"#)), &op("PATCH", json(r#"{"a": 1}"#))), Merge::Separate);
    }

    #[test]
    fn merge_patch_follows_rfc_7396_examples() {
        let cases = [
            (json(r#"{"a": "b"}"#), json(r#"{"a": "c"}"#), json(r#"{"a": "c"}"#)),
            (json(r#"{"a": "b"}"#), json(r#"{"b": "c"}"#), json(r#"{"a": "b", "b": "c"}"#)),
            (json(r#"{"a": "b"}"#), json(r#"{"a": null}"#), json(r#"{}"#)),
            (json(r#"{"a": {"b": "c"}}"#), json(r#"{"a": {"b": "d", "c": null}}"#), json(r#"{"a": {"b": "d"}}"#)),
            (json(r#"{"a": [{"b": "c"}]}"#), json(r#"{"a": [1]}"#), json(r#"{"a": [1]}"#)),
            (json(r#"["a", "b"]"#), json(r#"["c", "d"]"#), json(r#"["c", "d"]"#)),
            (json(r#"{"a": "foo"}"#), json(r#"null"#), json(r#"null"#)),
            (json(r#"{"e": null}"#), json(r#"{"a": 1}"#), json(r#"{"e": null, "a": 1}"#)),
            (json(r#"[1, 2]"#), json(r#"{"a": "b", "c": null}"#), json(r#"{"a": "b"}"#)),
        ];
        for (target, patch, expected) in cases {
            assert_eq!(apply_patch(target.clone(), patch.clone()), expected, "{target} + {patch}");
            let mut by_the_library = target.clone();
            json_patch::merge(&mut by_the_library, &patch);
            assert_eq!(by_the_library, expected, "json-patch agrees on {target} + {patch}");
        }
    }

    /// A tiny deterministic generator for the property test (no extra crate).
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// A model server: records by id; failed requests change nothing, as the real one.
    fn apply(server: &mut BTreeMap<String, Value>, id: &str, o: &Op) {
        let body = || parse(&o.body).unwrap_or(Value::Null);
        match o.method.as_str() {
            "POST" if !server.contains_key(id) => drop(server.insert(id.to_owned(), body())),
            "PUT" if server.contains_key(id) => drop(server.insert(id.to_owned(), body())),
            "PATCH" => {
                // Patched by the json-patch crate, not by the code under test.
                if let Some(current) = server.get_mut(id) {
                    json_patch::merge(current, &body());
                }
            }
            "DELETE" => drop(server.remove(id)),
            _ => {}
        }
    }

    /// A random field change, as a patch or a full body.
    fn change(rng: &mut Rng, id: &str, full: bool) -> Value {
        let mut body = Map::new();
        if full {
            body.insert("id".to_owned(), Value::String(id.to_owned()));
        }
        for field in ["title", "status", "tags"] {
            match rng.below(4) {
                0 => {}
                1 if !full => drop(body.insert(field.to_owned(), Value::Null)),
                _ => drop(body.insert(field.to_owned(), num(rng.below(5)))),
            }
        }
        if rng.below(3) == 0 {
            let meta = Map::from_iter([("a".to_owned(), num(rng.below(3))), ("b".to_owned(), if rng.below(2) == 0 { Value::Null } else { num(1) })]);
            body.insert("meta".to_owned(), Value::Object(meta));
        }
        Value::Object(body)
    }

    #[test]
    fn property_replaying_the_coalesced_queue_leaves_the_server_as_the_raw_queue_does() {
        let mut rng = Rng(0x5EED_1234_ABCD_0001);
        let mut merged_total = 0;
        for _ in 0..3_000 {
            // What the client believes exists: it creates new ids, and updates or deletes live ones,
            // as an app working on its own local copy does.
            let mut server = BTreeMap::new();
            let mut live: Vec<String> = Vec::new();
            for n in 0..2 {
                let id = format!("s{n}");
                server.insert(id.clone(), json(&format!(r#"{{"id": "{id}", "title": 0, "meta": {{"a": 0, "b": 1}}}}"#)));
                live.push(id);
            }
            let mut raw: Vec<(String, Op)> = Vec::new();
            let mut coalesced: Vec<(String, Op)> = Vec::new();
            let mut next_id = 0;
            for _ in 0..(1 + rng.below(12)) {
                let (id, o) = match rng.below(5) {
                    0 => {
                        next_id += 1;
                        let id = format!("c{next_id}");
                        live.push(id.clone());
                        let body = change(&mut rng, &id, true);
                        (id, op("POST", body))
                    }
                    _ if live.is_empty() => continue,
                    choice => {
                        let id = live[rng.below(live.len() as u64) as usize].clone();
                        match choice {
                            1 => (id.clone(), op("PUT", change(&mut rng, &id, true))),
                            2 | 3 => (id.clone(), op("PATCH", change(&mut rng, &id, false))),
                            _ => {
                                live.retain(|l| *l != id);
                                (id, op("DELETE", Value::Null))
                            }
                        }
                    }
                };
                raw.push((id.clone(), o.clone()));
                // The worker's rule: merge with the latest waiting op on the same record.
                match coalesced.iter().rposition(|(r, _)| *r == id) {
                    Some(at) => match merge(&coalesced[at].1, &o) {
                        Merge::Separate => coalesced.push((id, o)),
                        Merge::Cancel => drop(coalesced.remove(at)),
                        Merge::Into { method, body, .. } => {
                            coalesced[at].1 = Op { method, unsent: true, body };
                            merged_total += 1;
                        }
                    },
                    None => coalesced.push((id, o)),
                }
            }
            let (mut by_raw, mut by_coalesced) = (server.clone(), server);
            raw.iter().for_each(|(id, o)| apply(&mut by_raw, id, o));
            coalesced.iter().for_each(|(id, o)| apply(&mut by_coalesced, id, o));
            assert_eq!(by_raw, by_coalesced, "raw {raw:?}\ncoalesced {coalesced:?}");
        }
        assert!(merged_total > 1_000, "the property exercised merges ({merged_total})");
    }
}
