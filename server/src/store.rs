//! What the layer needs from a database: open a transaction for one mutation, having checked
//! its key, and commit the app's write together with the key's answer.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::key::Keyed;

/// How long a key is remembered unless the store is told otherwise: longer than the worker
/// keeps an entry (24 h), so a retry of anything it still holds finds its key.
pub const DEFAULT_KEY_TTL: Duration = Duration::from_secs(48 * 3600);

/// Header added to a stored answer that is sent again.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Headers that describe one transfer, not the answer, and are not stored.
const NOT_STORED: [&str; 4] = ["content-length", "date", "transfer-encoding", "connection"];

/// An answer as it is stored: replaying it gives back the same status, headers and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn new(status: StatusCode, headers: &HeaderMap, body: Vec<u8>) -> Self {
        let headers = headers
            .iter()
            .filter(|(name, _)| !NOT_STORED.contains(&name.as_str()))
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        Self {
            status: status.as_u16(),
            headers,
            body,
        }
    }

    /// The headers as JSON text, `[["content-type","application/json"],…]`, for a text column.
    pub fn headers_json(&self) -> String {
        serde_json::to_string(&self.headers).unwrap_or_else(|_| "[]".into())
    }

    /// Reads headers stored by [`Answer::headers_json`].
    pub fn parse_headers(text: &str) -> Result<Vec<(String, String)>, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("stored headers: {e}")))
    }

    /// The answer as sent again, marked `Idempotent-Replayed: true`.
    pub fn replay(&self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, self.body.clone()).into_response();
        let headers = response.headers_mut();
        headers.clear();
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
        response
    }
}

/// The key table, in the SQL both stores speak; `bytes` and `big` name the column types for a
/// byte string and a 64-bit integer.
pub(crate) fn key_table(bytes: &str, big: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS offline_sync_keys (
            key TEXT PRIMARY KEY,
            method TEXT NOT NULL,
            path TEXT NOT NULL,
            body_sha256 TEXT NOT NULL,
            status INTEGER NOT NULL,
            headers TEXT NOT NULL,
            body {bytes} NOT NULL,
            created_at {big} NOT NULL
        );
        CREATE INDEX IF NOT EXISTS offline_sync_keys_created_at ON offline_sync_keys (created_at);"
    )
}

/// What the store found for a key.
pub enum Begin<C> {
    /// New (or unkeyed): the open transaction, for the handler and then for the answer.
    Fresh(C),
    /// Seen with this same request: its first answer, nothing changed.
    Replay(Answer),
    /// Seen with a different request.
    Mismatch,
    /// The first request with this key is still being processed.
    InFlight,
}

/// A database failure; the layer answers 503 with `Retry-After`, and nothing is applied.
#[derive(Debug)]
pub enum StoreError {
    /// The database could not be reached or did not answer.
    Unavailable(String),
    /// A stored row could not be read back.
    Corrupt(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(why) => write!(f, "database unavailable: {why}"),
            Self::Corrupt(why) => write!(f, "database holds an unreadable row: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// A database that keeps idempotency keys next to the app's own data.
///
/// `Conn` is what a handler writes through (see [`crate::Tx`]): a connection with a
/// transaction open, which [`Store::commit`] or [`Store::rollback`] ends. A `Conn` dropped
/// without either (the client went away mid-request) must roll back.
pub trait Store: Clone + Send + Sync + 'static {
    type Conn: Send + 'static;

    /// Opens the transaction and, for a keyed request, decides from its key row what to do.
    /// `now_ms` is milliseconds since the Unix epoch.
    fn begin(
        &self,
        keyed: Option<&Keyed>,
        now_ms: i64,
    ) -> impl Future<Output = Result<Begin<Self::Conn>, StoreError>> + Send;

    /// Stores `answer` under the key (when there is one) and commits it with the app's write.
    fn commit(
        &self,
        conn: Self::Conn,
        keyed: Option<&Keyed>,
        answer: &Answer,
        now_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Undoes the app's write and stores nothing (a 5xx: a retry may still succeed).
    fn rollback(&self, conn: Self::Conn) -> impl Future<Output = ()> + Send;
}
