//! Errors as values: why the server could not start, and what an API call answers when it fails.

use std::{fmt, io};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::answer::Answer;
use crate::rows::DbError;

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    /// The command line could not be understood.
    Usage(String),
    /// The database could not be opened or its schema created.
    Database(String),
    /// The listening socket could not be bound.
    Bind(io::Error),
    /// The `listening on` line could not be written.
    Announce(io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) => write!(f, "{message}"),
            Self::Database(e) => write!(f, "cannot open database: {e}"),
            Self::Bind(e) => write!(f, "cannot listen: {e}"),
            Self::Announce(e) => write!(f, "cannot print the address: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// The server's copy of a record, sent back with a conflict so the client can resolve it.
#[derive(Debug)]
pub struct Current {
    pub record: serde_json::Value,
    pub version: i64,
}

/// A failed API call; every variant becomes a JSON `{"error": ...}` answer, with the
/// server's `current` record when there is one.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    NotFound,
    /// The record is a tombstone: as good as missing for writes.
    Deleted {
        noun: &'static str,
        id: String,
        current: Current,
    },
    MethodNotAllowed,
    /// A create with an id already taken.
    Duplicate {
        noun: &'static str,
        id: String,
        current: Current,
    },
    /// `If-Match` named another version than the current one.
    VersionConflict(Current),
    TooLarge,
    Unavailable,
    Unauthorized,
    Database(DbError),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound | Self::Deleted { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Duplicate { .. } | Self::VersionConflict(_) => StatusCode::CONFLICT,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Database(DbError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self) -> String {
        match self {
            Self::BadRequest(why) => why.clone(),
            Self::NotFound => "not found".into(),
            Self::Deleted { noun, id, .. } => format!("the {noun} with id {id:?} was deleted"),
            Self::MethodNotAllowed => "method not allowed".into(),
            Self::Duplicate { noun, id, .. } => format!("a {noun} with id {id:?} already exists"),
            Self::VersionConflict(_) => "version conflict".into(),
            Self::TooLarge => "request body too large".into(),
            Self::Unavailable => "service unavailable (injected fault)".into(),
            Self::Unauthorized => "credentials missing or refused (injected fault)".into(),
            Self::Database(e) => e.to_string(),
        }
    }

    fn current(&self) -> Option<&Current> {
        match self {
            Self::Deleted { current, .. }
            | Self::Duplicate { current, .. }
            | Self::VersionConflict(current) => Some(current),
            _ => None,
        }
    }

    /// The answer as it is sent, and as it is stored under an Idempotency-Key. A 409 also
    /// carries the current record's ETag, ready for a retry with `If-Match`.
    pub fn answer(&self) -> Answer {
        let mut body = serde_json::Map::new();
        body.insert("error".into(), self.message().into());
        if let Some(current) = self.current() {
            body.insert("current".into(), current.record.clone());
        }
        let answer = Answer::json(self.status(), &body);
        match self.current() {
            Some(current) if self.status() == StatusCode::CONFLICT => {
                answer.with_etag(current.version)
            }
            _ => answer,
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        Self::Database(e)
    }
}

impl IntoResponse for ApiError {
    /// A database that went away also says when to try again.
    fn into_response(self) -> Response {
        let unavailable = matches!(self, Self::Database(DbError::Unavailable(_)));
        let mut response = self.answer().into_response();
        if unavailable {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, 1.into());
        }
        response
    }
}
