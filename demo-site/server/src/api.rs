//! `/api/{collection}` handlers for each synced collection (tasks, projects). Mutations go
//! through [`Mutation`], which applies the Idempotency-Key rules around the change.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Bytes, to_bytes};
use axum::extract::{FromRequest, Path, RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, put};
use rusqlite::Connection;

use crate::app::App;
use crate::error::ApiError;
use crate::idempotency::{Answer, Keyed};
use crate::project::Project;
use crate::record::{self, Change, IfMatch, Kind, Record};
use crate::store::Applied;
use crate::sync::{self, Changes};
use crate::task::Task;

/// Largest request body the API reads.
pub const MAX_BODY: usize = 1 << 20;

pub fn routes() -> Router<Arc<App>> {
    collection::<Task>().merge(collection::<Project>())
}

/// The API and its batch endpoint (which dispatches each item through `routes`).
pub fn routes_with_batch() -> Router<Arc<App>> {
    routes().route("/api/_batch", axum::routing::post(crate::batch::handle))
}

fn collection<K: Kind>() -> Router<Arc<App>> {
    let base = format!("/api/{}", K::TABLE);
    Router::new()
        .route(&base, json_405(get(list::<K>).post(create::<K>)))
        .route(
            &format!("{base}/{{id}}"),
            json_405(put(replace::<K>).patch(update::<K>).delete(remove::<K>)),
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

/// Without `since`/`limit`: the live records, as a JSON array. With them: one page of
/// changes for pull sync.
async fn list<K: Kind>(State(app): State<Arc<App>>, RawQuery(query): RawQuery) -> Response {
    let pull = match sync::parse(query.as_deref()) {
        Ok(pull) => pull,
        Err(e) => return e.into_response(),
    };
    let store = app.store();
    let answer = match pull {
        None => store
            .read(record::list::<K>)
            .map(|records| Answer::json(StatusCode::OK, &records)),
        Some(pull) => store
            .read(|conn| record::changes::<K>(conn, pull.since, pull.limit))
            .map(|(changes, more)| {
                Answer::json(StatusCode::OK, &Changes::new(&pull, changes, more))
            }),
    };
    match answer {
        Ok(answer) => answer.into_response(false),
        Err(e) => ApiError::Database(e).into_response(),
    }
}

/// A record answer: the record as JSON, tagged with its version.
fn answer<K: Kind>(status: StatusCode, record: &Record<K>) -> Answer {
    Answer::json(status, record).with_etag(record.version)
}

async fn create<K: Kind>(State(app): State<Arc<App>>, mutation: Mutation) -> Response {
    mutation.run(&app, |conn, change| {
        record::create::<K>(conn, change).map(|r| answer(StatusCode::CREATED, &r))
    })
}

async fn replace<K: Kind>(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    mutation: Mutation,
) -> Response {
    mutation.run(&app, |conn, change| {
        record::replace::<K>(conn, &id, change).map(|r| answer(StatusCode::OK, &r))
    })
}

async fn update<K: Kind>(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    mutation: Mutation,
) -> Response {
    mutation.run(&app, |conn, change| {
        record::patch::<K>(conn, &id, change).map(|r| answer(StatusCode::OK, &r))
    })
}

/// A soft delete: answers the tombstone.
async fn remove<K: Kind>(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    mutation: Mutation,
) -> Response {
    mutation.run(&app, |conn, change| {
        record::delete::<K>(conn, &id, change).map(|r| answer(StatusCode::OK, &r))
    })
}

/// A mutating request: its exact body bytes, its `If-Match` precondition and, when it has an
/// Idempotency-Key, what the key must match on a retry.
pub struct Mutation {
    keyed: Option<Keyed>,
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
        let key = match parts.headers.get("idempotency-key") {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .map_err(|_| ApiError::BadRequest("Idempotency-Key must be ASCII".into()))?
                    .to_owned(),
            ),
        };
        let mut values = parts.headers.get_all(header::IF_MATCH).iter().peekable();
        let if_match = if values.peek().is_none() {
            None
        } else {
            let parsed = values
                .map(|v| v.to_str())
                .collect::<Result<Vec<_>, _>>()
                .ok()
                .and_then(IfMatch::parse);
            Some(parsed.ok_or_else(|| {
                ApiError::BadRequest(
                    "If-Match must be a version number, plain or quoted like \"3\"".into(),
                )
            })?)
        };
        let keyed = key.map(|key| Keyed::new(key, parts.method.as_str(), parts.uri.path(), &body));
        Ok(Self {
            keyed,
            if_match,
            body,
        })
    }
}

impl Mutation {
    /// Applies `change` unless the key says it was applied already. Client errors (400, 404,
    /// 409) are answers like any other and are stored under the key; a database error rolls
    /// back and stores nothing, so a retry can still succeed.
    fn run(
        self,
        app: &App,
        change: impl FnOnce(&Connection, &Change<'_>) -> Result<Answer, ApiError>,
    ) -> Response {
        let now = now_ms();
        let input = Change {
            body: &self.body,
            now,
            if_match: self.if_match.as_ref(),
        };
        let applied = app.store().apply(self.keyed.as_ref(), now, |conn| {
            match change(conn, &input) {
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
