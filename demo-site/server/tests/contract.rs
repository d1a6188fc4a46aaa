//! The contract kit against the demo server: every rule passes, for both collections. And
//! against a server that ignores the contract: every rule fails, so none can pass by accident.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use offline_sync_contract::{Target, Verdict, check};

fn verdicts(target: &Target) -> Vec<(&'static str, Verdict)> {
    check(target, &[])
        .into_iter()
        .map(|(rule, verdict)| (rule.name, verdict))
        .collect()
}

#[test]
fn the_demo_server_keeps_every_rule() {
    let addr = support::start_memory();
    let mut projects = Target::new(&format!("http://{addr}/api/projects"));
    projects.body =
        serde_json::from_str(r##"{"name":"contract","color":"#ff0000"}"##).expect("a JSON object");
    for target in [Target::new(&format!("http://{addr}/api/tasks")), projects] {
        for (rule, verdict) in verdicts(&target) {
            assert!(
                matches!(verdict, Verdict::Pass(_)),
                "{} {rule}: {verdict:?}",
                target.collection
            );
        }
    }
}

/// A server that applies whatever it is sent, every time, and knows nothing else.
fn careless_server() -> SocketAddr {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let app = Router::new().route(
                "/api/things",
                post(|_body: String| async {
                    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
                    (StatusCode::CREATED, format!(r#"{{"id":"{id}"}}"#))
                }),
            );
            let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("an address"))
                .expect("report the address");
            axum::serve(listener, app).await.expect("serve");
        });
    });
    rx.recv().expect("the careless server's address")
}

#[test]
fn a_server_that_ignores_the_contract_fails_every_rule() {
    let addr = careless_server();
    for (rule, verdict) in verdicts(&Target::new(&format!("http://{addr}/api/things"))) {
        assert!(matches!(verdict, Verdict::Fail(_)), "{rule}: {verdict:?}");
    }
}
