//! The server side of offline-sync's contract, for axum apps.
//!
//! offline-sync's worker delivers each mutation exactly once by sending it with an
//! `Idempotency-Key` until an answer comes back. That holds only if the server keeps the first
//! answer to each key and sends it again instead of applying the request twice. This crate
//! does that as a layer around the app's own routes:
//!
//! ```no_run
//! use axum::{Router, routing::post};
//! use offline_sync_server::{OfflineSync, SqliteStore, Tx, SqliteConn};
//!
//! async fn create(tx: Tx<SqliteConn>, body: String) -> (axum::http::StatusCode, String) {
//!     // Written inside the transaction that also stores this answer under the key.
//!     let _ = tx.execute("INSERT INTO notes (body) VALUES (?1)", [&body]);
//!     (axum::http::StatusCode::CREATED, body)
//! }
//!
//! # fn app() -> rusqlite::Result<Router> {
//! let store = SqliteStore::open(None)?;
//! let contract = OfflineSync::new(store);
//! let api = Router::new().route("/api/notes", post(create)).layer(contract.clone());
//! Ok(api.clone().route("/api/_batch", contract.batch(api)))
//! # }
//! ```
//!
//! What the layer does with a mutation (POST, PUT, PATCH, DELETE), in order:
//! - 403 when it comes from another site, 415 when a JSON route gets another content type;
//! - 400 for a key that is not printable ASCII or is over 255 characters (or missing, where
//!   required), 413 for a body over the limit;
//! - the stored answer again, with `Idempotent-Replayed: true`, for a key seen with the same
//!   method, path and body; 422 for a key seen with a different one; 409 with `Retry-After`
//!   while the first request with that key is still running;
//! - otherwise the handler, inside a transaction that stores its answer under the key. A 5xx
//!   answer rolls back and stores nothing, so a retry can still succeed; a database that cannot
//!   be reached gives 503 with `Retry-After`.

mod batch;
mod guard;
pub mod key;
mod layer;
#[cfg(feature = "postgres")]
pub mod postgres;
mod problem;
pub mod pull;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod store;
mod tx;

pub use guard::Guard;
pub use layer::{DEFAULT_MAX_BODY, OfflineSync, Protected};
#[cfg(feature = "postgres")]
pub use postgres::{PgConn, PgStore};
pub use problem::Problem;
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteConn, SqliteStore};
pub use store::{Answer, Begin, DEFAULT_KEY_TTL, REPLAYED_HEADER, Store, StoreError};
pub use tx::Tx;
