//! The task API, static files and test hooks, against a server started in-process.

mod support;

use serde_json::{Value, json};
use support::{
    call, get, log_outcomes, send, start, start_as_given, start_memory, tasks, temp_dir,
};

#[test]
fn crud_round_trip() {
    let addr = start_memory();
    assert_eq!(tasks(addr), Vec::<Value>::new());

    let made = call(addr, "POST", "/api/tasks", None, r#"{"title":"server id"}"#);
    assert_eq!(made.status, 201);
    assert_eq!(made.header("content-type"), Some("application/json"));
    let made = made.json();
    let id = made["id"].as_str().expect("id");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(id.as_bytes()[14], b'4', "a version 4 UUID: {id}");
    assert_eq!(made["title"], "server id");
    assert_eq!(made["done"], false);
    assert_eq!(made["createdAt"], made["updatedAt"]);

    let mine = call(
        addr,
        "POST",
        "/api/tasks",
        None,
        r#"{"id":"t-2","title":"client id","done":true}"#,
    );
    assert_eq!(mine.status, 201);
    assert_eq!(mine.json()["id"], "t-2");
    assert_eq!(mine.json()["done"], true);

    let listed = tasks(addr);
    let ids: Vec<&str> = listed.iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids, [id, "t-2"], "ordered by createdAt");

    let replaced = call(
        addr,
        "PUT",
        "/api/tasks/t-2",
        None,
        r#"{"title":"renamed","done":false}"#,
    );
    assert_eq!(replaced.status, 200);
    assert_eq!(replaced.json()["title"], "renamed");
    assert_eq!(replaced.json()["done"], false);

    let patched = call(addr, "PATCH", "/api/tasks/t-2", None, r#"{"done":true}"#);
    assert_eq!(patched.status, 200);
    assert_eq!(
        patched.json()["title"],
        "renamed",
        "PATCH keeps fields not given"
    );
    assert_eq!(patched.json()["done"], true);

    let deleted = call(addr, "DELETE", "/api/tasks/t-2", None, "");
    assert_eq!(deleted.status, 200, "a soft delete answers the tombstone");
    assert_eq!(deleted.json()["id"], "t-2");
    assert_eq!(deleted.json()["deleted"], true);
    assert_eq!(tasks(addr).len(), 1);

    for (method, body) in [
        ("PUT", r#"{"title":"x"}"#),
        ("PATCH", r#"{"done":true}"#),
        ("DELETE", ""),
    ] {
        let missing = call(addr, method, "/api/tasks/t-2", None, body);
        assert_eq!(missing.status, 404, "{method} on a missing task");
        assert!(missing.json()["error"].is_string());
    }
}

#[test]
fn bad_requests_get_json_errors() {
    let addr = start_memory();
    let cases = [
        ("POST", "/api/tasks", "{not json", 400),
        ("POST", "/api/tasks", r#"{"done":true}"#, 400),
        ("POST", "/api/tasks", r#"{"title":5}"#, 400),
        ("POST", "/api/tasks", r#"{"id":"","title":"x"}"#, 400),
        ("GET", "/api/nothing/here", "", 404),
        ("GET", "/api", "", 404),
        ("DELETE", "/api/tasks", "", 405),
    ];
    for (method, path, body, status) in cases {
        let reply = call(addr, method, path, None, body);
        assert_eq!(reply.status, status, "{method} {path} {body}");
        assert!(reply.json()["error"].is_string(), "{method} {path} {body}");
    }

    assert_eq!(
        call(
            addr,
            "POST",
            "/api/tasks",
            None,
            r#"{"id":"a","title":"x"}"#
        )
        .status,
        201
    );
    let duplicate = call(
        addr,
        "POST",
        "/api/tasks",
        None,
        r#"{"id":"a","title":"y"}"#,
    );
    assert_eq!(duplicate.status, 409);
    assert_eq!(tasks(addr)[0]["title"], "x", "a duplicate changes nothing");
}

#[test]
fn only_allowed_origins_get_cors_answers() {
    let addr = start(demo_server::Config {
        allowed_origins: vec!["http://allowed.test".into()],
        ..Default::default()
    });
    let get_from = |origin| send(addr, "GET", "/api/tasks", &[("Origin", origin)], "");
    assert_eq!(
        get_from("http://elsewhere.test").header("access-control-allow-origin"),
        None
    );
    let allowed = get_from("http://allowed.test");
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("http://allowed.test")
    );
    assert_eq!(allowed.header("vary"), Some("origin"));

    let preflight = |origin| {
        send(
            addr,
            "OPTIONS",
            "/api/tasks",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                (
                    "Access-Control-Request-Headers",
                    "content-type,idempotency-key",
                ),
            ],
            "",
        )
    };
    let answered = preflight("http://allowed.test");
    assert_eq!(answered.status, 204);
    assert_eq!(
        answered.header("access-control-allow-origin"),
        Some("http://allowed.test")
    );
    assert_eq!(
        answered.header("access-control-allow-headers"),
        Some("content-type,idempotency-key")
    );
    let refused = preflight("http://elsewhere.test");
    assert_ne!(refused.status, 204);
    assert_eq!(refused.header("access-control-allow-origin"), None);
}

#[test]
fn other_sites_cannot_mutate_and_json_routes_take_json() {
    let addr = start(demo_server::Config {
        allowed_origins: vec!["http://allowed.test".into()],
        ..Default::default()
    });
    let post = |headers: &[(&str, &str)]| {
        send(
            addr,
            "POST",
            "/api/tasks",
            headers,
            r#"{"title":"from afar"}"#,
        )
    };
    // What a page on another site can send without asking: a simple text/plain POST.
    let attack = post(&[
        ("Content-Type", "text/plain"),
        ("Origin", "http://evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
    ]);
    assert_eq!(attack.status, 403);
    assert_eq!(
        attack.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(
        post(&[
            ("Content-Type", "application/json"),
            ("Origin", "http://evil.example")
        ])
        .status,
        403
    );
    assert_eq!(
        post(&[
            ("Content-Type", "application/json"),
            ("Sec-Fetch-Site", "cross-site")
        ])
        .status,
        403
    );
    assert_eq!(post(&[("Content-Type", "text/plain")]).status, 415);
    assert_eq!(
        post(&[("Content-Type", "application/x-www-form-urlencoded")]).status,
        415
    );
    assert!(tasks(addr).is_empty(), "nothing applied");
    // The test client sends `Host: localhost`: the server's own origin is what the Host names.
    assert_eq!(
        post(&[
            ("Content-Type", "application/json"),
            ("Origin", "http://localhost"),
            ("Sec-Fetch-Site", "same-origin")
        ])
        .status,
        201
    );
    assert_eq!(
        post(&[
            ("Content-Type", "application/json"),
            ("Origin", "http://allowed.test"),
            ("Sec-Fetch-Site", "cross-site")
        ])
        .status,
        201
    );
    assert_eq!(tasks(addr).len(), 2);
}

#[test]
fn log_records_every_api_request_in_order() {
    let addr = start_memory();
    call(
        addr,
        "POST",
        "/api/tasks?from=test",
        Some("log-key"),
        r#"{"title":"logged"}"#,
    );
    get(addr, "/api/tasks");
    get(addr, "/index.html"); // not an API request: not logged

    let Value::Array(log) = get(addr, "/_test/log").json() else {
        panic!("log is an array")
    };
    assert_eq!(log.len(), 2);
    let first = &log[0];
    assert_eq!(first["seq"], 1);
    assert_eq!(first["method"], "POST");
    assert_eq!(first["path"], "/api/tasks");
    assert_eq!(first["query"], "from=test");
    assert_eq!(first["headers"]["idempotency-key"], "log-key");
    assert_eq!(first["headers"]["content-type"], "application/json");
    assert_eq!(first["bodyBase64"], "eyJ0aXRsZSI6ImxvZ2dlZCJ9"); // {"title":"logged"}
    assert_eq!(first["idempotencyKey"], "log-key");
    assert_eq!(first["outcome"], "applied");
    assert_eq!(first["status"], 201);
    assert_eq!(log[1]["seq"], 2);
    assert_eq!(log[1]["method"], "GET");
    assert_eq!(log[1]["idempotencyKey"], Value::Null);
}

#[test]
fn reset_clears_everything() {
    let addr = start_memory();
    call(addr, "POST", "/api/tasks", Some("k"), r#"{"title":"a"}"#);
    call(addr, "POST", "/_test/faults", None, r#"{"fail503":5}"#);

    assert_eq!(send(addr, "POST", "/_test/reset", &[], "").status, 204);
    assert_eq!(tasks(addr), Vec::<Value>::new());
    assert_eq!(
        get(addr, "/_test/faults").json(),
        json!({"dropAfterApply":0,"fail503":0,"retryAfter":1,"requireAuth":null,"dropRate":0.0,"fail503Rate":0.0,"seed":1,"delayMs":0})
    );
    assert_eq!(
        log_outcomes(addr),
        [("GET".into(), "applied".into(), 200)],
        "only the GET above"
    );
    // The key is forgotten too: a different body under it is a new request.
    assert_eq!(
        call(addr, "POST", "/api/tasks", Some("k"), r#"{"title":"b"}"#).status,
        201
    );
}

#[test]
fn static_files_first_root_wins() {
    let root = temp_dir("static");
    let (first, second) = (root.join("first"), root.join("second"));
    for dir in [&first, &second] {
        std::fs::create_dir(dir).expect("mkdir");
    }
    std::fs::write(first.join("app.js"), "export const from = 'first';").expect("write");
    std::fs::write(second.join("app.js"), "export const from = 'second';").expect("write");
    std::fs::write(
        second.join("index.html"),
        "<!doctype html><title>demo</title>",
    )
    .expect("write");
    std::fs::write(second.join("engine.wasm"), b"\0asm\x01\0\0\0").expect("write");
    std::fs::write(root.join("secret.txt"), "secret").expect("write");
    let addr = start(demo_server::Config {
        static_dirs: vec![first, second],
        ..Default::default()
    });

    let js = get(addr, "/app.js");
    assert_eq!(js.status, 200);
    assert_eq!(js.body, b"export const from = 'first';");
    assert_eq!(js.header("content-type"), Some("text/javascript"));
    assert_eq!(js.header("cache-control"), Some("no-cache"));

    let index = get(addr, "/");
    assert_eq!(index.status, 200);
    assert_eq!(index.header("content-type"), Some("text/html"));
    assert_eq!(index.header("cache-control"), Some("no-cache"));

    let wasm = get(addr, "/engine.wasm");
    assert_eq!(wasm.header("content-type"), Some("application/wasm"));
    assert_eq!(wasm.body, b"\0asm\x01\0\0\0");

    assert_eq!(get(addr, "/missing.js").status, 404);
    for escape in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/first/..%2f..%2fsecret.txt",
    ] {
        let reply = get(addr, escape);
        assert_eq!(reply.status, 404, "{escape}");
        assert!(
            !String::from_utf8_lossy(&reply.body).contains("secret"),
            "{escape}"
        );
    }

    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn without_test_hooks_no_page_can_reset_the_data_or_switch_faults_on() {
    // As `./build.sh demo` runs it: a form POST from any site the user visits must not reach them.
    let addr = start_as_given(demo_server::Config::default());
    let made = call(
        addr,
        "POST",
        "/api/tasks",
        None,
        r#"{"id":"kept","title":"kept"}"#,
    );
    assert_eq!(made.status, 201);
    for (method, path, body) in [
        ("POST", "/_test/reset", ""),
        ("POST", "/_test/faults", r#"{"fail503":5}"#),
        ("GET", "/_test/log", ""),
        ("GET", "/_test/overlap", ""),
    ] {
        let reply = send(
            addr,
            method,
            path,
            &[
                ("origin", "http://evil.example"),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            body,
        );
        assert_eq!(reply.status, 404, "{method} {path}");
    }
    assert_eq!(tasks(addr).len(), 1, "nothing was reset");
    let after = call(
        addr,
        "POST",
        "/api/tasks",
        None,
        r#"{"id":"still","title":"no fault"}"#,
    );
    assert_eq!(after.status, 201, "no fault was switched on");
}
