//! The batch endpoint: many mutations in one request, as offline-sync's replay sends them when
//! its `batchUrl` option is set.
//!
//! `{"requests":[{"method","url","headers":[[name,value]…],"body"}…]}` in, `{"results":[{"status",
//! "headers","body"}…]}` out. Each item goes through the app's own routes, its key included, in
//! order, and the batch stops after the first answer that is not 2xx, so nothing overtakes a
//! refused item. A malformed batch is refused whole, before any item runs. Items stay under
//! the batch endpoint's directory: `/api/_batch` runs `/api/…` and nothing else.

use std::convert::Infallible;

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tower::{Service, ServiceExt};

use crate::layer::{Settings, admit, read_body};
use crate::problem::Problem;

/// Most items one batch may carry.
pub const MAX_ITEMS: usize = 500;

#[derive(Deserialize)]
struct Batch {
    requests: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    method: String,
    /// A path and query on this server, under the batch endpoint's own directory.
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

#[derive(Serialize)]
struct Results {
    results: Vec<Outcome>,
}

fn bad(detail: String) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, detail)
}

/// Runs one batch request through `api` (the app's routes, under the layer).
pub(crate) async fn run<A>(
    settings: &Settings,
    api: A,
    request: Request,
) -> Result<Response, Problem>
where
    A: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    A::Future: Send,
{
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST {
        return Err(Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "a batch is sent with POST",
        ));
    }
    admit(
        &Settings {
            require_key: false,
            ..settings.clone()
        },
        &parts,
    )?;
    let body = read_body(body, settings.max_body.saturating_mul(4)).await?;
    let batch: Batch =
        serde_json::from_slice(&body).map_err(|e| bad(format!("the batch is not valid: {e}")))?;
    if batch.requests.len() > MAX_ITEMS {
        return Err(bad(format!(
            "a batch holds at most {MAX_ITEMS} requests, this one {}",
            batch.requests.len()
        )));
    }
    let own_path = parts.uri.path();
    let requests = batch
        .requests
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            to_request(item, own_path).map_err(|why| bad(format!("batch item {i}: {why}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut results = Vec::with_capacity(requests.len());
    for request in requests {
        let Ok(response) = api.clone().oneshot(request).await;
        let status = response.status();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| {
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("an item's answer could not be read: {e}"),
                )
            })?;
        results.push(Outcome {
            status: status.as_u16(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        if !status.is_success() {
            break;
        }
    }
    Ok(Json(Results { results }).into_response())
}

fn to_request(item: Item, own_path: &str) -> Result<Request, String> {
    let method = Method::from_bytes(item.method.as_bytes())
        .map_err(|_| format!("bad method {:?}", item.method))?;
    // Items stay beside the batch endpoint: `/api/_batch` runs `/api/…`, never `/_admin/…`.
    let dir = &own_path[..own_path.rfind('/').map_or(0, |i| i + 1)];
    let path = item.url.split(['?', '#']).next().unwrap_or("");
    if !path.starts_with(dir) || path.starts_with("//") || path == own_path {
        return Err(format!(
            "url must be a path under {dir}, other than the batch's own, not {:?}",
            item.url
        ));
    }
    let mut request = Request::builder().method(method).uri(&item.url);
    for (name, value) in &item.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("bad header name {name:?}"))?;
        let value =
            HeaderValue::from_str(value).map_err(|_| format!("bad value for header {name}"))?;
        request = request.header(name, value);
    }
    request
        .body(Body::from(item.body.unwrap_or_default()))
        .map_err(|e| e.to_string())
}
