//! Shared state and the route table.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::from_fn_with_state;

use crate::store::Store;
use crate::{api, hooks, observe, static_files};

pub struct App {
    /// One connection behind a lock: SQLite serializes writers anyway, and holding the lock
    /// across check-key / apply / record makes concurrent retries of one key safe.
    store: Mutex<Store>,
    pub hooks: hooks::TestHooks,
    /// `/_test/` is served, and every API request logged for it (`--test-hooks`).
    pub test_hooks: bool,
    pub static_dirs: Vec<PathBuf>,
    /// Added to every static-file response (`--header`).
    pub static_headers: Vec<(HeaderName, HeaderValue)>,
}

impl App {
    pub fn new(
        store: Store,
        static_dirs: Vec<PathBuf>,
        static_headers: Vec<(HeaderName, HeaderValue)>,
        test_hooks: bool,
    ) -> Self {
        Self {
            store: Mutex::new(store),
            hooks: hooks::TestHooks::default(),
            test_hooks,
            static_dirs,
            static_headers,
        }
    }

    /// The store; a panic elsewhere while holding it leaves SQLite consistent (uncommitted
    /// transactions roll back), so a poisoned lock is still usable.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub fn router(app: Arc<App>) -> Router {
    let routes = api::routes_with_batch();
    // Off, `/_test/` falls through to the static files, which refuse it: no page can reset the
    // data or switch faults on.
    let routes = if app.test_hooks { routes.merge(hooks::routes()) } else { routes };
    routes
        .fallback(static_files::serve)
        .layer(from_fn_with_state(app.clone(), observe::observe))
        .with_state(app)
}
