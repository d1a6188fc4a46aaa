//! The contract on PostgreSQL with a real throwaway cluster: two instances on one database act
//! as one server, a transaction cut short leaves nothing, and a database that goes away gives
//! 503s and loses nothing once it is back. And the contract kit, over HTTP, against two
//! instances on one database.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use offline_sync_contract::{Target, Verdict, check};
use offline_sync_server::{OfflineSync, PgConn, PgStore, Tx};
use support::cluster::Cluster;
use support::cues::Cues;
use tower::ServiceExt;

async fn create(State(cues): State<Arc<Cues>>, tx: Tx<PgConn>, body: String) -> Response {
    if serde_json::from_str::<serde_json::Value>(&body).is_err() {
        return (StatusCode::BAD_REQUEST, "the body is not JSON").into_response();
    }
    let id: i64 = match tx
        .query_one(
            "INSERT INTO notes (body) VALUES ($1) RETURNING id",
            &[&body],
        )
        .await
    {
        Ok(row) => row.get(0),
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [("retry-after", "1")],
                e.to_string(),
            )
                .into_response();
        }
    };
    drop(tx);
    cues.answer(&body, id).await
}

/// One server instance: its own pool on the shared database.
struct Instance {
    router: Router,
    cues: Arc<Cues>,
    store: PgStore,
}

async fn instance(cluster: &Cluster) -> Instance {
    let store = PgStore::connect(&cluster.url()).await.expect("the store");
    store
        .client()
        .await
        .expect("a connection")
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS notes (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)",
        )
        .await
        .expect("the notes table");
    let cues = Arc::new(Cues::default());
    let contract = OfflineSync::new(store.clone());
    let api = Router::new()
        .route("/api/notes", post(create))
        .with_state(cues.clone())
        .layer(contract.clone());
    let router = api.clone().route("/api/_batch", contract.batch(api));
    Instance {
        router,
        cues,
        store,
    }
}

struct Reply {
    status: u16,
    replayed: bool,
    retry_after: Option<String>,
    body: String,
}

