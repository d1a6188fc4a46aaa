//! Test helpers: the server started in-process on port 0, and a tiny HTTP/1.1 client on a
//! raw `TcpStream` (one request per connection), so tests can also see a connection that
//! closes without any answer.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use demo_server::{Config, Server};
use serde_json::Value;

/// Starts a server with its test hooks on its own thread and runtime; it lives until the test
/// process ends.
pub fn start(config: Config) -> SocketAddr {
    start_as_given(Config {
        test_hooks: true,
        ..config
    })
}

/// The same, with the hooks as `config` says (off by default, as `./build.sh demo` runs it).
pub fn start_as_given(config: Config) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let server = Server::bind(config).await.expect("bind");
            tx.send(server.local_addr().expect("local addr"))
                .expect("report addr");
            server.run().await;
        });
    });
    rx.recv().expect("server started")
}

/// A server with an in-memory database and no static files.
pub fn start_memory() -> SocketAddr {
    start(Config::default())
}

/// A fresh, empty directory under the system temp dir.
pub fn temp_dir(label: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "demo-server-{label}-{}-{nanos}-{n}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// Writes raw request bytes and returns every byte the server sent before closing. A reset
/// counts as a close: either way the client got no (more) answer.
pub fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(request).expect("write request");
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return received,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return received,
            Err(e) => panic!(
                "reading the answer failed after {} bytes: {e}",
                received.len()
            ),
        }
    }
}

/// The bytes of one `Connection: close` request.
pub fn raw_request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || !matches!(method, "GET" | "HEAD") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

pub fn parse(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete answer: {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    assert!(
        !headers.iter().any(|(n, _)| n == "transfer-encoding"),
        "this client only reads Content-Length bodies"
    );
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

pub fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    parse(&exchange(addr, &raw_request(method, path, headers, body)))
}

pub fn get(addr: SocketAddr, path: &str) -> Reply {
    send(addr, "GET", path, &[], "")
}

/// A JSON request, with an Idempotency-Key when `key` is given.
pub fn call(addr: SocketAddr, method: &str, path: &str, key: Option<&str>, body: &str) -> Reply {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(key) = key {
        headers.push(("Idempotency-Key", key));
    }
    send(addr, method, path, &headers, body)
}

pub fn tasks(addr: SocketAddr) -> Vec<Value> {
    let reply = get(addr, "/api/tasks");
    assert_eq!(reply.status, 200);
    match reply.json() {
        Value::Array(tasks) => tasks,
        other => panic!("tasks should be an array, got {other}"),
    }
}

/// `(method, outcome, status)` of every logged API request, in arrival order.
pub fn log_outcomes(addr: SocketAddr) -> Vec<(String, String, u64)> {
    let Value::Array(entries) = get(addr, "/_test/log").json() else {
        panic!("log is not an array")
    };
    entries
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap_or_default().to_owned(),
                e["outcome"].as_str().unwrap_or_default().to_owned(),
                e["status"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}
