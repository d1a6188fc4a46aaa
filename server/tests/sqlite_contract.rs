//! The contract on the SQLite store, through a small app of notes: each rule the layer keeps,
//! seen from the outside, and what the app's table holds afterwards.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use offline_sync_server::{OfflineSync, SqliteConn, SqliteStore, Tx};
use rusqlite::Connection;
use support::cues::Cues;
use tower::ServiceExt;

async fn create(State(cues): State<Arc<Cues>>, tx: Tx<SqliteConn>, body: String) -> Response {
    let id = match tx.execute("INSERT INTO notes (body) VALUES (?1)", [&body]) {
        Ok(_) => tx.last_insert_rowid(),
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    drop(tx);
    cues.answer(&body, id).await
}

async fn count(State(store): State<SqliteStore>) -> String {
    let conn = store.lock().await;
    conn.query_row("SELECT COUNT(*) FROM notes", [], |r| r.get::<_, i64>(0))
        .map_or_else(|e| e.to_string(), |n| n.to_string())
}

struct App {
    router: Router,
    cues: Arc<Cues>,
}

fn app_with(
    store: SqliteStore,
    configure: impl FnOnce(OfflineSync<SqliteStore>) -> OfflineSync<SqliteStore>,
) -> App {
    let cues = Arc::new(Cues::default());
    let contract = configure(OfflineSync::new(store.clone()));
    let api = Router::new()
        .route("/api/notes", post(create))
        .with_state(cues.clone())
        .layer(contract.clone());
    let router = api
        .clone()
        .route("/api/_batch", contract.batch(api))
        .merge(Router::new().route("/count", get(count)).with_state(store));
    App { router, cues }
}

fn store() -> SqliteStore {
    let conn = Connection::open_in_memory().expect("in-memory SQLite");
    conn.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        .expect("the notes table");
    SqliteStore::new(conn).expect("the key table")
}

fn app() -> App {
    app_with(store(), |c| c)
}

struct Reply {
    status: u16,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl App {
    async fn send(&self, request: Request<Body>) -> Reply {
        let Ok(response) = self.router.clone().oneshot(request).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a readable body");
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    async fn post(&self, key: Option<&str>, body: &str, extra: &[(&str, &str)]) -> Reply {
        let mut request = Request::post("/api/notes").header("host", "app.test");
        if !extra.iter().any(|(name, _)| *name == "content-type") {
            request = request.header("content-type", "application/json");
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        self.send(
            request
                .body(Body::from(body.to_owned()))
                .expect("a request"),
        )
        .await
    }

    async fn notes(&self) -> String {
        self.send(
            Request::get("/count")
                .body(Body::empty())
                .expect("a request"),
        )
        .await
        .body
    }
}

#[tokio::test]
async fn a_retry_gets_the_first_answer_byte_for_byte_and_changes_nothing() {
    let app = app();
    let first = app.post(Some("k1"), r#""a""#, &[]).await;
    assert_eq!(first.status, 201);
    assert_eq!(first.header("idempotent-replayed"), None);
    for key in ["k1", "\"k1\"", " k1 "] {
        let again = app.post(Some(key), r#""a""#, &[]).await;
        assert_eq!(again.status, 201, "key {key}");
        assert_eq!(again.body, first.body);
        assert_eq!(
            again.header("location"),
            first.header("location"),
            "the app's headers too"
        );
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
    }
    assert_eq!(app.notes().await, "1");
    let other = app.post(Some("k2"), r#""a""#, &[]).await;
    assert_eq!(other.status, 201);
    assert_ne!(other.body, first.body);
    let unkeyed = app.post(None, r#""a""#, &[]).await;
    assert_eq!(unkeyed.status, 201, "a key is optional unless required");
    assert_eq!(app.notes().await, "3");
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_422() {
    let app = app();
    assert_eq!(app.post(Some("k"), r#""a""#, &[]).await.status, 201);
    let reused = app.post(Some("k"), r#""b""#, &[]).await;
    assert_eq!(reused.status, 422);
    assert_eq!(
        reused.header("content-type"),
        Some("application/problem+json")
    );
    assert!(reused.body.contains("different request"), "{}", reused.body);
    assert_eq!(app.notes().await, "1");
}

#[tokio::test]
async fn a_retry_while_the_first_is_running_is_409_with_retry_after() {
    let app = Arc::new(app());
    let running = {
        let app = app.clone();
        tokio::spawn(async move { app.post(Some("slow"), r#""wait""#, &[]).await })
    };
    app.cues.started.notified().await;
    let meanwhile = app.post(Some("slow"), r#""wait""#, &[]).await;
    assert_eq!(meanwhile.status, 409);
    assert_eq!(meanwhile.header("retry-after"), Some("1"));
    app.cues.release.notify_one();
    let first = running.await.expect("the first request");
    assert_eq!(first.status, 201);
    let after = app.post(Some("slow"), r#""wait""#, &[]).await;
    assert_eq!(
        (after.status, after.header("idempotent-replayed")),
        (201, Some("true"))
    );
    assert_eq!(app.notes().await, "1");
}

#[tokio::test]
async fn a_5xx_rolls_back_and_stores_nothing_but_a_4xx_is_kept() {
    let app = app();
    let failed = app.post(Some("f"), r#""fail""#, &[]).await;
    assert_eq!(failed.status, 503);
    assert_eq!(
        app.notes().await,
        "0",
        "the handler's write was rolled back"
    );
    let again = app.post(Some("f"), r#""fail""#, &[]).await;
    assert_eq!(
        (again.status, again.header("idempotent-replayed")),
        (503, None),
        "ran again"
    );
    let refused = app.post(Some("r"), r#""refuse""#, &[]).await;
    assert_eq!(refused.status, 400);
    let replayed = app.post(Some("r"), r#""refuse""#, &[]).await;
    assert_eq!(
        (replayed.status, replayed.header("idempotent-replayed")),
        (400, Some("true"))
    );
    assert_eq!(
        app.notes().await,
        "1",
        "the refused write committed with its answer"
    );
}

#[tokio::test]
async fn a_client_that_goes_away_mid_request_leaves_nothing_applied() {
    let app = app();
    let gone = tokio::time::timeout(
        Duration::from_millis(50),
        app.post(Some("gone"), r#""wait""#, &[]),
    )
    .await;
    assert!(gone.is_err(), "the request was still running when dropped");
    assert_eq!(app.notes().await, "0");
    let retried = app.post(Some("gone"), r#""a""#, &[]).await;
    assert_eq!(
        retried.status, 201,
        "neither the key nor the connection is stuck"
    );
    assert_eq!(app.notes().await, "1");
}

#[tokio::test]
async fn bad_keys_are_400_problems() {
    let app = app_with(store(), |c| c.require_key(true));
    let missing = app.post(None, r#""a""#, &[]).await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
    let problem: serde_json::Value = serde_json::from_str(&missing.body).expect("problem JSON");
    assert_eq!(problem["status"], 400);
    assert_eq!(problem["title"], "Bad Request");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("requires an Idempotency-Key"))
    );
    assert_eq!(
        app.post(Some(&"k".repeat(256)), r#""a""#, &[]).await.status,
        400
    );
    assert_eq!(
        app.post(Some(&"k".repeat(255)), r#""a""#, &[]).await.status,
        201
    );
    let request = Request::post("/api/notes")
        .header("content-type", "application/json")
        .header(
            "idempotency-key",
            axum::http::HeaderValue::from_bytes("clé".as_bytes()).expect("a header value"),
        )
        .body(Body::from("\"a\""))
        .expect("a request");
    assert_eq!(app.send(request).await.status, 400);
    assert_eq!(
        app.post(Some("x"), r#""a""#, &[("idempotency-key", "y")])
            .await
            .status,
        400,
        "two keys"
    );
    assert_eq!(app.notes().await, "1");
}

#[tokio::test]
async fn cross_site_wrong_type_and_oversized_mutations_are_refused_before_anything_runs() {
    let app = app_with(store(), |c| {
        c.allow_origin("https://admin.test").max_body(64)
    });
    assert_eq!(
        app.post(Some("a"), r#""a""#, &[("origin", "http://evil.example")])
            .await
            .status,
        403
    );
    assert_eq!(
        app.post(Some("b"), r#""a""#, &[("sec-fetch-site", "cross-site")])
            .await
            .status,
        403
    );
    assert_eq!(
        app.post(Some("c"), r#""a""#, &[("content-type", "text/plain")])
            .await
            .status,
        415
    );
    assert_eq!(
        app.post(Some("d"), &format!("\"{}\"", "x".repeat(100)), &[])
            .await
            .status,
        413
    );
    assert_eq!(app.notes().await, "0");
    assert_eq!(
        app.post(
            Some("e"),
            r#""a""#,
            &[
                ("origin", "http://app.test"),
                ("sec-fetch-site", "same-origin")
            ]
        )
        .await
        .status,
        201
    );
    assert_eq!(
        app.post(
            Some("f"),
            r#""a""#,
            &[
                ("origin", "https://admin.test"),
                ("sec-fetch-site", "cross-site")
            ]
        )
        .await
        .status,
        201
    );
    assert_eq!(app.notes().await, "2");
}

#[tokio::test]
async fn an_expired_key_is_forgotten() {
    let app = app_with(
        SqliteStore::with_key_ttl(
            {
                let conn = Connection::open_in_memory().expect("SQLite");
                conn.execute_batch(
                    "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
                )
                .expect("notes");
                conn
            },
            Duration::from_millis(1),
        )
        .expect("the store"),
        |c| c,
    );
    assert_eq!(app.post(Some("k"), r#""a""#, &[]).await.status, 201);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let later = app.post(Some("k"), r#""a""#, &[]).await;
    assert_eq!(
        (later.status, later.header("idempotent-replayed")),
        (201, None),
        "applied anew"
    );
    assert_eq!(app.notes().await, "2");
}

fn batch(items: &str) -> Request<Body> {
    Request::post("/api/_batch")
        .header("content-type", "application/json")
        .body(Body::from(format!(r#"{{"requests":[{items}]}}"#)))
        .expect("a request")
}

fn item(key: &str, body: &str) -> String {
    format!(
        r#"{{"method":"POST","url":"/api/notes","headers":[["content-type","application/json"],["idempotency-key","{key}"]],"body":{}}}"#,
        serde_json::to_string(body).expect("a JSON string")
    )
}

#[tokio::test]
async fn a_batch_runs_items_in_order_through_the_keys_and_stops_at_the_first_refusal() {
    let app = app();
    let reply = app
        .send(batch(
            &[
                item("b1", r#""a""#),
                item("b2", r#""refuse""#),
                item("b3", r#""c""#),
            ]
            .join(","),
        ))
        .await;
    assert_eq!(reply.status, 200);
    let results: serde_json::Value = serde_json::from_str(&reply.body).expect("results");
    let statuses: Vec<_> = results["results"]
        .as_array()
        .expect("an array")
        .iter()
        .map(|r| r["status"].clone())
        .collect();
    assert_eq!(statuses, [201, 400], "stopped after the refusal");
    assert_eq!(app.notes().await, "2");
    let again = app
        .send(batch(
            &[item("b1", r#""a""#), item("b3", r#""c""#)].join(","),
        ))
        .await;
    let results: serde_json::Value = serde_json::from_str(&again.body).expect("results");
    assert_eq!(
        results["results"][0]["body"],
        serde_json::from_str::<serde_json::Value>(&reply.body).expect("json")["results"][0]["body"]
    );
    assert!(
        results["results"][0]["headers"]
            .to_string()
            .contains("idempotent-replayed")
    );
    assert_eq!(app.notes().await, "3", "b1 replayed, b3 applied");
}

#[tokio::test]
async fn a_malformed_batch_is_400_and_applies_nothing() {
    let app = app();
    for bad in [
        [
            item("m1", r#""a""#),
            r#"{"method":"POST","url":"https://elsewhere.example/api/notes"}"#.into(),
        ]
        .join(","),
        [
            item("m2", r#""a""#),
            r#"{"method":"POST","url":"/api/_batch"}"#.into(),
        ]
        .join(","),
        [
            item("m6", r#""a""#),
            r#"{"method":"POST","url":"/count"}"#.into(),
        ]
        .join(","),
        [
            item("m3", r#""a""#),
            r#"{"method":"P OST","url":"/api/notes"}"#.into(),
        ]
        .join(","),
        [item("m4", r#""a""#), r#"{"url":"/api/notes"}"#.into()].join(","),
        format!(r#"{}, 7"#, item("m5", r#""a""#)),
    ] {
        let reply = app.send(batch(&bad)).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
    }
    let too_many = vec![item("n", r#""a""#); 501].join(",");
    assert_eq!(app.send(batch(&too_many)).await.status, 400);
    let cross = Request::post("/api/_batch")
        .header("content-type", "application/json")
        .header("sec-fetch-site", "cross-site")
        .body(Body::from(format!(
            r#"{{"requests":[{}]}}"#,
            item("x", r#""a""#)
        )))
        .expect("a request");
    assert_eq!(app.send(cross).await.status, 403);
    assert_eq!(app.notes().await, "0");
}
