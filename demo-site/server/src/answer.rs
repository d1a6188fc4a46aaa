//! The API's answers: JSON, and tagged with the record's version when they carry one.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// The `ETag` header, already quoted (`"3"`), for answers that carry a record.
    pub etag: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(status: StatusCode, value: &impl Serialize) -> Self {
        // Serializing our own plain structs cannot fail; fall back to `null` rather than panic.
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
        Self {
            status,
            etag: None,
            body,
        }
    }

    /// Tags the answer with a record version, as `ETag: "<version>"`.
    pub fn with_etag(self, version: i64) -> Self {
        Self {
            etag: Some(format!("\"{version}\"")),
            ..self
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(value) = self.etag.and_then(|t| HeaderValue::from_str(&t).ok()) {
            headers.insert(header::ETAG, value);
        }
        response
    }
}
