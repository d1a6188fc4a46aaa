//! The demo server on PostgreSQL: two instances on one database act as one server, the
//! contract kit passes against each, and a database that goes away gives 503 with
//! `Retry-After` and loses nothing.

#[path = "../../../server/tests/support/cluster.rs"]
mod cluster;
mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use cluster::Cluster;
use offline_sync_contract::{Target, Verdict, check};
use serde_json::Value;
use support::call;

fn two_instances(cluster: &Cluster) -> (std::net::SocketAddr, std::net::SocketAddr) {
    let config = || demo_server::Config {
        db: Some(cluster.url().into()),
        ..Default::default()
    };
    (support::start(config()), support::start(config()))
}

fn pull_all(addr: std::net::SocketAddr, collection: &str) -> Vec<Value> {
    let reply = support::get(addr, &format!("/api/{collection}?since=0&limit=1000"));
    assert_eq!(reply.status, 200);
    reply.json()["changes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn two_instances_on_one_database_act_as_one_server() {
    let cluster = Cluster::start();
    let (a, b) = two_instances(&cluster);

    let first = call(
        a,
        "POST",
        "/api/tasks",
        Some("k1"),
        r#"{"id":"t1","title":"on a"}"#,
    );
    assert_eq!(first.status, 201);
    let again = call(
        b,
        "POST",
        "/api/tasks",
        Some("k1"),
        r#"{"id":"t1","title":"on a"}"#,
    );
    assert_eq!(
        (again.status, again.header("idempotent-replayed")),
        (201, Some("true"))
    );
    assert_eq!(again.body, first.body, "b replays a's answer");
    assert_eq!(
        call(
            b,
            "POST",
            "/api/tasks",
            Some("k1"),
            r#"{"id":"t2","title":"other"}"#
        )
        .status,
        422
    );

    // Writes on both, at once: one change sequence, no number twice.
    std::thread::scope(|scope| {
        for (n, addr) in [a, b, a, b].into_iter().enumerate() {
            scope.spawn(move || {
                for i in 0..10 {
                    let body = format!(r#"{{"id":"w{n}-{i}","title":"w"}}"#);
                    assert_eq!(
                        call(
                            addr,
                            "POST",
                            "/api/tasks",
                            Some(&format!("w{n}-{i}")),
                            &body
                        )
                        .status,
                        201
                    );
                }
            });
        }
    });
    let changes = pull_all(b, "tasks");
    assert_eq!(changes.len(), 41);
    let seqs: BTreeSet<i64> = changes.iter().filter_map(|c| c["seq"].as_i64()).collect();
    assert_eq!(seqs.len(), 41, "every change has its own sequence number");
    let patched = call(
        b,
        "PATCH",
        "/api/tasks/t1",
        Some("p1"),
        r#"{"status":"done"}"#,
    );
    assert_eq!(
        (patched.status, patched.json()["version"].clone()),
        (200, Value::from(2))
    );
    assert_eq!(
        pull_all(a, "tasks")
            .iter()
            .find(|c| c["id"] == "t1")
            .map(|c| c["done"].clone()),
        Some(Value::Bool(true))
    );
}

#[test]
fn the_contract_kit_passes_against_each_instance() {
    let cluster = Cluster::start();
    let (a, b) = two_instances(&cluster);
    for addr in [a, b] {
        let mut projects = Target::new(&format!("http://{addr}/api/projects"));
        projects.body = serde_json::from_str(r#"{"name":"contract"}"#).expect("a JSON object");
        for target in [Target::new(&format!("http://{addr}/api/tasks")), projects] {
            for (rule, verdict) in check(&target, &[]) {
                assert!(
                    matches!(verdict, Verdict::Pass(_)),
                    "{} {}: {verdict:?}",
                    target.collection,
                    rule.name
                );
            }
        }
    }
}

#[test]
fn with_the_database_gone_answers_are_503_with_retry_after_and_nothing_is_lost() {
    let cluster = Cluster::start();
    let (a, _) = two_instances(&cluster);
    assert_eq!(
        call(
            a,
            "POST",
            "/api/tasks",
            Some("before"),
            r#"{"id":"before","title":"x"}"#
        )
        .status,
        201
    );
    cluster.halt();
    let down = call(
        a,
        "POST",
        "/api/tasks",
        Some("during"),
        r#"{"id":"during","title":"x"}"#,
    );
    assert_eq!(
        (down.status, down.header("retry-after")),
        (503, Some("1")),
        "{}",
        String::from_utf8_lossy(&down.body)
    );
    let read = support::get(a, "/api/tasks");
    assert_eq!((read.status, read.header("retry-after")), (503, Some("1")));
    cluster.resume();
    let deadline = Instant::now() + Duration::from_secs(20);
    let retried = loop {
        let reply = call(
            a,
            "POST",
            "/api/tasks",
            Some("during"),
            r#"{"id":"during","title":"x"}"#,
        );
        if reply.status != 503 || Instant::now() > deadline {
            break reply;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        (retried.status, retried.header("idempotent-replayed")),
        (201, None),
        "applied once it was back"
    );
    let ids: Vec<Value> = pull_all(a, "tasks")
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(ids, [Value::from("before"), Value::from("during")]);
}
