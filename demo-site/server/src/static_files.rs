//! Static files for the demo page (and the built worker): several roots, first match wins.
//! Hand-written to pin the content types the browser is strict about (module scripts,
//! `WebAssembly.instantiateStreaming`) and to mark everything `no-cache`, so a rebuilt
//! worker is always picked up. Every answer here also carries the `--header` headers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;

use crate::error::ApiError;
use crate::state::{App, is_api};

/// Router fallback: unknown API and test-hook paths get a JSON 404; the rest is looked up
/// in the static roots.
pub async fn serve(State(app): State<Arc<App>>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if is_api(path) || path.starts_with("/_test/") {
        return ApiError::NotFound.into_response();
    }
    let mut response = find(&app, &method, path).await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    for (name, value) in &app.static_headers {
        headers.append(name, value.clone());
    }
    response
}

async fn find(app: &App, method: &Method, path: &str) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let Some(relative) = relative_path(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    for root in &app.static_dirs {
        if let Some((bytes, file)) = read(&root.join(&relative)).await {
            let mut response = bytes.into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type(&file));
            return response;
        }
    }
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// The URL path as a relative file path, or `None` if it tries to leave the root.
fn relative_path(url_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode_str(url_path).decode_utf8().ok()?;
    let mut relative = PathBuf::new();
    for segment in decoded.split('/').filter(|s| !s.is_empty() && *s != ".") {
        if segment == ".." || segment.contains(['\\', '\0']) {
            return None;
        }
        relative.push(segment);
    }
    Some(relative)
}

/// Reads a file, or a directory's `index.html`; also says which file it was.
async fn read(path: &Path) -> Option<(Vec<u8>, PathBuf)> {
    let metadata = tokio::fs::metadata(path).await.ok()?;
    let file = if metadata.is_dir() {
        path.join("index.html")
    } else {
        path.to_path_buf()
    };
    let bytes = tokio::fs::read(&file).await.ok()?;
    Some((bytes, file))
}

fn content_type(file: &Path) -> HeaderValue {
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    HeaderValue::from_static(match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html",
        "js" | "mjs" => "text/javascript",
        "wasm" => "application/wasm",
        "css" => "text/css",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    })
}
