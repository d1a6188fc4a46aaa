//! Errors as values: why the server could not start, and what an API call answers when it fails.

use std::{fmt, io};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::idempotency::Answer;

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    /// The command line could not be understood.
    Usage(String),
    /// The database could not be opened or its schema created.
    Database(rusqlite::Error),
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

/// A failed API call; every variant becomes a JSON `{"error": ...}` answer.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    NotFound,
    MethodNotAllowed,
    Duplicate(String),
    KeyReused,
    TooLarge,
    Unavailable,
    Unauthorized,
    Database(rusqlite::Error),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Duplicate(_) => StatusCode::CONFLICT,
            Self::KeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self) -> String {
        match self {
            Self::BadRequest(why) => why.clone(),
            Self::NotFound => "not found".into(),
            Self::MethodNotAllowed => "method not allowed".into(),
            Self::Duplicate(id) => format!("a task with id {id:?} already exists"),
            Self::KeyReused => "Idempotency-Key reused with a different request".into(),
            Self::TooLarge => "request body too large".into(),
            Self::Unavailable => "service unavailable (injected fault)".into(),
            Self::Unauthorized => "credentials missing or refused (injected fault)".into(),
            Self::Database(e) => format!("database error: {e}"),
        }
    }

    /// The answer as it is sent, and as it is stored under an Idempotency-Key.
    pub fn answer(&self) -> Answer {
        Answer::json(
            self.status(),
            &serde_json::json!({ "error": self.message() }),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.answer().into_response(false)
    }
}
