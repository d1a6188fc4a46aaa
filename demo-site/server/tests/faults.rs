//! Injected faults: an answer lost after the change was committed, and 503s with Retry-After.

mod support;

use serde_json::json;
use support::{call, exchange, get, log_outcomes, raw_request, send, tasks};

#[test]
fn drop_after_apply_commits_then_closes_without_a_byte() {
    let addr = support::start_memory();
    let armed = call(
        addr,
        "POST",
        "/_test/faults",
        None,
        r#"{"dropAfterApply":1}"#,
    );
    assert_eq!(armed.status, 200);

    let request = raw_request(
        "POST",
        "/api/tasks",
        &[
            ("Content-Type", "application/json"),
            ("Idempotency-Key", "lost-1"),
        ],
        r#"{"id":"lost","title":"answer lost"}"#,
    );
    let received = exchange(addr, &request);
    assert!(
        received.is_empty(),
        "expected no answer, got {:?}",
        String::from_utf8_lossy(&received)
    );

    let listed = tasks(addr);
    assert_eq!(listed.len(), 1, "the change was applied");
    assert_eq!(listed[0]["id"], "lost");
    assert_eq!(get(addr, "/_test/faults").json()["dropAfterApply"], 0);

    // The client retries with the same key: the answer it never got, and no second apply.
    let retry = call(
        addr,
        "POST",
        "/api/tasks",
        Some("lost-1"),
        r#"{"id":"lost","title":"answer lost"}"#,
    );
    assert_eq!(retry.status, 201, "not 409: the stored answer");
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.json()["id"], "lost");
    assert_eq!(retry.json()["createdAt"], listed[0]["createdAt"]);
    assert_eq!(tasks(addr).len(), 1);

    let log = log_outcomes(addr);
    assert_eq!(log[0], ("POST".into(), "dropped".into(), 201));
    assert_eq!(log[2], ("POST".into(), "replayed".into(), 201));
}

