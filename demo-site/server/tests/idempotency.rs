//! Idempotency-Key: a retried request gets the first answer back and changes nothing, even
//! across a restart of the server on the same database file.

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use support::{call, log_outcomes, tasks, temp_dir};

#[test]
fn a_repeated_request_replays_the_stored_answer() {
    let addr = support::start_memory();
    let first = call(
        addr,
        "POST",
        "/api/tasks",
        Some("key-1"),
        r#"{"title":"once"}"#,
    );
    assert_eq!(first.status, 201);
    assert_eq!(first.header("idempotent-replayed"), None);

    let again = call(
        addr,
        "POST",
        "/api/tasks",
        Some("key-1"),
        r#"{"title":"once"}"#,
    );
    assert_eq!(again.status, 201);
    assert_eq!(
        again.body, first.body,
        "byte-for-byte the first answer (same generated id)"
    );
    assert_eq!(again.header("content-type"), Some("application/json"));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(tasks(addr).len(), 1, "applied once");

    // Also for answers that would differ on a second try: a DELETE, then its retry.
    let id = first.json()["id"].as_str().expect("id").to_owned();
    let path = format!("/api/tasks/{id}");
    let deleted = call(addr, "DELETE", &path, Some("key-2"), "");
    assert_eq!(deleted.status, 200);
    let retried = call(addr, "DELETE", &path, Some("key-2"), "");
    assert_eq!(retried.status, 200, "not 404: the stored answer");
    assert_eq!(retried.header("idempotent-replayed"), Some("true"));
    assert_eq!(retried.body, deleted.body, "the same tombstone");
    assert_eq!(retried.header("content-type"), Some("application/json"));
    assert_eq!(retried.header("etag"), deleted.header("etag"));

    let outcomes: Vec<String> = log_outcomes(addr).into_iter().map(|(_, o, _)| o).collect();
    assert_eq!(
        outcomes,
        ["applied", "replayed", "applied", "applied", "replayed"]
    );
}

#[test]
fn a_reused_key_with_a_different_request_is_422() {
    let addr = support::start_memory();
    assert_eq!(
        call(
            addr,
            "POST",
            "/api/tasks",
            Some("k"),
            r#"{"id":"a","title":"a"}"#
        )
        .status,
        201
    );

    for (method, path, body) in [
        ("POST", "/api/tasks", r#"{"id":"b","title":"b"}"#),
        ("PUT", "/api/tasks/a", r#"{"id":"a","title":"a"}"#),
        ("POST", "/api/tasks?x", r#"{"id":"a","title":"a "}"#),
    ] {
        let reply = call(addr, method, path, Some("k"), body);
        assert_eq!(reply.status, 422, "{method} {path} {body}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(
            reply.json()["detail"],
            "this Idempotency-Key was used for a different request"
        );
        assert_eq!(reply.header("idempotent-replayed"), None);
    }
    let listed = tasks(addr);
    assert_eq!(listed.len(), 1, "nothing applied");
    assert_eq!(listed[0]["title"], "a");
}

/// The real binary, killed like a crash at the end of the test.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_binary(db: &Path) -> (Running, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_demo-server"))
        .args(["--port", "0", "--db"])
        .arg(db)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start demo-server");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read first line");
    let addr = line
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    (running, addr.parse().expect("socket address"))
}

#[test]
fn keys_survive_a_restart_on_the_same_database() {
    let dir = temp_dir("restart");
    let db = dir.join("demo.db");
    let body = r#"{"title":"durable"}"#;

    let (server, addr) = run_binary(&db);
    let first = call(addr, "POST", "/api/tasks", Some("durable-key"), body);
    assert_eq!(first.status, 201);
    drop(server); // SIGKILL: no chance to flush anything not yet committed

    let (_server, addr) = run_binary(&db);
    assert_eq!(tasks(addr).len(), 1, "the task survived");
    let again = call(addr, "POST", "/api/tasks", Some("durable-key"), body);
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(tasks(addr).len(), 1, "not applied twice");
    assert_eq!(
        call(addr, "POST", "/api/tasks", Some("durable-key"), "{}").status,
        422
    );

    drop(_server);
    let _ = std::fs::remove_dir_all(dir);
}
