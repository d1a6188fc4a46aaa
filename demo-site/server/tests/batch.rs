//! `POST /api/_batch`: items in order, each under its own Idempotency-Key, stopping at the first
//! refusal.

mod support;

use serde_json::json;
use support::{call, send, tasks};

fn batch(addr: std::net::SocketAddr, items: serde_json::Value) -> support::Reply {
    let body = json!({ "requests": items }).to_string();
    send(
        addr,
        "POST",
        "/api/_batch",
        &[("content-type", "application/json")],
        &body,
    )
}

fn item(key: &str, title: &str) -> serde_json::Value {
    json!({"method": "POST", "url": "/api/tasks", "headers": [["content-type", "application/json"], ["idempotency-key", key]],
           "body": json!({"title": title}).to_string()})
}

#[test]
fn applies_items_in_order_each_under_its_key() {
    let addr = support::start_memory();
    let reply = batch(addr, json!([item("k1", "one"), item("k2", "two")]));
    assert_eq!(reply.status, 200);
    let results = reply.json()["results"].clone();
    assert_eq!(results.as_array().unwrap().len(), 2);
    assert_eq!(results[0]["status"], 201);
    let created: serde_json::Value =
        serde_json::from_str(results[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(created["title"], "one");
    // In the order applied: the change sequence (both may share a millisecond of createdAt).
    let mut applied = tasks(addr);
    applied.sort_by_key(|t| t["seq"].as_u64());
    let titles: Vec<&str> = applied
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["one", "two"]);

    // The same keys again (a batch whose answer was lost): answered from the store, not applied.
    let again = batch(addr, json!([item("k1", "one"), item("k2", "two")]));
    let results = again.json()["results"].clone();
    assert_eq!(results[1]["status"], 201);
    assert!(
        results[1]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h[0] == "idempotent-replayed")
    );
    assert_eq!(tasks(addr).len(), 2);
    // A single request with a key first seen in a batch is a repeat too.
    let single = call(addr, "POST", "/api/tasks", Some("k1"), r#"{"title":"one"}"#);
    assert_eq!(single.header("idempotent-replayed"), Some("true"));
}

#[test]
fn stops_after_the_first_refusal_so_nothing_overtakes_it() {
    let addr = support::start_memory();
    let bad = json!({"method": "POST", "url": "/api/tasks", "headers": [["content-type", "application/json"]], "body": "{}"});
    let reply = batch(
        addr,
        json!([item("a", "first"), bad, item("c", "after the refusal")]),
    );
    let results = reply.json()["results"].clone();
    let statuses: Vec<u64> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 400], "the third was not attempted");
    assert_eq!(tasks(addr).len(), 1);
}

#[test]
fn refuses_items_outside_the_api_and_nested_batches() {
    let addr = support::start_memory();
    for url in ["/_test/reset", "/api/_batch", "http://elsewhere/api/tasks"] {
        let reply = batch(addr, json!([{"method": "POST", "url": url}]));
        assert_eq!(reply.status, 400, "{url}");
    }
    let too_many: Vec<serde_json::Value> = (0..501).map(|i| item(&format!("k{i}"), "x")).collect();
    assert_eq!(batch(addr, json!(too_many)).status, 400);
    assert_eq!(tasks(addr).len(), 0);
}
