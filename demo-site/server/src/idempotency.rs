//! Idempotency-Key bookkeeping: the first answer to a keyed request is stored so that a retry
//! (after a lost response) gets that same answer instead of applying the change twice.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Header added to a stored answer that is sent again.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// An HTTP answer in the form it is stored: replaying it must give back the same bytes.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    /// The `ETag` header, already quoted (`"3"`), for answers that carry a record.
    pub etag: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(status: StatusCode, value: &impl Serialize) -> Self {
        // Serializing our own plain structs cannot fail; fall back to `null` rather than panic.
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
        Self {
            status: status.as_u16(),
            content_type: Some("application/json".into()),
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

    pub fn into_response(self, replayed: bool) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, self.body).into_response();
        let headers = response.headers_mut();
        headers.remove(header::CONTENT_TYPE);
        if let Some(value) = self
            .content_type
            .and_then(|t| HeaderValue::from_str(&t).ok())
        {
            headers.insert(header::CONTENT_TYPE, value);
        }
        if let Some(value) = self.etag.and_then(|t| HeaderValue::from_str(&t).ok()) {
            headers.insert(header::ETAG, value);
        }
        if replayed {
            headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
        }
        response
    }
}

/// A request that carries an Idempotency-Key: the key may only come back with the same
/// method, path and body bytes.
#[derive(Debug)]
pub struct Keyed {
    pub key: String,
    method: String,
    path: String,
    body_sha256: String,
}

impl Keyed {
    pub fn new(key: String, method: &str, path: &str, body: &[u8]) -> Self {
        let body_sha256 = Sha256::digest(body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self {
            key,
            method: method.into(),
            path: path.into(),
            body_sha256,
        }
    }
}

/// What the store knows about a key.
pub enum Prior {
    Unseen,
    Same(Answer),
    Different,
}

pub fn find(conn: &Connection, request: &Keyed) -> rusqlite::Result<Prior> {
    let row = conn
        .query_row(
            "SELECT method, path, body_sha256, status, content_type, response, etag
             FROM idempotency WHERE key = ?1",
            [&request.key],
            |r| {
                let same = r.get::<_, String>(0)? == request.method
                    && r.get::<_, String>(1)? == request.path
                    && r.get::<_, String>(2)? == request.body_sha256;
                let answer = Answer {
                    status: r.get(3)?,
                    content_type: r.get(4)?,
                    body: r.get(5)?,
                    etag: r.get(6)?,
                };
                Ok((same, answer))
            },
        )
        .optional()?;
    Ok(match row {
        None => Prior::Unseen,
        Some((true, answer)) => Prior::Same(answer),
        Some((false, _)) => Prior::Different,
    })
}

pub fn record(
    conn: &Connection,
    request: &Keyed,
    answer: &Answer,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO idempotency (key, method, path, body_sha256, status, content_type, response, created_at, etag)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            request.key,
            request.method,
            request.path,
            request.body_sha256,
            answer.status,
            answer.content_type,
            answer.body,
            now,
            answer.etag
        ],
    )?;
    Ok(())
}
