//! The `/_test/` routes, mounted only with `--test-hooks`: read the log, set faults, reset.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::error::ApiError;
use crate::hooks::{Faults, LogEntry, Overlap};
use crate::rows::{Backend, DbError, Rows};
use crate::schema;
use crate::state::{App, Database};

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/_test/log", get(log))
        .route("/_test/reset", post(reset))
        .route("/_test/faults", get(faults).post(set_faults))
        .route("/_test/overlap", get(overlap))
}

async fn overlap(State(app): State<Arc<App>>) -> Json<Overlap> {
    Json(app.hooks.overlap())
}

async fn log(State(app): State<Arc<App>>) -> Json<Vec<LogEntry>> {
    Json(app.hooks.log())
}

async fn reset(State(app): State<Arc<App>>) -> Response {
    let reset = match &app.db {
        Database::Sqlite(store) => reset_on(store).await,
        Database::Postgres(store) => reset_on(store).await,
    };
    if let Err(e) = reset {
        return ApiError::Database(e).into_response();
    }
    app.hooks.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn reset_on<B: Backend>(store: &B) -> Result<(), DbError> {
    let mut reader = store.reader().await?;
    B::reader_rows(&mut reader)
        .batch(&format!("BEGIN; {} COMMIT;", schema::RESET))
        .await
}

async fn faults(State(app): State<Arc<App>>) -> Json<Faults> {
    Json(app.hooks.faults())
}

async fn set_faults(State(app): State<Arc<App>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(faults) => {
            app.hooks.set_faults(faults.clone());
            Json(faults).into_response()
        }
        Err(e) => ApiError::BadRequest(format!("invalid faults: {e}")).into_response(),
    }
}