#[test]
fn drops_do_not_touch_reads_or_other_connections() {
    let addr = support::start_memory();
    call(
        addr,
        "POST",
        "/_test/faults",
        None,
        r#"{"dropAfterApply":1}"#,
    );
    assert_eq!(
        get(addr, "/api/tasks").status,
        200,
        "GET is not mutating: no fault used"
    );
    assert!(exchange(addr, &raw_request("DELETE", "/api/tasks/nope", &[], "")).is_empty());
    assert_eq!(
        call(addr, "POST", "/api/tasks", None, r#"{"title":"after"}"#).status,
        201
    );
}

#[test]
fn fail503_rejects_without_applying() {
    let addr = support::start_memory();
    let armed = call(
        addr,
        "POST",
        "/_test/faults",
        None,
        r#"{"fail503":2,"retryAfter":7}"#,
    );
    assert_eq!(
        armed.json(),
        json!({"dropAfterApply":0,"fail503":2,"retryAfter":7,"requireAuth":null,"dropRate":0.0,"fail503Rate":0.0,"seed":1,"delayMs":0})
    );

    let first = call(
        addr,
        "POST",
        "/api/tasks",
        Some("busy"),
        r#"{"id":"b","title":"busy"}"#,
    );
    assert_eq!(first.status, 503);
    assert_eq!(first.header("retry-after"), Some("7"));
    assert!(first.json()["error"].is_string());
    assert_eq!(get(addr, "/_test/faults").json()["fail503"], 1);
    assert_eq!(tasks(addr).len(), 0, "not applied");

    assert_eq!(
        call(addr, "PATCH", "/api/tasks/b", None, r#"{"done":true}"#).status,
        503
    );
    assert_eq!(get(addr, "/_test/faults").json()["fail503"], 0);

    // The key was not recorded by the 503: the retry is applied fresh.
    let retry = call(
        addr,
        "POST",
        "/api/tasks",
        Some("busy"),
        r#"{"id":"b","title":"busy"}"#,
    );
    assert_eq!(retry.status, 201);
    assert_eq!(retry.header("idempotent-replayed"), None);

    let statuses: Vec<u64> = log_outcomes(addr)
        .into_iter()
        .filter(|(m, _, _)| m != "GET")
        .map(|e| e.2)
        .collect();
    assert_eq!(statuses, [503, 503, 201]);
}

#[test]
fn drops_come_before_503s() {
    let addr = support::start_memory();
    call(
        addr,
        "POST",
        "/_test/faults",
        None,
        r#"{"dropAfterApply":1,"fail503":1,"retryAfter":2}"#,
    );
    let body = r#"{"id":"x","title":"x"}"#;
    let request = raw_request(
        "POST",
        "/api/tasks",
        &[
            ("Content-Type", "application/json"),
            ("Idempotency-Key", "x"),
        ],
        body,
    );
    assert!(exchange(addr, &request).is_empty());
    let second = call(addr, "POST", "/api/tasks", Some("x"), body);
    assert_eq!(
        (second.status, second.header("retry-after")),
        (503, Some("2"))
    );
    let third = call(addr, "POST", "/api/tasks", Some("x"), body);
    assert_eq!(
        (third.status, third.header("idempotent-replayed")),
        (201, Some("true"))
    );
}

#[test]
fn require_auth_refuses_mutations_without_the_expected_credentials() {
    let addr = support::start_memory();
    call(
        addr,
        "POST",
        "/_test/faults",
        None,
        r#"{"requireAuth":"Bearer good"}"#,
    );
    let body = r#"{"id":"a","title":"needs auth"}"#;
    let refused = send(
        addr,
        "POST",
        "/api/tasks",
        &[("content-type", "application/json")],
        body,
    );
    assert_eq!(refused.status, 401);
    let stale = [
        ("content-type", "application/json"),
        ("authorization", "Bearer stale"),
    ];
    assert_eq!(send(addr, "POST", "/api/tasks", &stale, body).status, 401);
    assert_eq!(
        tasks(addr).len(),
        0,
        "nothing applied without the right credentials"
    );
    assert_eq!(get(addr, "/api/tasks").status, 200, "reads are not guarded");

    let good = [
        ("content-type", "application/json"),
        ("authorization", "Bearer good"),
    ];
    assert_eq!(send(addr, "POST", "/api/tasks", &good, body).status, 201);
    assert_eq!(
        get(addr, "/_test/faults").json()["requireAuth"],
        "Bearer good",
        "not used up"
    );
}

#[test]
fn fault_rates_draw_from_a_seeded_generator() {
    let run = |seed: u64| {
        let addr = support::start_memory();
        let rates = format!(r#"{{"dropRate":0.2,"fail503Rate":0.1,"retryAfter":0,"seed":{seed}}}"#);
        call(addr, "POST", "/_test/faults", None, &rates);
        // A dropped answer shows as zero bytes back; anything else is a status.
        (0..200)
            .map(|i| {
                let key = format!("k{i}");
                let headers = [
                    ("content-type", "application/json"),
                    ("idempotency-key", key.as_str()),
                ];
                let raw = exchange(
                    addr,
                    &raw_request("POST", "/api/tasks", &headers, r#"{"title":"t"}"#),
                );
                if raw.is_empty() {
                    0
                } else {
                    support::parse(&raw).status
                }
            })
            .collect::<Vec<u16>>()
    };
    let first = run(42);
    assert_eq!(first, run(42), "the same seed gives the same faults");
    let dropped = first.iter().filter(|&&s| s == 0).count();
    let unavailable = first.iter().filter(|&&s| s == 503).count();
    assert!(
        (25..=55).contains(&dropped),
        "about 20 % dropped: {dropped}"
    );
    assert!(
        (8..=35).contains(&unavailable),
        "about 10 % answered 503: {unavailable}"
    );
    assert_eq!(
        dropped + unavailable + first.iter().filter(|&&s| s == 201).count(),
        200
    );
}
