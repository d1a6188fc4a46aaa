//! The route table: the API under offline-sync-server's layer, its batch endpoint, the test
//! hooks when asked for, the static files, and the observing middleware around them all.

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use offline_sync_server::OfflineSync;

use crate::rows::Backend;
use crate::state::{App, Database, MAX_BODY};
use crate::{api, observe, static_files, test_routes};

pub fn router(app: Arc<App>) -> Router {
    let routes = match &app.db {
        Database::Sqlite(store) => api_on(store.clone(), &app),
        Database::Postgres(store) => api_on(store.clone(), &app),
    };
    // Off, `/_test/` falls through to the static files, which refuse it: no page can reset the
    // data or switch faults on.
    let routes = if app.test_hooks {
        routes.merge(test_routes::routes().with_state(app.clone()))
    } else {
        routes
    };
    routes
        .merge(
            Router::new()
                .fallback(static_files::serve)
                .with_state(app.clone()),
        )
        .layer(from_fn_with_state(app, observe::observe))
}

/// The API on `store` under the contract's layer, and its batch endpoint beside it.
fn api_on<B: Backend>(store: B, app: &App) -> Router {
    let contract = app.allowed_origins.iter().fold(
        OfflineSync::new(store.clone()).max_body(MAX_BODY),
        |c, origin| c.allow_origin(origin.clone()),
    );
    let api = api::routes::<B>().with_state(store).layer(contract.clone());
    api.clone().route("/api/_batch", contract.batch(api))
}
