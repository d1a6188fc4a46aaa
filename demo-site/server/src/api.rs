//! `/api/tasks` handlers. Mutations go through [`Mutation`], which applies the
//! Idempotency-Key rules around the change.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Bytes, to_bytes};
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, put};
use rusqlite::Connection;

use crate::app::App;
use crate::error::ApiError;
use crate::idempotency::{Answer, Keyed};
use crate::store::Applied;
use crate::task;

/// Largest request body the API reads.
pub const MAX_BODY: usize = 1 << 20;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/tasks", json_405(get(list).post(create)))
        .route(
            "/api/tasks/{id}",
            json_405(put(replace).patch(update).delete(remove)),
        )
}

/// A wrong method on a known path still answers JSON, like every other API error.
fn json_405(methods: MethodRouter<Arc<App>>) -> MethodRouter<Arc<App>> {
    methods.fallback(async || ApiError::MethodNotAllowed)
}

/// Milliseconds since the Unix epoch; a clock before 1970 counts as 0.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn list(State(app): State<Arc<App>>) -> Response {
    match app.store().tasks() {
        Ok(tasks) => Answer::json(StatusCode::OK, &tasks).into_response(false),
        Err(e) => ApiError::Database(e).into_response(),
    }
}

async fn create(State(app): State<Arc<App>>, mutation: Mutation) -> Response {
    mutation.run(&app, |conn, body, now| {
        task::create(conn, body, now).map(|t| Answer::json(StatusCode::CREATED, &t))
    })
}

async fn replace(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    mutation: Mutation,
) -> Response {
    mutation.run(&app, |conn, body, now| {
        task::replace(conn, &id, body, now).map(|t| Answer::json(StatusCode::OK, &t))
    })
}

async fn update(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    mutation: Mutation,
) -> Response {
    mutation.run(&app, |conn, body, now| {
        task::update(conn, &id, body, now).map(|t| Answer::json(StatusCode::OK, &t))
    })
}

async fn remove(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    mutation: Mutation,
) -> Response {
    mutation.run(&app, |conn, _, _| {
        task::delete(conn, &id).map(|()| Answer::empty(StatusCode::NO_CONTENT))
    })
}

/// A mutating request: its exact body bytes and, when it has an Idempotency-Key, what the
/// key must match on a retry.
pub struct Mutation {
    keyed: Option<Keyed>,
    body: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for Mutation {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let body = to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| ApiError::TooLarge)?;
        let key = match parts.headers.get("idempotency-key") {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .map_err(|_| ApiError::BadRequest("Idempotency-Key must be ASCII".into()))?
                    .to_owned(),
            ),
        };
        let keyed = key.map(|key| Keyed::new(key, parts.method.as_str(), parts.uri.path(), &body));
        Ok(Self { keyed, body })
    }
}

impl Mutation {
    /// Applies `change` unless the key says it was applied already. Client errors (400, 404,
    /// 409) are answers like any other and are stored under the key; a database error rolls
    /// back and stores nothing, so a retry can still succeed.
    fn run(
        self,
        app: &App,
        change: impl FnOnce(&Connection, &[u8], i64) -> Result<Answer, ApiError>,
    ) -> Response {
        let now = now_ms();
        let applied = app.store().apply(self.keyed.as_ref(), now, |conn| {
            match change(conn, &self.body, now) {
                Ok(answer) => Ok(answer),
                Err(ApiError::Database(e)) => Err(e),
                Err(other) => Ok(other.answer()),
            }
        });
        match applied {
            Ok(Applied::Fresh(answer)) => answer.into_response(false),
            Ok(Applied::Replayed(answer)) => answer.into_response(true),
            Ok(Applied::KeyReused) => ApiError::KeyReused.into_response(),
            Err(e) => ApiError::Database(e).into_response(),
        }
    }
}
