//! `--header`: extra headers on every static-file response (how the CSP end-to-end test serves
//! the worker under a Content-Security-Policy), and never on API answers.

mod support;

use axum::http::{HeaderName, HeaderValue};
use support::{call, get, send, start, temp_dir};

#[test]
fn extra_headers_go_on_every_static_answer_only() {
    let root = temp_dir("headers");
    std::fs::write(root.join("sw.js"), "// a worker").expect("write");
    let csp = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'";
    let addr = start(demo_server::Config {
        static_dirs: vec![root.clone()],
        static_headers: vec![
            (
                HeaderName::from_static("content-security-policy"),
                HeaderValue::from_static(csp),
            ),
            (
                HeaderName::from_static("x-extra"),
                HeaderValue::from_static("one"),
            ),
            (
                HeaderName::from_static("x-extra"),
                HeaderValue::from_static("two"),
            ),
        ],
        ..Default::default()
    });

    let found = get(addr, "/sw.js");
    assert_eq!(found.status, 200);
    assert_eq!(found.body, b"// a worker");
    assert_eq!(found.header("content-type"), Some("text/javascript"));
    assert_eq!(found.header("cache-control"), Some("no-cache"));
    for reply in [
        found,
        get(addr, "/missing.js"),
        get(addr, "/../escape"),
        send(addr, "POST", "/sw.js", &[], ""),
    ] {
        assert_eq!(
            reply.header("content-security-policy"),
            Some(csp),
            "{}",
            reply.status
        );
        let extra: Vec<&str> = reply
            .headers
            .iter()
            .filter(|(n, _)| n == "x-extra")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(
            extra,
            ["one", "two"],
            "a repeated name is kept twice, in order"
        );
    }

    // The API is not static: its answers stay as they were.
    let api = call(addr, "POST", "/api/tasks", None, r#"{"title":"t"}"#);
    assert_eq!(api.status, 201);
    let unknown = get(addr, "/api/nothing-here");
    assert_eq!(unknown.status, 404);
    for reply in [api, unknown] {
        assert_eq!(reply.header("content-security-policy"), None);
        assert_eq!(reply.header("x-extra"), None);
    }

    let _ = std::fs::remove_dir_all(root);
}
