//! What every module shares: the server's state and the API's limits. A leaf: it imports no
//! other module of this crate but the hooks' data, so nothing imports in a circle.

use std::path::PathBuf;

use axum::http::{HeaderName, HeaderValue};
use offline_sync_server::{PgStore, SqliteStore};

use crate::hooks;

/// Largest request body the API reads.
pub const MAX_BODY: usize = 1 << 20;

pub fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// Where the collections and the idempotency keys live.
#[derive(Clone)]
pub enum Database {
    /// One SQLite connection: SQLite serializes writers anyway, and the contract's layer holds
    /// it from the key check to the commit, so concurrent retries of one key are safe.
    Sqlite(SqliteStore),
    /// A pool on PostgreSQL, which several instances may share.
    Postgres(PgStore),
}

pub struct App {
    pub db: Database,
    pub hooks: hooks::TestHooks,
    /// `/_test/` is served, and every API request logged for it (`--test-hooks`).
    pub test_hooks: bool,
    /// Origins besides the server's own that may mutate and read (`--allow-origin`).
    pub allowed_origins: Vec<String>,
    pub static_dirs: Vec<PathBuf>,
    /// Added to every static-file response (`--header`).
    pub static_headers: Vec<(HeaderName, HeaderValue)>,
}
