//! `POST /api/_batch`: many mutations in one request (what offline-sync's replay sends when its
//! `batchUrl` option is set). Each item goes through the same API routes, Idempotency-Key
//! included, in order; the batch stops after the first answer that is not 2xx, so nothing
//! overtakes a refused or failed item. Answers `{"results": [...]}`, one per item attempted.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Method, Request};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

use crate::api::{self, MAX_BODY};
use crate::app::App;
use crate::error::ApiError;

/// Most items one batch may carry.
pub const MAX_ITEMS: usize = 500;

#[derive(Deserialize)]
pub struct Batch {
    requests: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    method: String,
    /// A path (and query) under `/api/`; never `_batch` itself.
    url: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Serialize)]
struct Outcome {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

pub async fn handle(State(app): State<Arc<App>>, Json(batch): Json<Batch>) -> Response {
    if batch.requests.len() > MAX_ITEMS {
        return ApiError::BadRequest(format!("a batch holds at most {MAX_ITEMS} requests")).into_response();
    }
    let routes = api::routes().with_state(app);
    let mut results = Vec::with_capacity(batch.requests.len());
    for item in batch.requests {
        let request = match to_request(item) {
            Ok(request) => request,
            Err(e) => return e.into_response(),
        };
        let response = match routes.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let body = to_bytes(response.into_body(), MAX_BODY).await.unwrap_or_default();
        results.push(Outcome { status: status.as_u16(), headers, body: String::from_utf8_lossy(&body).into_owned() });
        if !status.is_success() {
            break;
        }
    }
    Json(serde_json::json!({ "results": results })).into_response()
}

fn to_request(item: Item) -> Result<Request<Body>, ApiError> {
    let bad = |why: String| ApiError::BadRequest(format!("batch item: {why}"));
    let method = Method::from_bytes(item.method.as_bytes()).map_err(|_| bad(format!("bad method {:?}", item.method)))?;
    if !item.url.starts_with("/api/") || item.url.starts_with("/api/_batch") {
        return Err(bad(format!("url must be a path under /api/, found {:?}", item.url)));
    }
    let mut request = Request::builder().method(method).uri(&item.url);
    for (name, value) in &item.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad(format!("bad header name {name:?}")))?;
        let value = HeaderValue::from_str(value).map_err(|_| bad(format!("bad value for header {name}")))?;
        request = request.header(name, value);
    }
    request.body(Body::from(item.body.unwrap_or_default())).map_err(|e| bad(e.to_string()))
}
