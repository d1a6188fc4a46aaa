//! `/api/{collection}` handlers for each synced collection (tasks, projects). Mutations run
//! under offline-sync-server's layer, which keeps the Idempotency-Key rules: each handler
//! writes through the [`Tx`] that also stores its answer.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Bytes, to_bytes};
use axum::extract::{FromRequest, Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, put};
use offline_sync_server::Tx;
use offline_sync_server::pull::{self, Changes, IfMatch};

use crate::answer::Answer;
use crate::error::ApiError;
use crate::project::Project;
use crate::record::{self, Change, Kind, Record};
use crate::rows::Backend;
use crate::state::MAX_BODY;
use crate::task::Task;

pub fn routes<B: Backend>() -> Router<B> {
    collection::<Task, B>().merge(collection::<Project, B>())
}

fn collection<K: Kind, B: Backend>() -> Router<B> {
    let base = format!("/api/{}", K::TABLE);
    Router::new()
        .route(&base, json_405(get(list::<K, B>).post(create::<K, B>)))
        .route(
            &format!("{base}/{{id}}"),
            json_405(
                put(replace::<K, B>)
                    .patch(update::<K, B>)
                    .delete(remove::<K, B>),
            ),
        )
}

/// A wrong method on a known path still answers JSON, like every other API error.
fn json_405<B: Backend>(methods: MethodRouter<B>) -> MethodRouter<B> {
    methods.fallback(async || ApiError::MethodNotAllowed)
}

/// Milliseconds since the Unix epoch; a clock before 1970 counts as 0.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn respond(answer: Result<Answer, ApiError>) -> Response {
    match answer {
        Ok(answer) => answer.into_response(),
        Err(e) => e.into_response(),
    }
}

/// Without `since`/`limit`: the live records, as a JSON array. With them: one page of
/// changes for pull sync.
async fn list<K: Kind, B: Backend>(State(store): State<B>, RawQuery(query): RawQuery) -> Response {
    let pull = match pull::parse(query.as_deref()) {
        Ok(pull) => pull,
        Err(problem) => return ApiError::BadRequest(problem.detail).into_response(),
    };
    let mut reader = match store.reader().await {
        Ok(reader) => reader,
        Err(e) => return ApiError::Database(e).into_response(),
    };
    let mut rows = B::reader_rows(&mut reader);
    let answer = match pull {
        None => record::list::<K>(&mut rows)
            .await
            .map(|records| Answer::json(StatusCode::OK, &records)),
        Some(pull) => record::changes::<K>(&mut rows, pull.since, pull.limit)
            .await
            .map(|(changes, more)| {
                Answer::json(StatusCode::OK, &Changes::new(&pull, changes, more))
            }),
    };
    respond(answer.map_err(ApiError::Database))
}

/// A record answer: the record as JSON, tagged with its version.
fn answer<K: Kind>(status: StatusCode, record: &Record<K>) -> Answer {
    Answer::json(status, record).with_etag(record.version)
}

// Each writes through the request's transaction; client errors (400, 404, 409) are answers
// like any other and are kept under the key, while a database error is a 5xx, which rolls
// back and keeps nothing, so a retry can still succeed.

async fn create<K: Kind, B: Backend>(mut tx: Tx<B::Conn>, mutation: Mutation) -> Response {
    let change = mutation.change();
    let created = record::create::<K>(&mut B::rows(&mut tx), &change).await;
    respond(created.map(|r| answer(StatusCode::CREATED, &r)))
}

async fn replace<K: Kind, B: Backend>(
    mut tx: Tx<B::Conn>,
    Path(id): Path<String>,
    mutation: Mutation,
) -> Response {
    let change = mutation.change();
    respond(
        record::replace::<K>(&mut B::rows(&mut tx), &id, &change)
            .await
            .map(|r| answer(StatusCode::OK, &r)),
    )
}

async fn update<K: Kind, B: Backend>(
    mut tx: Tx<B::Conn>,
    Path(id): Path<String>,
    mutation: Mutation,
) -> Response {
    let change = mutation.change();
    respond(
        record::patch::<K>(&mut B::rows(&mut tx), &id, &change)
            .await
            .map(|r| answer(StatusCode::OK, &r)),
    )
}

/// A soft delete: answers the tombstone.
async fn remove<K: Kind, B: Backend>(
    mut tx: Tx<B::Conn>,
    Path(id): Path<String>,
    mutation: Mutation,
) -> Response {
    let change = mutation.change();
    respond(
        record::delete::<K>(&mut B::rows(&mut tx), &id, &change)
            .await
            .map(|r| answer(StatusCode::OK, &r)),
    )
}

/// A mutating request: its exact body bytes and its `If-Match` precondition.
pub struct Mutation {
    if_match: Option<IfMatch>,
    body: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for Mutation {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let body = to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| ApiError::TooLarge)?;
        let if_match = IfMatch::from_headers(&parts.headers)
            .map_err(|problem| ApiError::BadRequest(problem.detail))?;
        Ok(Self { if_match, body })
    }
}

impl Mutation {
    fn change(&self) -> Change<'_> {
        Change {
            body: &self.body,
            now: now_ms(),
            if_match: self.if_match.as_ref(),
        }
    }
}