impl Instance {
    async fn post(&self, key: &str, body: &str) -> Reply {
        let request = Request::post("/api/notes")
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(Body::from(body.to_owned()))
            .expect("a request");
        let Ok(response) = self.router.clone().oneshot(request).await;
        let (head, body) = response.into_parts();
        let header = |name| {
            head.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (status, replayed, retry_after) = (
            head.status.as_u16(),
            header("idempotent-replayed").is_some(),
            header("retry-after"),
        );
        let body = to_bytes(body, usize::MAX).await.expect("a body");
        Reply {
            status,
            replayed,
            retry_after,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    async fn notes(&self) -> i64 {
        let client = self.store.client().await.expect("a connection");
        client
            .query_one("SELECT COUNT(*) FROM notes", &[])
            .await
            .expect("a count")
            .get(0)
    }
}

#[tokio::test]
async fn two_instances_on_one_database_act_as_one_server() {
    let cluster = Cluster::start();
    let (a, b) = (instance(&cluster).await, instance(&cluster).await);
    let first = a.post("k", r#""a""#).await;
    assert_eq!((first.status, first.replayed), (201, false));
    let again = b.post("k", r#""a""#).await;
    assert_eq!(
        (again.status, again.replayed, &again.body),
        (201, true, &first.body),
        "the other instance replays the first answer"
    );
    assert_eq!(
        b.post("k", r#""b""#).await.status,
        422,
        "and knows the key was used for another request"
    );

    let running = {
        let router = a.router.clone();
        let a = Instance {
            router,
            cues: a.cues.clone(),
            store: a.store.clone(),
        };
        tokio::spawn(async move { a.post("slow", r#""wait""#).await })
    };
    a.cues.started.notified().await;
    let meanwhile = b.post("slow", r#""wait""#).await;
    assert_eq!(
        (meanwhile.status, meanwhile.retry_after.as_deref()),
        (409, Some("1")),
        "in flight on the other instance"
    );
    a.cues.release.notify_one();
    assert_eq!(running.await.expect("the first request").status, 201);
    let after = b.post("slow", r#""wait""#).await;
    assert_eq!((after.status, after.replayed), (201, true));
    assert_eq!(a.notes().await, 2);
}

#[tokio::test]
async fn a_5xx_or_a_request_cut_short_leaves_nothing_applied() {
    let cluster = Cluster::start();
    let a = instance(&cluster).await;
    assert_eq!(a.post("f", r#""fail""#).await.status, 503);
    assert_eq!(a.notes().await, 0, "the 5xx rolled the write back");
    let cut = tokio::time::timeout(Duration::from_millis(200), a.post("gone", r#""wait""#)).await;
    assert!(cut.is_err(), "still running when dropped");
    let deadline = Instant::now() + Duration::from_secs(10);
    let retried = loop {
        let reply = a.post("gone", r#""a""#).await;
        // The closed connection's lock goes when the database notices it.
        if reply.status != 409 || Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        (retried.status, retried.replayed),
        (201, false),
        "the key is free and nothing was kept"
    );
    assert_eq!(a.notes().await, 1);
}

#[tokio::test]
async fn with_the_database_gone_mid_load_answers_are_503_and_nothing_is_lost_or_doubled() {
    const CLIENTS: usize = 4;
    const EACH: usize = 15;
    let cluster = Cluster::start();
    let (a, b) = (
        Arc::new(instance(&cluster).await),
        Arc::new(instance(&cluster).await),
    );
    let unavailable = Arc::new(AtomicU32::new(0));
    let sent = Arc::new(AtomicU32::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (a, b, unavailable, sent) =
                (a.clone(), b.clone(), unavailable.clone(), sent.clone());
            tokio::spawn(async move {
                for n in 0..EACH {
                    let (key, body) = (format!("c{c}-{n}"), format!("\"note {c}-{n}\""));
                    let deadline = Instant::now() + Duration::from_secs(60);
                    // Alternate instances, as a round-robin balancer would; retry as the worker does.
                    for attempt in 0u32.. {
                        let reply = if attempt % 2 == 0 {
                            a.post(&key, &body).await
                        } else {
                            b.post(&key, &body).await
                        };
                        match reply.status {
                            201 => break,
                            503 => {
                                assert!(reply.retry_after.is_some(), "a 503 says when to retry");
                                unavailable.fetch_add(1, Ordering::Relaxed);
                            }
                            409 => {}
                            other => panic!("{key}: unexpected {other} {}", reply.body),
                        }
                        assert!(Instant::now() < deadline, "{key} never got through");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while sent.load(Ordering::Relaxed) < 10 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let halted = tokio::task::spawn_blocking(move || {
        cluster.halt();
        std::thread::sleep(Duration::from_millis(700));
        cluster.resume();
        cluster
    });
    let cluster = halted.await.expect("the cluster stopped and started again");
    for client in clients {
        client.await.expect("a client");
    }
    assert!(
        unavailable.load(Ordering::Relaxed) > 0,
        "the outage was seen as 503s"
    );
    assert_eq!(
        a.notes().await,
        i64::try_from(CLIENTS * EACH).expect("a count"),
        "each mutation applied exactly once"
    );
    let client = a.store.client().await.expect("a connection");
    let keys: i64 = client
        .query_one("SELECT COUNT(*) FROM offline_sync_keys", &[])
        .await
        .expect("a count")
        .get(0);
    assert_eq!(
        keys,
        i64::try_from(CLIENTS * EACH).expect("a count"),
        "each with its answer kept"
    );
    drop(cluster);
}

#[tokio::test]
async fn the_contract_kit_passes_against_two_instances_on_one_database() {
    let cluster = Cluster::start();
    let mut urls = Vec::new();
    for _ in 0..2 {
        let server = instance(&cluster).await;
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind");
        urls.push(format!(
            "http://{}/api/notes",
            listener.local_addr().expect("an address")
        ));
        tokio::spawn(async move { axum::serve(listener, server.router).await });
    }
    // The notes app has no pull and no versions: those rules are the demo server's.
    let skip = ["since-tombstones".to_owned(), "if-match-409".to_owned()];
    for url in urls {
        let skip = skip.clone();
        let verdicts = tokio::task::spawn_blocking(move || {
            check(&Target::new(&url), &skip)
                .into_iter()
                .map(|(rule, verdict)| (rule.name, verdict))
                .collect::<Vec<_>>()
        })
        .await
        .expect("the kit ran");
        for (rule, verdict) in verdicts {
            assert!(
                matches!(verdict, Verdict::Pass(_) | Verdict::Skipped),
                "{rule}: {verdict:?}"
            );
        }
    }
}
