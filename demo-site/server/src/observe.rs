//! The middleware around every `/api/` request: logs it for `/_test/log`, applies injected
//! faults, and adds CORS headers for the origins allowed with `--allow-origin` (a dev server
//! on another port), and for no other.

use std::sync::Arc;

use axum::Extension;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use offline_sync_server::REPLAYED_HEADER;

use crate::error::ApiError;
use crate::hooks::{Fault, LogEntry, Outcome};
use crate::state::{App, MAX_BODY, is_api};
use crate::switch::DropSwitch;

fn is_mutating(method: &Method) -> bool {
    [Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(method)
}

pub async fn observe(
    State(app): State<Arc<App>>,
    Extension(switch): Extension<DropSwitch>,
    request: Request,
    next: Next,
) -> Response {
    if !is_api(request.uri().path()) {
        return next.run(request).await;
    }
    let seq = app.hooks.arrive();
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, MAX_BODY).await.ok();
    let entry = entry(
        seq,
        &parts,
        body.as_deref()
            .filter(|_| app.test_hooks)
            .map(|b| BASE64.encode(b))
            .unwrap_or_default(),
    );
    let _in_flight = is_mutating(&parts.method).then(|| app.hooks.in_flight(parts.uri.path()));
    let delay = if is_mutating(&parts.method) {
        app.hooks.request_delay()
    } else {
        0
    };
    if delay > 0 {
        // A slow network: the request is held before it is applied. A client that gives up
        // meanwhile (its connection closes) cancels it, as with a real server.
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let cors_origin = parts
        .headers
        .get(header::ORIGIN)
        .filter(|origin| {
            app.allowed_origins
                .iter()
                .any(|allowed| allowed.as_bytes() == origin.as_bytes())
        })
        .cloned();
    let fault = match body {
        Some(_) if is_mutating(&parts.method) => {
            let authorization = parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            app.hooks.take_fault(authorization)
        }
        _ => None,
    };

    let mut response = match (body, fault) {
        (None, _) => ApiError::TooLarge.into_response(),
        (Some(_), Some(Fault::Unauthorized)) => ApiError::Unauthorized.into_response(),
        (Some(_), Some(Fault::Unavailable { retry_after })) => {
            let mut response = ApiError::Unavailable.into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after.into());
            response
        }
        (Some(_), _) if parts.method == Method::OPTIONS && cors_origin.is_some() => {
            preflight(&parts.headers)
        }
        (Some(body), _) => next.run(Request::from_parts(parts, Body::from(body))).await,
    };
    if let Some(origin) = cors_origin {
        add_cors(origin, response.headers_mut());
    }

    let status = response.status();
    let outcome = if fault == Some(Fault::DropAfterApply) {
        Outcome::Dropped
    } else if response.headers().contains_key(REPLAYED_HEADER) {
        Outcome::Replayed
    } else if status.is_success() {
        Outcome::Applied
    } else {
        Outcome::Rejected
    };
    if app.test_hooks {
        app.hooks.record(LogEntry {
            outcome,
            status: status.as_u16(),
            ..entry
        });
    }

    if outcome == Outcome::Dropped {
        // The change is committed; now lose the answer. Cutting makes the connection task
        // drop the whole connection (this future included) before anything is written.
        switch.cut();
        std::future::pending::<()>().await;
    }
    response
}

/// The log entry for a request, before its outcome is known.
fn entry(seq: u64, parts: &request::Parts, body_base64: String) -> LogEntry {
    let mut headers = std::collections::BTreeMap::<String, String>::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    LogEntry {
        seq,
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        idempotency_key: headers.get("idempotency-key").cloned(),
        headers,
        body_base64,
        outcome: Outcome::Applied,
        status: 0,
    }
}

/// Answers a CORS preflight from an allowed origin: it may send the API's methods and headers.
fn preflight(request_headers: &HeaderMap) -> Response {
    let allowed = request_headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or(HeaderValue::from_static(
            "content-type, idempotency-key, if-match",
        ));
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allowed);
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

fn add_cors(origin: HeaderValue, headers: &mut HeaderMap) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("idempotent-replayed, retry-after, etag"),
    );
}
